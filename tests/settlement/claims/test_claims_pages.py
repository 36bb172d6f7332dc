"""Claim pages: the merchant's form, list, detail, evidence and tracker; the outlet's answers; isolation."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from settlement.claims import rules
from settlement.claims import services as claims
from settlement.models import Claim
from tests.settlement.factories import PNG, intercepted, png, state
from tests.shop.factories import make_merchant, make_outlet, make_outlet_user, make_shop

DAY = timedelta(days=1)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def lost(shop, yto_outlet, now):
    """Lost on the way back; the interception succeeded 10 days ago: inside the claim window."""
    return intercepted(shop, yto_outlet, succeeded_at=now - 10 * DAY, status="return_failed", failure="lost")


@pytest.fixture
def outlet_staff(yto_outlet):
    return make_outlet_user(yto_outlet, "outlet-yto")


@pytest.fixture
def other_outlet(yto):
    return make_outlet(yto, code="YTO-GZ-202")


@pytest.fixture
def other_outlet_staff(other_outlet):
    return make_outlet_user(other_outlet, "outlet-gz")


def file(service_order, user, amount="100.00"):
    return claims.file_claim(
        service_order_id=service_order.pk,
        shop=service_order.shop,
        user=user,
        reason="lost",
        amount=Decimal(amount),
        evidence=[png()],
    )


def post_claim(client, service_order, **overrides):
    data = {"reason": "lost", "amount": "100.00", "description": "退回途中丢失", "evidence": [png()]}
    data.update(overrides)
    return client.post(reverse("settlement:claim-new", args=[service_order.pk]), data)


# --- the claim form ----------------------------------------------------------------------------------


def test_the_form_shows_the_window_the_cap_and_the_goods_value(client, merchant, lost):
    client.force_login(merchant)

    response = client.get(reverse("settlement:claim-new", args=[lost.pk]))

    window = rules.claim_window(lost.succeeded_at)
    assertContains(response, '<dd id="goods-value">129.00</dd>', html=True)
    assertContains(response, '<dd id="claim-cap">1,000.00</dd>', html=True)
    assertContains(response, f"from {rules.format_moment(window.opens_at)} to {rules.format_moment(window.closes_at)}")
    assertContains(response, 'id="form-claim"')
    assertContains(response, 'name="evidence"')
    assertContains(response, 'max="129.00"')
    assertNotContains(response, 'id="file-claim-disabled"')


def test_before_the_window_the_action_is_disabled_with_available_from(client, merchant, shop, yto_outlet, now):
    early = intercepted(shop, yto_outlet, succeeded_at=now - 3 * DAY, status="succeeded")
    client.force_login(merchant)

    response = client.get(reverse("settlement:claim-new", args=[early.pk]))

    opens = rules.format_moment(early.succeeded_at + rules.CLAIM_WINDOW_OPENS)
    assertContains(response, f'<span class="blocker muted small" id="claim-blocker">Available from {opens}</span>')
    assertContains(response, 'id="file-claim-disabled"')
    assertNotContains(response, 'id="form-claim"')


def test_after_the_window_the_action_is_closed_and_a_post_files_nothing(client, merchant, shop, yto_outlet, now):
    late = intercepted(shop, yto_outlet, succeeded_at=now - 40 * DAY)
    client.force_login(merchant)

    response = client.get(reverse("settlement:claim-new", args=[late.pk]))
    closed_on = rules.format_day(rules.claim_window(late.succeeded_at).closes_at)
    assertContains(response, f"The claim window closed on {closed_on}")
    assertNotContains(response, 'id="form-claim"')

    response = post_claim(client, late)
    assert response.status_code == 200
    assert messages_of(response) == [f"The claim window closed on {closed_on}"]
    assert Claim.objects.count() == 0


def test_the_merchant_files_a_claim_with_evidence_and_lands_on_its_detail(client, merchant, lost):
    client.force_login(merchant)

    response = post_claim(client, lost)

    claim = Claim.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("settlement:claim-detail", args=[claim.pk])
    assert (claim.status, claim.amount, claim.description, claim.filed_by) == (
        "submitted",
        Decimal("100.00"),
        "退回途中丢失",
        merchant,
    )
    detail = client.get(response["Location"])
    evidence_url = reverse("settlement:claim-evidence", args=[claim.pk, claim.evidence.get().pk])
    assertContains(detail, evidence_url)
    assertContains(detail, '<span class="badge badge-claim-submitted" id="claim-status">submitted</span>', html=True)
    assertContains(detail, "lost, 100.00 yuan claimed")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"amount": "1000.01"}, "A claim is at most 1000.00 yuan"),
        ({"amount": "129.01"}, "A claim is at most the goods&#x27; value, 129.00 yuan"),
        ({"evidence": []}, "Attach at least one evidence image."),
        (
            {"evidence": [SimpleUploadedFile("x.png", b"<script>", content_type="image/png")]},
            "x.png is not a JPEG, PNG or WebP image.",
        ),
    ],
    ids=["above-cap", "above-goods", "no-evidence", "not-an-image"],
)
def test_an_invalid_claim_form_shows_the_error_and_files_nothing(
    client, merchant, shop, yto_outlet, now, overrides, error
):
    service_order = intercepted(shop, yto_outlet, succeeded_at=now - 10 * DAY, amount="129.00")
    client.force_login(merchant)

    response = post_claim(client, service_order, **overrides)

    assert response.status_code == 200
    assertContains(response, error)
    assert Claim.objects.count() == 0


def test_a_claim_of_exactly_1000_yuan_is_filed_on_expensive_goods(client, merchant, shop, yto_outlet, now):
    service_order = intercepted(shop, yto_outlet, succeeded_at=now - 10 * DAY, amount="1500.00")
    client.force_login(merchant)

    assert post_claim(client, service_order, amount="1000.00").status_code == 302
    assert Claim.objects.get().amount == Decimal("1000.00")


def test_a_service_order_with_a_live_claim_links_to_it(client, merchant, lost):
    claim = file(lost, merchant)
    client.force_login(merchant)

    response = client.get(reverse("settlement:claim-new", args=[lost.pk]))

    assertContains(response, "This service order already has a claim")
    assertContains(response, f'href="{reverse("settlement:claim-detail", args=[claim.pk])}" id="live-claim"')


def test_another_shops_service_order_is_404_for_the_form_and_the_post(client, lost, other_merchant):
    client.force_login(other_merchant)

    assert client.get(reverse("settlement:claim-new", args=[lost.pk])).status_code == 404
    assert post_claim(client, lost).status_code == 404
    assert Claim.objects.count() == 0


def test_the_service_order_query_links_may_complain_to_the_claim_form(client, merchant, lost):
    client.force_login(merchant)

    response = client.get(reverse("interception:service-orders"))

    assertContains(response, f'href="{reverse("settlement:claim-new", args=[lost.pk])}" data-claim-for="{lost.pk}"')


# --- list, detail, evidence, compensation ------------------------------------------------------------


def test_the_claim_list_shows_only_the_shops_claims_and_filters_by_status(
    client, merchant, lost, other_shop, yto_outlet, now
):
    mine = file(lost, merchant)
    theirs = file(
        intercepted(other_shop, yto_outlet, succeeded_at=now - 10 * DAY), make_merchant(other_shop, "their-owner")
    )
    client.force_login(merchant)

    response = client.get(reverse("settlement:claims"))
    assertContains(response, f'data-claim="{mine.pk}"')
    assertNotContains(response, f'data-claim="{theirs.pk}"')
    assertNotContains(response, theirs.service_order.parcel.tracking_no)

    assertContains(client.get(reverse("settlement:claims"), {"status": "submitted"}), f'data-claim="{mine.pk}"')
    assertNotContains(client.get(reverse("settlement:claims"), {"status": "accepted"}), f'data-claim="{mine.pk}"')


def test_evidence_is_served_only_to_the_shop_and_the_claims_outlet(
    client, merchant, other_merchant, lost, outlet_staff, other_outlet_staff
):
    claim = file(lost, merchant)
    evidence = claim.evidence.get()
    merchant_url = reverse("settlement:claim-evidence", args=[claim.pk, evidence.pk])
    outlet_url = reverse("outlet:claim-evidence", args=[claim.pk, evidence.pk])

    client.force_login(merchant)
    response = client.get(merchant_url)
    assert (response.status_code, response["Content-Type"], response["X-Content-Type-Options"]) == (
        200,
        "image/png",
        "nosniff",
    )
    assert b"".join(response.streaming_content) == PNG
    assert client.get(reverse("settlement:claim-evidence", args=[claim.pk + 1, evidence.pk])).status_code == 404

    client.force_login(other_merchant)
    assert client.get(merchant_url).status_code == 404
    client.force_login(outlet_staff)
    assert client.get(outlet_url).status_code == 200
    client.force_login(other_outlet_staff)
    assert client.get(outlet_url).status_code == 404


def test_the_merchant_records_the_payment_of_an_accepted_claim(client, merchant, lost, outlet_staff):
    claim = file(lost, merchant)
    claims.outlet_accept(claim_id=claim.pk, outlet=lost.outlet, user=outlet_staff, amount=Decimal("88.00"))
    client.force_login(merchant)
    detail = client.get(reverse("settlement:claim-detail", args=[claim.pk]))
    assertContains(detail, 'id="form-compensate"')

    response = client.post(
        reverse("settlement:claim-compensate", args=[claim.pk]),
        {"amount": "88.00", "payment_reference": "WX-88"},
        follow=True,
    )

    claim.refresh_from_db()
    assert (claim.status, claim.compensated_amount, claim.payment_reference) == (
        "compensated",
        Decimal("88.00"),
        "WX-88",
    )
    assert messages_of(response) == ["The payment was recorded: the claim is compensated."]


def test_a_payment_above_the_accepted_amount_is_refused_with_a_message(client, merchant, lost, outlet_staff):
    claim = file(lost, merchant)
    claims.outlet_accept(claim_id=claim.pk, outlet=lost.outlet, user=outlet_staff, amount=Decimal("88.00"))
    client.force_login(merchant)
    before = state()

    response = client.post(
        reverse("settlement:claim-compensate", args=[claim.pk]), {"amount": "88.01", "payment_reference": "WX"}
    )

    assert response.status_code == 302
    assert messages_of(response) == ["The amount is at most 88.00 yuan"]
    assert state() == before


# --- the tracker -------------------------------------------------------------------------------------


def test_the_tracker_lists_parcels_not_back_without_a_live_claim_by_closing_date(
    client, merchant, shop, other_shop, yto_outlet, now
):
    upcoming = intercepted(shop, yto_outlet, succeeded_at=now - 2 * DAY, status="succeeded")
    open_late = intercepted(shop, yto_outlet, succeeded_at=now - 20 * DAY, status="returning")
    open_early = intercepted(shop, yto_outlet, succeeded_at=now - 9 * DAY, status="return_failed")
    closed = intercepted(shop, yto_outlet, succeeded_at=now - 40 * DAY, status="return_failed")
    claimed = intercepted(shop, yto_outlet, succeeded_at=now - 12 * DAY)
    file(claimed, merchant)
    returned = intercepted(shop, yto_outlet, succeeded_at=now - 10 * DAY, status="returned")
    failed = intercepted(shop, yto_outlet, succeeded_at=now - 10 * DAY, status="failed")
    theirs = intercepted(other_shop, yto_outlet, succeeded_at=now - 10 * DAY)
    client.force_login(merchant)

    response = client.get(reverse("settlement:claim-tracker"))

    rows = [record.pk for record in response.context["table"].data]
    assert rows == [open_late.pk, open_early.pk, upcoming.pk, closed.pk]
    for absent in (claimed, returned, failed, theirs):
        assertNotContains(response, absent.parcel.tracking_no)
    assertContains(response, 'data-opens-in="5">in 5 days<')
    assertContains(response, f'id="file-claim-{open_early.pk}"')
    assertNotContains(response, f'id="file-claim-{upcoming.pk}"')
    assertNotContains(response, f'id="file-claim-{closed.pk}"')
    assertContains(response, 'data-closes-in="10">10 days left<')  # 20 days ago: day 30 is 10 days away
    assertContains(response, 'class="countdown overdue" data-closes-in="-10">closed<')

    def only(window):
        return [r.pk for r in client.get(reverse("settlement:claim-tracker"), {"window": window}).context["table"].data]

    assert only("upcoming") == [upcoming.pk]
    assert only("open") == [open_late.pk, open_early.pk]
    assert only("closed") == [closed.pk]


# --- the outlet --------------------------------------------------------------------------------------


def test_the_outlet_sees_only_its_own_claims(client, merchant, lost, outlet_staff, other_outlet_staff):
    claim = file(lost, merchant)

    client.force_login(outlet_staff)
    response = client.get(reverse("outlet:claims"))
    assertContains(response, f'data-claim="{claim.pk}"')
    assertContains(response, 'id="nav-claims"')
    detail = client.get(reverse("outlet:claim-detail", args=[claim.pk]))
    assertContains(detail, 'id="form-accept"')
    assertContains(detail, 'id="form-dispute"')

    client.force_login(other_outlet_staff)
    assertNotContains(client.get(reverse("outlet:claims")), f'data-claim="{claim.pk}"')
    assert client.get(reverse("outlet:claim-detail", args=[claim.pk])).status_code == 404


def test_the_outlet_accepts_in_its_portal(client, merchant, lost, outlet_staff):
    claim = file(lost, merchant)
    client.force_login(outlet_staff)

    response = client.post(
        reverse("outlet:claim-accept", args=[claim.pk]), {"amount": "95.50", "note": "同意"}, follow=True
    )

    claim.refresh_from_db()
    assert (claim.status, claim.accepted_amount, claim.outlet_note) == ("accepted", Decimal("95.50"), "同意")
    assert messages_of(response) == ["Accepted: pay the merchant offline; the merchant records the payment."]
    assertNotContains(response, 'id="form-accept"')


def test_the_outlet_cannot_accept_more_than_the_claim(client, merchant, lost, outlet_staff):
    claim = file(lost, merchant)
    client.force_login(outlet_staff)
    before = state()

    response = client.post(reverse("outlet:claim-accept", args=[claim.pk]), {"amount": "100.01"})

    assert messages_of(response) == ["The amount is at most 100.00 yuan"]
    assert state() == before


def test_the_outlet_disputes_and_the_claim_goes_to_arbitration(client, merchant, lost, outlet_staff):
    claim = file(lost, merchant)
    client.force_login(outlet_staff)

    client.post(reverse("outlet:claim-dispute", args=[claim.pk]), {"reason": "包裹已退回商家"})

    claim.refresh_from_db()
    assert (claim.status, claim.outlet_note) == ("arbitration", "包裹已退回商家")
    client.force_login(merchant)
    assertContains(client.get(reverse("settlement:claim-detail", args=[claim.pk])), "包裹已退回商家")


def test_a_dispute_without_a_reason_changes_nothing(client, merchant, lost, outlet_staff):
    claim = file(lost, merchant)
    client.force_login(outlet_staff)
    before = state()

    response = client.post(reverse("outlet:claim-dispute", args=[claim.pk]), {"reason": ""})

    assert messages_of(response) == ["Why you dispute the claim: This field is required."]
    assert state() == before


def test_another_outlet_cannot_answer_and_nothing_changes(client, merchant, lost, other_outlet_staff):
    claim = file(lost, merchant)
    client.force_login(other_outlet_staff)
    before = state()

    assert client.post(reverse("outlet:claim-accept", args=[claim.pk]), {"amount": "1.00"}).status_code == 404
    assert client.post(reverse("outlet:claim-dispute", args=[claim.pk]), {"reason": "x"}).status_code == 404
    assert state() == before


def test_a_merchant_of_another_shop_cannot_open_the_claim(client, merchant, lost, now):
    claim = file(lost, merchant)
    stranger = make_merchant(make_shop("shop-z"), "stranger")
    client.force_login(stranger)

    assert client.get(reverse("settlement:claim-detail", args=[claim.pk])).status_code == 404
    assert client.post(reverse("settlement:claim-compensate", args=[claim.pk]), {}).status_code == 404
