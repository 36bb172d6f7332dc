"""Schemathesis against the generated OpenAPI document, with a real write token: no 5xx, and every
answer matches the document. Bounded: SCHEMATHESIS_EXAMPLES examples per operation (default 20, a
few hundred requests in all), part of every run of the suite (make test, .ci/run on both databases).
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

from config.wsgi import application

pytestmark = pytest.mark.django_db(transaction=True)

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "20"))


@pytest.fixture
def secret():
    from api import tokens
    from tests.aftersales.factories import make_after_sale
    from tests.shop.factories import make_order, make_parcel, make_shop

    shop = make_shop("demo-shop")
    order = make_order(shop, order_no="O-1001", status="shipped")
    make_after_sale(order, after_sale_no="AS-5001", parcel=make_parcel(order, tracking_no="YT1234567890"))
    return tokens.create_api_token(shop=shop, name="fuzz", scopes="read,write")[1]


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_the_api_never_fails_and_answers_as_documented(case, secret, settings_no_rate_limit):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {secret}"},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
        excluded_checks=[negative_data_rejection],
    )


@pytest.fixture
def settings_no_rate_limit(settings):
    settings.API_RATE_LIMIT_BURST = 1_000_000
