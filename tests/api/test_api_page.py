"""The owner's API page: tokens (shown once), revoke, webhook endpoints and their deliveries."""

import pytest
from django.urls import reverse

from api import tokens, webhooks
from api.models import ApiToken, WebhookDelivery, WebhookEndpoint
from tests.shop.factories import make_merchant

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(shop):
    return make_merchant(shop, "owner", role="owner")


@pytest.fixture
def agent(shop):
    return make_merchant(shop, "agent", role="agent")


def test_the_owner_creates_a_token_shown_once(client, owner):
    client.force_login(owner)
    response = client.post(reverse("api:token-create"), {"name": "聚水潭", "scopes": "read,write"})
    assert response.status_code == 200
    token = ApiToken.objects.get()
    secret = response.context["new_secret"]["secret"]
    assert secret in response.content.decode() and tokens.hash_token(secret) == token.token_hash
    assert (token.name, token.scopes, token.created_by) == ("聚水潭", "read,write", owner)
    page = client.get(reverse("api:home")).content.decode()
    assert secret not in page and token.prefix in page and "聚水潭" in page


def test_the_owner_revokes_a_token(client, owner, shop):
    token, secret = tokens.create_api_token(shop=shop, name="旧ERP", scopes="read")
    client.force_login(owner)
    response = client.post(reverse("api:token-revoke", args=[token.pk]), follow=True)
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert client.get("/api/v1/statements", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_another_shops_token_cannot_be_revoked(client, owner, other_shop):
    token, _secret = tokens.create_api_token(shop=other_shop, name="别家", scopes="read")
    client.force_login(owner)
    assert client.post(reverse("api:token-revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_owner_adds_an_endpoint_and_sees_its_deliveries(client, owner, shop):
    client.force_login(owner)
    response = client.post(
        reverse("api:endpoint-create"), {"url": "https://erp.example.com/hooks", "events": ["after_sale.updated"]}
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in response.content.decode()
    WebhookDelivery.objects.create(
        endpoint=endpoint, change_id=1, event_id="evt_1", type="after_sale.updated", body=b"{}", last_status=500,
        attempts=2,
    )  # fmt: skip
    page = client.get(reverse("api:home")).content.decode()
    assert "evt_1" in page and "500" in page and endpoint.secret not in page


def test_an_endpoint_url_other_than_http_is_refused(client, owner):
    client.force_login(owner)
    response = client.post(
        reverse("api:endpoint-create"), {"url": "ftp://x.example.com/", "events": ["refund.created"]}
    )
    assert response.status_code == 200
    assert "Enter a valid URL." in response.content.decode()
    assert WebhookEndpoint.objects.count() == 0


def test_a_disabled_endpoint_is_announced_and_can_be_enabled(client, owner, shop):
    from django.utils import timezone

    endpoint = webhooks.create_endpoint(shop=shop, url="https://erp.example.com/h", events=["refund.created"])
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False, disabled_at=timezone.now())
    client.force_login(owner)
    page = client.get(reverse("api:home")).content.decode()
    assert f'id="endpoint-disabled-{endpoint.pk}"' in page
    client.post(reverse("api:endpoint-enable", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.disabled_at is None


def test_a_delivery_is_sent_again_from_the_page(client, owner, shop):
    endpoint = webhooks.create_endpoint(shop=shop, url="https://erp.example.com/h", events=["refund.created"])
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, change_id=1, event_id="evt_1", type="refund.created", body=b"{}", status="failed"
    )
    client.force_login(owner)
    client.post(reverse("api:delivery-resend", args=[delivery.pk]))
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.next_attempt_at is not None


def test_an_agent_gets_403_and_a_disabled_link(client, agent):
    client.force_login(agent)
    assert client.get(reverse("api:home")).status_code == 403
    assert client.post(reverse("api:token-create"), {"name": "x", "scopes": "read"}).status_code == 403
    assert ApiToken.objects.count() == 0
    page = client.get(reverse("aftersales:workbench")).content.decode()
    assert 'aria-disabled="true"' in page and reverse("api:home") not in page


def test_the_owner_sees_the_link_in_the_navigation(client, owner):
    client.force_login(owner)
    page = client.get(reverse("aftersales:workbench")).content.decode()
    assert f'href="{reverse("api:home")}"' in page


def test_the_page_is_in_chinese_by_default(client, owner):
    client.force_login(owner)
    page = client.get(reverse("api:home"), headers={"Accept-Language": "zh-CN"}).content.decode()
    assert "开放接口" in page
