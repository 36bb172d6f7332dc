"""Every row of the contract's error table, and which answer wins when several apply."""

import pytest
from django.core.management import call_command

from api import ratelimit
from api.models import ApiToken
from tests.api.conftest import ApiClient, error_of
from tests.shop.factories import make_merchant

pytestmark = pytest.mark.django_db


def test_no_token_is_401_unauthenticated(anonymous_api):
    response = anonymous_api.get("/statements")
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthenticated"


def test_an_unknown_token_is_401(client, write_token):
    response = ApiClient(client, write_token[1] + "x").get("/statements")
    assert response.status_code == 401
    assert error_of(response) == {
        "code": "unauthenticated",
        "message": "A valid API token is needed: Authorization: Bearer <token>.",
    }


def test_a_revoked_token_is_refused_at_once(api, write_token, shop):
    from api import tokens

    assert api.get("/statements").status_code == 200
    tokens.revoke_api_token(shop=shop, token_id=write_token[0].pk)
    assert api.get("/statements").status_code == 401


def test_a_browser_session_cannot_call_the_api(client, shop):
    client.force_login(make_merchant(shop))
    response = client.get("/api/v1/statements")
    assert response.status_code == 401
    response = client.post("/api/v1/interceptions", data="{}", content_type="application/json")
    assert response.status_code == 401  # no CSRF token asked: the cookie is simply not a credential


def test_a_read_token_on_a_write_endpoint_is_403_forbidden_scope(read_api, after_sale):
    response = read_api.post("/after-sales/AS-5001/actions", {"action": "agree_refund", "version": 1})
    assert response.status_code == 403
    assert error_of(response)["code"] == "forbidden_scope"
    assert read_api.patch("/after-sales/AS-5001", {"flag": "red"}).status_code == 403
    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.flag) == ("pending_merchant", "")


def test_a_body_over_16_mb_is_413_without_being_read(api):
    response = api.post("/interceptions", b"{}", CONTENT_LENGTH=str(16 * 1024 * 1024 + 1))
    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"


def test_a_body_of_16_mb_is_read(api):
    body = b'{"after_sale_nos": ["AS-1"], "x": "' + b"a" * (16 * 1024 * 1024 - 40) + b'"}'
    assert len(body) <= 16 * 1024 * 1024
    response = api.post("/interceptions", body)
    assert response.status_code == 202


def test_401_wins_over_everything(anonymous_api):
    response = anonymous_api.post("/interceptions", b"{bad", CONTENT_LENGTH=str(17 * 1024 * 1024))
    assert response.status_code == 401


def test_403_wins_over_413_and_422(read_api):
    response = read_api.post("/interceptions", b"{bad", CONTENT_LENGTH=str(17 * 1024 * 1024))
    assert response.status_code == 403


def test_413_wins_over_422(api):
    response = api.post("/interceptions", b"{bad", CONTENT_LENGTH=str(17 * 1024 * 1024))
    assert response.status_code == 413


def test_422_wins_over_404(api):
    response = api.post("/after-sales/AS-NOPE/actions", {"action": "agree_refund"})
    assert response.status_code == 422
    assert error_of(response)["field"] == "version"


def test_404_wins_over_409(api, after_sale):
    response = api.post("/after-sales/AS-NOPE/actions", {"action": "agree_refund", "version": 99})
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_malformed_json_is_422(api):
    response = api.post("/interceptions", b"{bad")
    assert response.status_code == 422
    assert error_of(response) == {"code": "invalid", "message": "The body is not valid JSON.", "field": "body"}


def test_422_names_the_path_of_the_field(api, after_sale):
    body = {
        "action": "reject",
        "version": 1,
        "reason_code": "other",
        "evidence": [{"filename": "a.png", "content_base64": "iVBOR"}, {"filename": "b.png"}],
    }
    response = api.post("/after-sales/AS-5001/actions", body)
    assert response.status_code == 422
    assert error_of(response)["field"] == "evidence[1].content_base64"


def test_a_wrong_type_is_422_never_500(api, after_sale):
    for body in ([], "x", 3, {"action": 5, "version": "x"}, {"action": "agree_refund", "version": 10**30}):
        response = api.post("/after-sales/AS-5001/actions", body)
        assert response.status_code == 422, body


def test_nul_characters_are_422_not_a_database_error(api, after_sale):
    response = api.patch("/after-sales/AS-5001", {"remark": "a\x00b"})
    assert response.status_code == 422
    assert error_of(response)["field"] == "remark"
    assert api.get("/after-sales/AS%00X").status_code in (404, 422)


def test_another_shops_after_sale_is_404_like_a_missing_one(other_api, after_sale):
    mine = other_api.get("/after-sales/AS-5001")
    missing = other_api.get("/after-sales/AS-5002")
    assert mine.status_code == missing.status_code == 404
    assert error_of(mine)["code"] == error_of(missing)["code"] == "not_found"


def test_a_stale_version_is_409_stale_and_changes_nothing(api, after_sale):
    response = api.post("/after-sales/AS-5001/actions", {"action": "agree_refund", "version": 7})
    assert response.status_code == 409
    assert error_of(response)["code"] == "stale"
    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.version, after_sale.refunded_amount) == ("pending_merchant", 1, 0)


def test_a_rule_refusal_is_409_with_the_rule_code(api, after_sale):
    response = api.post("/after-sales/AS-5001/actions", {"action": "agree_return", "version": 1})
    assert response.status_code == 409
    assert error_of(response) == {"code": "not_allowed", "message": "Only for return and refund requests."}


def test_an_idempotency_key_with_another_body_is_409_idempotency_conflict(api, after_sale):
    first = api.post("/interceptions", {"after_sale_nos": ["AS-5001"]}, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 202
    again = api.post("/interceptions", {"after_sale_nos": ["AS-5001"]}, headers={"Idempotency-Key": "k-1"})
    assert (again.status_code, again.content) == (202, first.content)
    other = api.post("/interceptions", {"after_sale_nos": ["AS-9"]}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 409
    assert error_of(other)["code"] == "idempotency_conflict"


def test_an_idempotency_key_over_100_characters_is_422(api):
    response = api.post("/interceptions", {"after_sale_nos": ["AS-1"]}, headers={"Idempotency-Key": "k" * 101})
    assert response.status_code == 422
    assert error_of(response)["field"] == "Idempotency-Key"


def test_more_than_the_burst_is_429_with_retry_after(api, monkeypatch, settings):
    clock = [1_000_000.0]
    monkeypatch.setattr(ratelimit, "_now", lambda: clock[0])
    statuses = [api.get("/statements").status_code for _ in range(settings.API_RATE_LIMIT_BURST)]
    assert set(statuses) == {200}
    refused = api.get("/statements")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"
    assert error_of(refused)["code"] == "rate_limited"
    clock[0] += 1.0  # a second later: 20 more
    statuses = [api.get("/statements").status_code for _ in range(settings.API_RATE_LIMIT_PER_SECOND + 1)]
    assert statuses.count(200) == settings.API_RATE_LIMIT_PER_SECOND
    assert statuses[-1] == 429


def test_the_rate_limit_is_per_token(api, other_api, monkeypatch, settings):
    monkeypatch.setattr(ratelimit, "_now", lambda: 5_000.0)
    for _ in range(settings.API_RATE_LIMIT_BURST + 1):
        api.get("/statements")
    assert api.get("/statements").status_code == 429
    assert other_api.get("/statements").status_code == 200


def test_an_unknown_path_is_a_json_404(api):
    response = api.get("/nothing-here")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_a_wrong_method_is_a_json_405(api):
    response = api.client.put("/api/v1/statements", headers={"Authorization": f"Bearer {api.secret}"})
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_json_is_utf8_with_chinese_unescaped(api, after_sale):
    after_sale.buyer_note = "一直没到"
    after_sale.save()
    response = api.get("/after-sales/AS-5001")
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert "一直没到".encode() in response.content


def test_openapi_and_docs_need_no_token_and_no_cdn(client):
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200
    assert "/api/v1/after-sales/{after_sale_no}/actions" in document.json()["paths"]
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
    assert client.get("/static/ninja/swagger-ui-bundle.js").status_code == 200


def test_last_used_is_written_at_most_once_a_minute(api, write_token, django_assert_num_queries):
    token = write_token[0]
    api.get("/statements")
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    api.get("/statements")
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first.replace(year=first.year - 1))
    api.get("/statements")
    token.refresh_from_db()
    assert token.last_used_at > first


def test_create_api_token_prints_the_token_alone_on_its_last_line(client, shop, capsys):
    call_command("create_api_token", shop="demo-shop", name="旺店通", scopes="read,write")
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    token = ApiToken.objects.get(name="旺店通")
    assert secret.startswith("bo_") and token.prefix == secret[:10]
    assert token.token_hash != secret and len(token.token_hash) == 64
    assert token.scopes == "read,write"
    assert ApiClient(client, secret).get("/statements").status_code == 200
