"""A callback signed with the public development secret is refused by a server with a real one."""

from tests.interception.test_callbacks import carrier, processing, snapshot  # noqa: F401  (fixtures)


def test_a_callback_signed_with_the_development_default_is_a_401_and_changes_nothing(
    processing,  # noqa: F811
    carrier,  # noqa: F811
    settings,
):
    settings.CARRIER_CALLBACK_SECRET = "carrier-secret-of-production"
    before = snapshot(processing)
    body = (
        f'{{"callback_id": "CB-forged", "request_id": "SO{processing.pk:08d}", "status": "succeeded",'
        f' "reason": "", "occurred_at": "2026-11-22T11:00:00+08:00"}}'
    ).encode()

    response = carrier.post_raw(body, secret="dev-carrier-secret")

    assert (response.status_code, response.json()) == (401, {"error": "invalid signature"})
    assert snapshot(processing) == before
