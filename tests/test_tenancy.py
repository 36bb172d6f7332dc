"""Every URL of the merchant and outlet areas, walked as owner, other tenant, wrong role and anonymous.

The walk fails when a pattern has no case below, so a page added later is covered the day it lands.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.shop.factories import (
    make_courier,
    make_merchant,
    make_order,
    make_outlet,
    make_outlet_user,
    make_parcel,
    make_shop,
)

MERCHANT_NAMESPACES = {"shop", "aftersales", "interception", "settlement"}
OUTLET_NAMESPACES = {"outlet"}


@dataclass
class World:
    """Two shops and two outlets; `mine` objects belong to shop A / outlet A."""

    shop_a: object
    shop_b: object
    merchant_a: object
    merchant_b: object
    outlet_a: object
    outlet_b: object
    outlet_user_a: object
    outlet_user_b: object
    order_a: object
    parcel_a: object


@dataclass(frozen=True)
class Case:
    kwargs: Callable[[World], dict] = lambda world: {}
    # For list pages (no object in the URL): a text of tenant A's that tenant B must not see.
    secret: Callable[[World], str] | None = None
    # "post": a POST-only action; the own- and other-tenant walks POST (following the redirect), the others GET.
    method: str = "get"
    # Rows a list page shows (so that its secret is there to leak), created before each request.
    given: Callable[[World], object] | None = None


def _export_job_a(world: World):
    """A finished export of shop A (created on first use, so the world fixture stays as it is)."""
    from django.core.files.base import ContentFile

    from aftersales.models import ExportJob

    job, created = ExportJob.objects.get_or_create(
        shop=world.shop_a, user=world.merchant_a, format="xlsx", defaults={"status": "done"}
    )
    if created:
        job.file.save("tenancy.xlsx", ContentFile(b"xlsx"))
    return job


def _after_sale_a(world: World):
    """An open refund-only after-sale of shop A on its in-transit parcel (created on first use)."""
    from aftersales.models import AfterSale

    line = world.order_a.lines.get()
    after_sale, _created = AfterSale.objects.get_or_create(
        after_sale_no="AS-SECRET-A",
        defaults={
            "shop": world.shop_a,
            "order": world.order_a,
            "line": line,
            "buyer": world.order_a.buyer,
            "parcel": world.parcel_a,
            "type": "refund_only",
            "reason": "not_received",
            "amount": line.paid_amount,
            "sequence": 1,
            "applied_at": world.order_a.paid_at,
        },
    )
    return after_sale


def _batch_a(world: World):
    from interception.models import InterceptionBatch

    batch, _created = InterceptionBatch.objects.get_or_create(shop=world.shop_a, via="bulk")
    return batch


def _evidence_a(world: World):
    """An evidence image of shop A's after-sale (created on first use)."""
    from django.core.files.base import ContentFile

    from aftersales.models import EvidenceImage

    after_sale = _after_sale_a(world)
    image = after_sale.evidence.first()
    if image is None:
        image = EvidenceImage(after_sale=after_sale, content_type="image/png", size=8)
        image.image.save("tenancy.png", ContentFile(b"\x89PNG\r\n\x1a\n"))
    return image


def _after_sale_no_a(world: World) -> dict:
    return {"after_sale_no": _after_sale_a(world).after_sale_no}


def _partnership_a(world: World):
    """Shop A's pending application to outlet A (created on first use)."""
    from interception.models import Partnership

    partnership, _created = Partnership.objects.get_or_create(
        shop=world.shop_a, outlet=world.outlet_a, defaults={"fee": "4.56", "outlet_note": "NOTE-SECRET-A"}
    )
    return partnership


def _partnership_pk_a(world: World) -> dict:
    return {"pk": _partnership_a(world).pk}


def _service_order_a(world: World):
    """A succeeded interception of shop A's parcel, sent from outlet A (created on first use)."""
    from interception.models import ServiceOrder

    service_order, _created = ServiceOrder.objects.get_or_create(
        parcel=world.parcel_a,
        defaults={
            "shop": world.shop_a,
            "after_sale": _after_sale_a(world),
            "courier": world.parcel_a.courier,
            "outlet": world.outlet_a,
            "mode": "online",
            "fee": "3.00",
            "via": "detail",
            "status": "succeeded",
        },
    )
    return service_order


def _claimable_service_order_a(world: World):
    """Shop A's succeeded interception, 10 days ago: inside its claim window, in the claim tracker."""
    from datetime import timedelta

    from django.utils import timezone

    service_order = _service_order_a(world)
    if service_order.succeeded_at is None:
        service_order.succeeded_at = timezone.now() - timedelta(days=10)
        service_order.save(update_fields=["succeeded_at"])
    return service_order


def _claim_a(world: World):
    """A submitted claim of shop A against outlet A, with one evidence image (created on first use)."""
    from django.core.files.base import ContentFile
    from django.utils import timezone

    from settlement.models import Claim, ClaimEvidence

    service_order = _claimable_service_order_a(world)
    claim, created = Claim.objects.get_or_create(
        service_order=service_order,
        defaults={
            "shop": world.shop_a,
            "outlet": world.outlet_a,
            "reason": "lost",
            "description": "CLAIM-SECRET-A",
            "goods_value": "100.00",
            "amount": "80.00",
            "filed_at": timezone.now(),
        },
    )
    if created:
        evidence = ClaimEvidence(claim=claim, content_type="image/png", size=8)
        evidence.image.save("tenancy.png", ContentFile(b"\x89PNG\r\n\x1a\n"))
    return claim


def _claim_pk_a(world: World) -> dict:
    return {"pk": _claim_a(world).pk}


def _claim_evidence_a(world: World) -> dict:
    claim = _claim_a(world)
    return {"pk": claim.pk, "evidence_pk": claim.evidence.get().pk}


def _statement_a(world: World):
    """Shop A's issued statement of last month with outlet A: one offline interception of 6.54 (on first use)."""
    from datetime import timedelta

    from django.utils import timezone

    from interception.models import FeeCharge, ServiceOrder
    from settlement.models import Statement, StatementLine
    from settlement.statements.rules import add_months, current_month, month_start

    statement = Statement.objects.filter(shop=world.shop_a, outlet=world.outlet_a).first()
    if statement is not None:
        return statement
    month = add_months(current_month(), -1)
    succeeded_at = month_start(month) + timedelta(days=3)
    parcel = make_parcel(world.order_a, outlet=world.outlet_a, tracking_no="YT-STMT-A")
    service_order = ServiceOrder.objects.create(
        shop=world.shop_a,
        after_sale=_after_sale_a(world),
        parcel=parcel,
        courier=parcel.courier,
        outlet=world.outlet_a,
        mode="offline",
        fee="6.54",
        via="detail",
        status="returned",
        succeeded_at=succeeded_at,
    )
    charge = FeeCharge.objects.create(
        shop=world.shop_a,
        service_order=service_order,
        courier=parcel.courier,
        outlet=world.outlet_a,
        mode="offline",
        amount="6.54",
        charged_at=succeeded_at,
    )
    statement = Statement.objects.create(
        shop=world.shop_a,
        outlet=world.outlet_a,
        month=month,
        status="issued",
        line_count=1,
        total="6.54",
        issued_at=timezone.now(),
    )
    StatementLine.objects.create(
        statement=statement,
        fee_charge=charge,
        service_order=service_order,
        tracking_no="YT-STMT-A",
        amount="6.54",
        succeeded_at=succeeded_at,
    )
    return statement


def _statement_pk_a(world: World) -> dict:
    return {"pk": _statement_a(world).pk}


def _reconciliation_pk_a(world: World) -> dict:
    """A reconciliation of shop A's statement against a bill (created on first use)."""
    from settlement.models import Reconciliation

    statement = _statement_a(world)
    record, _created = Reconciliation.objects.get_or_create(
        statement=statement, defaults={"uploaded_by": world.merchant_a, "file_name": "bill-a.csv"}
    )
    return {"pk": record.pk}


CASES: dict[str, Case] = {
    "shop:order-list": Case(secret=lambda w: w.order_a.order_no),
    "shop:order-detail": Case(kwargs=lambda w: {"order_no": w.order_a.order_no}),
    "aftersales:workbench": Case(given=_after_sale_a, secret=lambda w: "AS-SECRET-A"),
    "aftersales:metrics": Case(),
    "aftersales:bulk-flag": Case(method="post"),
    "aftersales:export-csv": Case(given=_after_sale_a, secret=lambda w: "AS-SECRET-A"),
    "aftersales:export-start": Case(method="post"),
    "aftersales:export-detail": Case(kwargs=lambda w: {"pk": _export_job_a(w).pk}),
    "aftersales:export-download": Case(kwargs=lambda w: {"pk": _export_job_a(w).pk}),
    "aftersales:after-sale-detail": Case(kwargs=_after_sale_no_a),
    "aftersales:evidence": Case(kwargs=lambda w: {**_after_sale_no_a(w), "pk": _evidence_a(w).pk}),
    "aftersales:agree-refund": Case(method="post", kwargs=_after_sale_no_a),
    "aftersales:agree-return": Case(method="post", kwargs=_after_sale_no_a),
    "aftersales:confirm-receipt": Case(method="post", kwargs=_after_sale_no_a),
    "aftersales:reject": Case(method="post", kwargs=_after_sale_no_a),
    "aftersales:small-payment": Case(method="post", kwargs=_after_sale_no_a),
    "aftersales:flag": Case(method="post", kwargs=_after_sale_no_a),
    "aftersales:send-card": Case(method="post", kwargs=_after_sale_no_a),
    "interception:home": Case(),
    "interception:intercept": Case(kwargs=lambda w: {"after_sale_no": _after_sale_a(w).after_sale_no}),
    "interception:im-card": Case(kwargs=lambda w: {"after_sale_no": _after_sale_a(w).after_sale_no}),
    "interception:launch": Case(method="post"),
    "interception:bulk-preview": Case(method="post"),
    "interception:paste": Case(),
    "interception:batch": Case(kwargs=lambda w: {"pk": _batch_a(w).pk}),
    "interception:batch-status": Case(kwargs=lambda w: {"pk": _batch_a(w).pk}),
    "interception:batch-retry": Case(method="post", kwargs=lambda w: {"pk": _batch_a(w).pk}),
    "interception:service-orders": Case(),
    "interception:service-orders-csv": Case(),
    "interception:service-orders-xlsx": Case(),
    "interception:assistant": Case(),
    "interception:partnerships": Case(given=_partnership_a, secret=lambda w: "NOTE-SECRET-A"),
    "interception:partnership-apply": Case(method="post"),
    "interception:partnership-detail": Case(kwargs=_partnership_pk_a),
    "interception:partnership-end": Case(method="post", kwargs=_partnership_pk_a),
    "settlement:home": Case(),
    "settlement:fees": Case(given=_statement_a, secret=lambda w: "6.54"),
    "settlement:statements": Case(given=_statement_a, secret=lambda w: "6.54"),
    "settlement:statements-refresh": Case(method="post"),
    "settlement:statement-detail": Case(kwargs=_statement_pk_a),
    "settlement:statement-csv": Case(kwargs=_statement_pk_a, secret=lambda w: "YT-STMT-A"),
    "settlement:statement-xlsx": Case(kwargs=_statement_pk_a),
    "settlement:statement-pay": Case(method="post", kwargs=_statement_pk_a),
    "settlement:statement-reissue": Case(method="post", kwargs=_statement_pk_a),
    "settlement:statement-reconcile": Case(method="post", kwargs=_statement_pk_a),
    "settlement:reconciliation-detail": Case(kwargs=_reconciliation_pk_a),
    "settlement:reconciliation-csv": Case(kwargs=_reconciliation_pk_a),
    "settlement:claims": Case(given=_claim_a, secret=lambda w: "YT-SECRET-A"),
    "settlement:claim-new": Case(kwargs=lambda w: {"service_order_pk": _claimable_service_order_a(w).pk}),
    "settlement:claim-detail": Case(kwargs=_claim_pk_a),
    "settlement:claim-compensate": Case(method="post", kwargs=_claim_pk_a),
    "settlement:claim-evidence": Case(kwargs=_claim_evidence_a),
    "settlement:claim-tracker": Case(given=_claimable_service_order_a, secret=lambda w: "YT-SECRET-A"),
    "outlet:portal": Case(secret=lambda w: w.outlet_a.code),
    "outlet:partnership-detail": Case(kwargs=_partnership_pk_a),
    "outlet:partnership-approve": Case(method="post", kwargs=_partnership_pk_a),
    "outlet:partnership-reject": Case(method="post", kwargs=_partnership_pk_a),
    "outlet:service-orders": Case(given=_service_order_a, secret=lambda w: w.parcel_a.tracking_no),
    "outlet:service-orders-csv": Case(),  # streamed; its isolation: tests/interception/test_outlet_portal.py
    "outlet:statements": Case(given=_statement_a, secret=lambda w: "6.54"),
    "outlet:statement-detail": Case(kwargs=_statement_pk_a),
    "outlet:statement-confirm": Case(method="post", kwargs=_statement_pk_a),
    "outlet:statement-dispute": Case(method="post", kwargs=_statement_pk_a),
    "outlet:statement-csv": Case(kwargs=_statement_pk_a),  # streamed; content: tests/settlement/test_statement_pages.py
    "outlet:statement-xlsx": Case(kwargs=_statement_pk_a),
    "outlet:claims": Case(given=_claim_a, secret=lambda w: "YT-SECRET-A"),
    "outlet:claim-detail": Case(kwargs=_claim_pk_a),
    "outlet:claim-accept": Case(method="post", kwargs=_claim_pk_a),
    "outlet:claim-dispute": Case(method="post", kwargs=_claim_pk_a),
    "outlet:claim-evidence": Case(kwargs=_claim_evidence_a),
}


def _walk(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield namespace, f"{namespace}:{pattern.name}" if namespace else pattern.name


def area_url_names(namespaces: set[str]) -> list[str]:
    return sorted(name for ns, name in _walk(get_resolver().url_patterns) if ns in namespaces)


MERCHANT_URLS = area_url_names(MERCHANT_NAMESPACES)
OUTLET_URLS = area_url_names(OUTLET_NAMESPACES)


@pytest.fixture
def world(db) -> World:
    shop_a, shop_b = make_shop("shop-a"), make_shop("shop-b")
    yto = make_courier("YTO")
    outlet_a, outlet_b = make_outlet(yto, code="YTO-SH-101"), make_outlet(yto, code="YTO-GZ-202")
    order_a = make_order(shop_a, order_no="O-SECRET-A")
    return World(
        shop_a=shop_a,
        shop_b=shop_b,
        merchant_a=make_merchant(shop_a),
        merchant_b=make_merchant(shop_b),
        outlet_a=outlet_a,
        outlet_b=outlet_b,
        outlet_user_a=make_outlet_user(outlet_a),
        outlet_user_b=make_outlet_user(outlet_b),
        order_a=order_a,
        parcel_a=make_parcel(order_a, outlet=outlet_a, tracking_no="YT-SECRET-A"),
    )


def test_every_merchant_and_outlet_url_has_a_tenancy_case():
    missing = sorted(set(MERCHANT_URLS + OUTLET_URLS) - set(CASES))
    assert missing == [], f"add a tenancy case for: {missing}"
    assert MERCHANT_URLS and OUTLET_URLS


def _url(name: str, world: World) -> str:
    if CASES[name].given:
        CASES[name].given(world)
    return reverse(name, kwargs=CASES[name].kwargs(world))


def _body(response) -> str:
    """The page's text, also for a streamed response (CSV exports)."""
    return (b"".join(response.streaming_content) if response.streaming else response.content).decode()


def _merchant_request(client, name: str, world: World):
    if CASES[name].method == "post":
        return client.post(_url(name, world), follow=True)
    return client.get(_url(name, world))


@pytest.mark.parametrize("name", MERCHANT_URLS + OUTLET_URLS)
def test_anonymous_visitor_is_sent_to_log_in(client, world, name):
    url = _url(name, world)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("name", MERCHANT_URLS)
def test_merchant_page_opens_for_its_own_shop(client, world, name):
    client.force_login(world.merchant_a)
    response = _merchant_request(client, name, world)
    assert response.status_code == 200
    secret = CASES[name].secret
    if secret:
        assert secret(world) in _body(response)


@pytest.mark.parametrize("name", MERCHANT_URLS)
def test_merchant_of_another_shop_gets_404_or_sees_nothing_of_it(client, world, name):
    client.force_login(world.merchant_b)
    response = _merchant_request(client, name, world)
    case = CASES[name]
    if case.kwargs(world):
        assert response.status_code == 404
    else:
        assert response.status_code == 200
        if case.secret:
            assert case.secret(world) not in _body(response)


@pytest.mark.parametrize("name", [name for name in MERCHANT_URLS if CASES.get(name, Case()).method == "post"])
def test_post_only_merchant_actions_refuse_get(client, world, name):
    client.force_login(world.merchant_a)
    assert client.get(_url(name, world)).status_code == 405


@pytest.mark.parametrize("name", MERCHANT_URLS)
def test_outlet_staff_cannot_open_merchant_pages(client, world, name):
    client.force_login(world.outlet_user_a)
    assert client.get(_url(name, world)).status_code == 403


@pytest.mark.parametrize("name", OUTLET_URLS)
def test_outlet_page_opens_for_its_own_outlet(client, world, name):
    client.force_login(world.outlet_user_a)
    response = _merchant_request(client, name, world)  # GET, or POST for a POST-only action
    assert response.status_code == 200
    secret = CASES[name].secret
    if secret:
        assert secret(world) in response.content.decode()


@pytest.mark.parametrize("name", OUTLET_URLS)
def test_staff_of_another_outlet_gets_404_or_sees_nothing_of_it(client, world, name):
    client.force_login(world.outlet_user_b)
    response = _merchant_request(client, name, world)  # GET, or POST for a POST-only action
    case = CASES[name]
    if case.kwargs(world):
        assert response.status_code == 404
    else:
        assert response.status_code == 200
        if case.secret:
            assert case.secret(world) not in response.content.decode()


@pytest.mark.parametrize("name", [name for name in OUTLET_URLS if CASES.get(name, Case()).method == "post"])
def test_post_only_outlet_actions_refuse_get(client, world, name):
    client.force_login(world.outlet_user_a)
    assert client.get(_url(name, world)).status_code == 405


@pytest.mark.parametrize("name", OUTLET_URLS)
def test_merchants_cannot_open_the_outlet_portal(client, world, name):
    client.force_login(world.merchant_a)
    assert client.get(_url(name, world)).status_code == 403
