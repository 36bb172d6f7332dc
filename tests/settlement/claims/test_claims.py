"""Claim services: filing in the window, the outlet's answer, escalation, arbitration, compensation.

Every refusal also asserts that nothing changed: no claim, history row, evidence or field moved.
"""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone, translation
from django_q.models import Schedule

from settlement.claims import services as claims
from settlement.claims import tasks as tasks_claims
from settlement.models import Claim
from shop.errors import DomainError, NotFound
from tests.settlement.factories import IN_WINDOW, PNG, SUCCESS, file, intercepted, png, state
from tests.shop.factories import at, make_operator, make_outlet, make_outlet_user

C = Claim.Status


def refused(call, message: str) -> DomainError:
    before = state()
    with pytest.raises(DomainError) as caught:
        with transaction.atomic():
            call()
    assert caught.value.message == message
    assert state() == before
    return caught.value


@pytest.fixture
def outlet_staff(yto_outlet):
    return make_outlet_user(yto_outlet, "outlet-yto")


@pytest.fixture
def operator(db):
    return make_operator("operator")


@pytest.fixture
def lost(shop, yto_outlet):
    return intercepted(shop, yto_outlet)


@pytest.fixture
def submitted(lost, merchant):
    return file(lost, merchant)


# --- filing ------------------------------------------------------------------------------------------


def test_a_claim_filed_in_the_window_is_submitted_with_the_goods_value_evidence_and_history(lost, merchant):
    claim = file(lost, merchant, amount="100.00")

    claim.refresh_from_db()
    assert (claim.status, claim.reason, claim.amount, claim.goods_value) == (
        "submitted",
        "lost",
        Decimal("100.00"),
        Decimal("129.00"),
    )
    assert (claim.shop_id, claim.outlet_id, claim.service_order_id) == (lost.shop_id, lost.outlet_id, lost.pk)
    assert (claim.filed_by, claim.filed_at, claim.description) == (merchant, IN_WINDOW, "包裹退回途中丢失")
    evidence = claim.evidence.get()
    assert (evidence.content_type, evidence.size) == ("image/png", len(PNG))
    assert evidence.image.name.endswith(".png") and "evidence" not in evidence.image.name  # named by its bytes
    log = claim.logs.get()
    assert (log.from_status, log.to_status, log.user, log.at) == ("", "submitted", merchant, IN_WINDOW)
    assert log.note == "lost, 100.00 yuan claimed"


@pytest.mark.parametrize(
    ("after", "message"),
    [
        (timedelta(days=6, hours=23, minutes=59), "Available from 2026-11-08 10:00"),
        (timedelta(days=7) - timedelta(microseconds=1), "Available from 2026-11-08 10:00"),
    ],
    ids=["6d23h59m", "7d-minus-1us"],
)
def test_a_claim_before_the_window_opens_is_refused_and_nothing_is_written(lost, merchant, after, message):
    refused(lambda: file(lost, merchant, now=SUCCESS + after), message)


def test_a_claim_exactly_seven_days_after_success_is_accepted(lost, merchant):
    assert file(lost, merchant, now=SUCCESS + timedelta(days=7)).status == "submitted"


def test_a_claim_at_the_very_end_of_day_thirty_is_accepted(lost, merchant):
    assert file(lost, merchant, now=at("2026-12-01 23:59:59.999999")).status == "submitted"


@pytest.mark.parametrize("after", [timedelta(microseconds=1), timedelta(seconds=1)], ids=["1us", "1s"])
def test_a_claim_after_the_end_of_day_thirty_is_refused(lost, merchant, after):
    refused(
        lambda: file(lost, merchant, now=at("2026-12-01 23:59:59.999999") + after),
        "The claim window closed on 2026-12-01",
    )


def test_a_claim_of_1000_yuan_is_accepted_on_goods_worth_more(shop, yto_outlet, merchant):
    service_order = intercepted(shop, yto_outlet, amount="1500.00")

    assert file(service_order, merchant, amount="1000.00").amount == Decimal("1000.00")


def test_a_claim_of_1000_01_yuan_is_refused_even_on_goods_worth_more(shop, yto_outlet, merchant):
    service_order = intercepted(shop, yto_outlet, amount="1500.00")

    refused(lambda: file(service_order, merchant, amount="1000.01"), "A claim is at most 1000.00 yuan")


def test_a_claim_above_the_goods_value_is_refused(lost, merchant):
    refused(lambda: file(lost, merchant, amount="129.01"), "A claim is at most the goods' value, 129.00 yuan")
    assert file(lost, merchant, amount="129.00").amount == Decimal("129.00")


@pytest.mark.parametrize("amount", ["0.00", "-1.00"])
def test_a_claim_of_nothing_is_refused(lost, merchant, amount):
    refused(lambda: file(lost, merchant, amount=amount), "The amount must be more than 0.00 yuan")


@pytest.mark.parametrize("status", ["succeeded", "returning", "return_failed"])
def test_a_parcel_not_back_or_lost_or_damaged_can_be_claimed_for(shop, yto_outlet, merchant, status):
    service_order = intercepted(shop, yto_outlet, status=status, failure="damaged")

    assert file(service_order, merchant).status == "submitted"


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("returned", "The parcel came back: there is nothing to claim"),
        ("failed", "Only an interception that succeeded can be claimed for"),
    ],
)
def test_a_parcel_that_came_back_or_was_never_stopped_cannot_be_claimed_for(
    shop, yto_outlet, merchant, status, message
):
    service_order = intercepted(shop, yto_outlet, status=status)

    refused(lambda: file(service_order, merchant), message)


def test_a_second_claim_on_the_same_service_order_is_refused_while_the_first_is_live(submitted, lost, merchant):
    refused(lambda: file(lost, merchant, amount="50.00"), "This service order already has a claim")


def test_after_a_rejected_claim_a_new_one_may_be_filed_inside_the_window(submitted, lost, merchant, operator):
    claims.outlet_dispute(claim_id=submitted.pk, outlet=lost.outlet, user=None, reason="已签收")
    claims.decide_arbitration(claim_id=submitted.pk, user=operator, compensate=False, note="证据不足")

    again = file(lost, merchant, amount="60.00", now=IN_WINDOW + timedelta(days=2))

    assert again.pk != submitted.pk
    assert list(Claim.objects.order_by("pk").values_list("status", flat=True)) == ["rejected", "submitted"]


def test_another_shops_service_order_is_not_found_and_nothing_is_written(lost, other_shop, other_merchant):
    before = state()
    with pytest.raises(NotFound):
        file(lost, other_merchant, shop=other_shop)
    assert state() == before


@pytest.mark.parametrize(
    ("evidence", "message"),
    [
        ([], "Attach at least one evidence image."),
        ([png(f"e{i}.png") for i in range(6)], "Attach at most 5 evidence images."),
        (
            [SimpleUploadedFile("fake.png", b"GIF89a-not-a-png", content_type="image/png")],
            "fake.png is not a JPEG, PNG or WebP image.",
        ),
    ],
    ids=["none", "six", "not-an-image"],
)
def test_a_claim_without_valid_evidence_is_refused(lost, merchant, evidence, message):
    refused(lambda: file(lost, merchant, evidence=evidence), message)


def test_five_evidence_images_are_accepted(lost, merchant):
    claim = file(lost, merchant, evidence=[png(f"e{i}.png") for i in range(5)])

    assert claim.evidence.count() == 5


def test_a_reason_outside_the_list_is_refused(lost, merchant):
    refused(lambda: file(lost, merchant, reason="stolen"), "Choose a reason from the list.")


# --- the outlet's answer -----------------------------------------------------------------------------


def test_the_outlet_accepts_an_amount_up_to_the_claim(submitted, yto_outlet, outlet_staff):
    claim = claims.outlet_accept(
        claim_id=submitted.pk, outlet=yto_outlet, user=outlet_staff, amount=Decimal("100.00"), note="同意赔付"
    )

    claim.refresh_from_db()
    assert (claim.status, claim.accepted_amount, claim.outlet_note) == ("accepted", Decimal("100.00"), "同意赔付")
    assert claim.answered_at is not None
    log = claim.logs.last()
    assert (log.from_status, log.to_status, log.user, log.note) == (
        "submitted",
        "accepted",
        outlet_staff,
        "accepted 100.00 yuan: 同意赔付",
    )


def test_the_outlets_accepted_amount_is_never_above_the_claim(submitted, yto_outlet, outlet_staff):
    refused(
        lambda: claims.outlet_accept(
            claim_id=submitted.pk, outlet=yto_outlet, user=outlet_staff, amount=Decimal("100.01")
        ),
        "The amount is at most 100.00 yuan",
    )


def test_another_outlet_cannot_answer_the_claim(submitted):
    stranger = make_outlet(submitted.outlet.courier, code="YTO-GZ-009")
    before = state()
    with pytest.raises(NotFound):
        claims.outlet_accept(claim_id=submitted.pk, outlet=stranger, user=None, amount=Decimal("1.00"))
    with pytest.raises(NotFound):
        claims.outlet_dispute(claim_id=submitted.pk, outlet=stranger, user=None, reason="不是我们的")
    assert state() == before


def test_a_dispute_goes_to_platform_arbitration_at_once_with_both_steps_in_the_history(
    submitted, yto_outlet, outlet_staff
):
    claim = claims.outlet_dispute(claim_id=submitted.pk, outlet=yto_outlet, user=outlet_staff, reason="包裹已退回")

    claim.refresh_from_db()
    assert (claim.status, claim.outlet_note, claim.accepted_amount) == ("arbitration", "包裹已退回", None)
    steps = list(claim.logs.values_list("from_status", "to_status", "user", "note"))
    assert steps[1:] == [
        ("submitted", "disputed", outlet_staff.pk, "包裹已退回"),
        ("disputed", "arbitration", None, "disputed by the outlet: platform arbitration"),
    ]


def test_a_dispute_without_a_reason_is_refused(submitted, yto_outlet, outlet_staff):
    refused(
        lambda: claims.outlet_dispute(claim_id=submitted.pk, outlet=yto_outlet, user=outlet_staff, reason="  "),
        "Give the reason for the dispute.",
    )


def test_an_answered_claim_cannot_be_answered_again(submitted, yto_outlet, outlet_staff):
    claims.outlet_accept(claim_id=submitted.pk, outlet=yto_outlet, user=outlet_staff, amount=Decimal("90.00"))

    refused(
        lambda: claims.outlet_dispute(claim_id=submitted.pk, outlet=yto_outlet, user=outlet_staff, reason="改主意"),
        "This claim has already been answered.",
    )
    refused(
        lambda: claims.outlet_accept(
            claim_id=submitted.pk, outlet=yto_outlet, user=outlet_staff, amount=Decimal("95.00")
        ),
        "This claim has already been answered.",
    )


# --- unanswered claims -------------------------------------------------------------------------------


def test_a_claim_unanswered_for_the_configured_days_goes_to_arbitration(submitted, settings):
    settings.SETTLEMENT_CLAIM_ANSWER_DAYS = 3

    assert claims.escalate_unanswered(now=IN_WINDOW + timedelta(days=3) - timedelta(seconds=1)) == 0
    assert Claim.objects.get().status == "submitted"
    assert claims.escalate_unanswered(now=IN_WINDOW + timedelta(days=3)) == 1

    claim = Claim.objects.get()
    assert claim.status == "arbitration"
    log = claim.logs.last()
    assert (log.from_status, log.to_status, log.user, log.at) == (
        "submitted",
        "arbitration",
        None,
        IN_WINDOW + timedelta(days=3),
    )
    assert log.note == "unanswered by the outlet for 3 days: platform arbitration"
    assert claims.escalate_unanswered(now=IN_WINDOW + timedelta(days=4)) == 0  # a second run moves nothing
    assert claim.logs.count() == 2


def test_the_answer_days_are_configurable(submitted, settings):
    settings.SETTLEMENT_CLAIM_ANSWER_DAYS = 5

    assert claims.escalate_unanswered(now=IN_WINDOW + timedelta(days=4)) == 0
    assert claims.escalate_unanswered(now=IN_WINDOW + timedelta(days=5)) == 1


def test_an_answered_claim_is_never_escalated(submitted, yto_outlet, outlet_staff):
    claims.outlet_accept(claim_id=submitted.pk, outlet=yto_outlet, user=outlet_staff, amount=Decimal("80.00"))

    assert claims.escalate_unanswered(now=IN_WINDOW + timedelta(days=30)) == 0
    assert Claim.objects.get().status == "accepted"


def test_the_daily_task_escalates_and_the_command_also_creates_its_schedule(submitted):
    assert tasks_claims.escalate_unanswered_claims(now=IN_WINDOW + timedelta(days=1)) == 0
    out = StringIO()

    call_command("escalate_claims", stdout=out)  # now: weeks after the claim was filed

    assert Claim.objects.get().status == "arbitration"
    assert "1 unanswered claim(s) sent to platform arbitration." in out.getvalue()
    schedule = Schedule.objects.get(name=tasks_claims.SCHEDULE_NAME)
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (
        "settlement.claims.tasks.escalate_unanswered_claims",
        Schedule.DAILY,
        -1,
    )
    assert timezone.localtime(schedule.next_run).strftime("%H:%M") == "02:00"
    call_command("escalate_claims", "--schedule-only", stdout=StringIO())
    assert Schedule.objects.filter(func=tasks_claims.SCHEDULE_FUNC).count() == 1


# --- arbitration and compensation --------------------------------------------------------------------


@pytest.fixture
def in_arbitration(submitted, yto_outlet, outlet_staff):
    return claims.outlet_dispute(claim_id=submitted.pk, outlet=yto_outlet, user=outlet_staff, reason="包裹已退回")


def test_an_operator_compensates_a_claim_in_arbitration(in_arbitration, operator):
    claim = claims.decide_arbitration(
        claim_id=in_arbitration.pk,
        user=operator,
        compensate=True,
        amount=Decimal("70.00"),
        note="网点未能举证",
        payment_reference="PAY-1",
    )

    claim.refresh_from_db()
    assert (claim.status, claim.compensated_amount, claim.decision_note, claim.payment_reference) == (
        "compensated",
        Decimal("70.00"),
        "网点未能举证",
        "PAY-1",
    )
    assert claim.closed_at is not None
    log = claim.logs.last()
    assert (log.to_status, log.user, log.note) == ("compensated", operator, "compensation of 70.00 yuan: 网点未能举证")


def test_an_arbitration_pay_decision_without_a_payment_records_the_amount_owed_not_a_payment(in_arbitration, operator):
    claim = claims.decide_arbitration(
        claim_id=in_arbitration.pk, user=operator, compensate=True, amount=Decimal("70.00"), note="网点未能举证"
    )

    claim.refresh_from_db()
    assert (claim.status, claim.accepted_amount, claim.compensated_amount, claim.payment_reference) == (
        "awarded",
        Decimal("70.00"),
        None,
        "",
    )
    assert claim.closed_at is None
    assert str(claim.get_status_display()) == "awarded by arbitration, payment due"


def test_an_awarded_claim_is_compensated_when_the_merchant_records_the_payment(
    in_arbitration, operator, shop, merchant
):
    claims.decide_arbitration(
        claim_id=in_arbitration.pk, user=operator, compensate=True, amount=Decimal("70.00"), note="网点未能举证"
    )

    claim = claims.record_compensation(
        claim_id=in_arbitration.pk, shop=shop, user=merchant, payment_reference="BANK-7", amount=Decimal("70.00")
    )

    claim.refresh_from_db()
    assert (claim.status, claim.compensated_amount, claim.payment_reference) == (
        "compensated",
        Decimal("70.00"),
        "BANK-7",
    )
    assert list(claim.logs.values_list("to_status", flat=True))[-2:] == ["awarded", "compensated"]


def test_an_awarded_claim_cannot_be_recorded_as_paid_above_the_award_and_nothing_changes(
    in_arbitration, operator, shop, merchant
):
    claims.decide_arbitration(
        claim_id=in_arbitration.pk, user=operator, compensate=True, amount=Decimal("70.00"), note="网点未能举证"
    )
    before = list(Claim.objects.values_list("status", "compensated_amount", "payment_reference"))

    with pytest.raises(DomainError):
        claims.record_compensation(
            claim_id=in_arbitration.pk, shop=shop, user=merchant, payment_reference="BANK-7", amount=Decimal("70.01")
        )

    assert list(Claim.objects.values_list("status", "compensated_amount", "payment_reference")) == before


def test_a_claim_rejected_by_arbitration_is_not_labelled_a_merchant_rejection_in_chinese(in_arbitration, operator):
    claim = claims.decide_arbitration(claim_id=in_arbitration.pk, user=operator, compensate=False, note="证据不足")

    with translation.override("zh-hans"):
        label = str(claim.get_status_display())
    assert label == "平台驳回"
    assert "商家" not in label


def test_an_operator_rejects_a_claim_in_arbitration(in_arbitration, operator):
    claim = claims.decide_arbitration(claim_id=in_arbitration.pk, user=operator, compensate=False, note="证据不足")

    claim.refresh_from_db()
    assert (claim.status, claim.compensated_amount, claim.decision_note) == ("rejected", None, "证据不足")
    assert (claim.logs.last().to_status, claim.logs.last().user) == ("rejected", operator)


def test_an_arbitrated_compensation_above_the_claim_is_refused(in_arbitration, operator):
    refused(
        lambda: claims.decide_arbitration(
            claim_id=in_arbitration.pk, user=operator, compensate=True, amount=Decimal("100.01"), note="多赔"
        ),
        "The amount is at most 100.00 yuan",
    )


def test_arbitration_needs_a_note_an_operator_and_a_claim_in_arbitration(in_arbitration, submitted, operator, merchant):
    refused(
        lambda: claims.decide_arbitration(claim_id=in_arbitration.pk, user=operator, compensate=False, note=" "),
        "Explain the decision in a note.",
    )
    refused(
        lambda: claims.decide_arbitration(claim_id=in_arbitration.pk, user=merchant, compensate=False, note="x"),
        "Only platform operators decide arbitration.",
    )
    claims.decide_arbitration(claim_id=in_arbitration.pk, user=operator, compensate=False, note="证据不足")
    refused(
        lambda: claims.decide_arbitration(claim_id=in_arbitration.pk, user=operator, compensate=False, note="again"),
        "This claim is not in platform arbitration.",
    )


def test_a_submitted_claim_cannot_be_decided_before_arbitration(submitted, operator):
    refused(
        lambda: claims.decide_arbitration(
            claim_id=submitted.pk, user=operator, compensate=True, amount=Decimal("10.00"), note="x"
        ),
        "This claim is not in platform arbitration.",
    )


@pytest.fixture
def accepted(submitted, yto_outlet, outlet_staff):
    return claims.outlet_accept(claim_id=submitted.pk, outlet=yto_outlet, user=outlet_staff, amount=Decimal("90.00"))


def test_the_merchant_records_the_outlets_offline_payment(accepted, shop, merchant):
    claim = claims.record_compensation(
        claim_id=accepted.pk, shop=shop, user=merchant, payment_reference=" WX-2026-001 ", amount=Decimal("90.00")
    )

    claim.refresh_from_db()
    assert (claim.status, claim.compensated_amount, claim.payment_reference) == (
        "compensated",
        Decimal("90.00"),
        "WX-2026-001",
    )
    assert list(claim.logs.values_list("to_status", flat=True)) == ["submitted", "accepted", "compensated"]
    assert claim.logs.last().note == "90.00 yuan paid offline, reference WX-2026-001"


def test_a_recorded_payment_above_the_accepted_amount_or_without_reference_is_refused(accepted, shop, merchant):
    refused(
        lambda: claims.record_compensation(
            claim_id=accepted.pk, shop=shop, user=merchant, payment_reference="WX-1", amount=Decimal("90.01")
        ),
        "The amount is at most 90.00 yuan",
    )
    refused(
        lambda: claims.record_compensation(
            claim_id=accepted.pk, shop=shop, user=merchant, payment_reference="  ", amount=Decimal("90.00")
        ),
        "Enter the payment reference.",
    )


def test_only_an_accepted_claim_can_be_marked_paid(submitted, shop, merchant):
    refused(
        lambda: claims.record_compensation(
            claim_id=submitted.pk, shop=shop, user=merchant, payment_reference="WX-1", amount=Decimal("10.00")
        ),
        "Only a claim the outlet accepted or arbitration awarded can be marked as paid.",
    )


def test_another_shop_cannot_record_a_payment_on_the_claim(accepted, other_shop, other_merchant):
    before = state()
    with pytest.raises(NotFound):
        claims.record_compensation(
            claim_id=accepted.pk, shop=other_shop, user=other_merchant, payment_reference="X", amount=Decimal("1.00")
        )
    assert state() == before


def test_the_transition_table_refuses_illegal_moves(accepted):
    claim = Claim.objects.get(pk=accepted.pk)
    before = state()
    with pytest.raises(DomainError) as caught:
        claims._transition(claim, C.REJECTED, user=None, note="", at=timezone.now())
    assert caught.value.code == "invalid_transition"
    assert state() == before


def test_a_member_with_the_settlement_set_may_file_as_the_owner_does(lost, shop):
    from shop.permissions import PermissionSet
    from tests.shop.factories import make_member

    finance = make_member(shop, PermissionSet.SETTLEMENT, username="finance")

    assert file(lost, finance).filed_by == finance
