"""The claim window (7 days after success to the end of day 30, Asia/Shanghai), the cap and the amounts."""

from datetime import UTC, timedelta
from decimal import Decimal

import pytest

from settlement.claims import rules
from tests.shop.factories import at

SUCCESS = at("2026-11-01 10:00")  # the interception succeeded, Shanghai time
US, SECOND, MINUTE = timedelta(microseconds=1), timedelta(seconds=1), timedelta(minutes=1)


def test_the_window_opens_exactly_seven_days_after_success_and_closes_at_the_end_of_day_thirty():
    opens_at, closes_at = rules.claim_window(SUCCESS)

    assert opens_at == at("2026-11-08 10:00")
    assert closes_at == at("2026-12-01 23:59:59.999999")


def test_the_window_is_counted_in_shanghai_whatever_the_timezone_of_the_success_time():
    # 2026-11-01 23:30 in Shanghai is 15:30 UTC the same day; 00:30 on the 2nd is still the 1st in UTC.
    late_evening = at("2026-11-01 23:30").astimezone(UTC)
    after_midnight = at("2026-11-02 00:30").astimezone(UTC)

    assert rules.claim_window(late_evening).closes_at == at("2026-12-01 23:59:59.999999")
    assert rules.claim_window(after_midnight).closes_at == at("2026-12-02 23:59:59.999999")
    assert rules.claim_window(late_evening).opens_at == at("2026-11-08 23:30")


@pytest.mark.parametrize(
    ("now", "blocker"),
    [
        (SUCCESS + timedelta(days=6, hours=23, minutes=59), "available from 2026-11-08 10:00"),
        (SUCCESS + timedelta(days=7) - US, "available from 2026-11-08 10:00"),
        (SUCCESS + timedelta(days=7), None),
        (SUCCESS + timedelta(days=15), None),
        (at("2026-12-01 23:59:59.999999"), None),  # the end of day 30
        (at("2026-12-01 23:59:59.999999") + US, "the claim window closed on 2026-12-01"),
        (at("2026-12-01 23:59:59") + SECOND, "the claim window closed on 2026-12-01"),
        (at("2026-12-02 10:00"), "the claim window closed on 2026-12-01"),
        (SUCCESS, "available from 2026-11-08 10:00"),
    ],
    ids=[
        "6d23h59m-refused",
        "7d-minus-1us-refused",
        "7d-accepted",
        "15d-accepted",
        "end-of-day-30-accepted",
        "1us-after-refused",
        "1s-after-refused",
        "day-31-refused",
        "at-success-refused",
    ],
)
def test_claim_blocker_at_every_window_boundary(now, blocker):
    assert rules.claim_blocker(now, SUCCESS, "return_failed", False) == blocker


@pytest.mark.parametrize("status", ["succeeded", "returning", "return_failed"])
def test_an_interception_that_succeeded_and_is_not_back_can_be_claimed_for(status):
    assert rules.claim_blocker(SUCCESS + timedelta(days=8), SUCCESS, status, False) is None


@pytest.mark.parametrize(
    ("status", "succeeded_at", "blocker"),
    [
        ("returned", SUCCESS, "the parcel came back: there is nothing to claim"),
        ("failed", None, "only an interception that succeeded can be claimed for"),
        ("submitted", None, "only an interception that succeeded can be claimed for"),
        ("processing", None, "only an interception that succeeded can be claimed for"),
        ("succeeded", None, "only an interception that succeeded can be claimed for"),
    ],
)
def test_other_service_orders_cannot_be_claimed_for(status, succeeded_at, blocker):
    assert rules.claim_blocker(SUCCESS + timedelta(days=8), succeeded_at, status, False) == blocker


def test_a_service_order_with_a_live_claim_cannot_be_claimed_for_again():
    assert rules.claim_blocker(SUCCESS + timedelta(days=8), SUCCESS, "succeeded", True) == (
        "this service order already has a claim"
    )


@pytest.mark.parametrize(
    ("amount", "goods_value", "blocker"),
    [
        ("1000.00", "1500.00", None),
        ("1000.01", "1500.00", "a claim is at most 1000.00 yuan"),
        ("0.01", "1500.00", None),
        ("129.00", "129.00", None),
        ("129.01", "129.00", "a claim is at most the goods' value, 129.00 yuan"),
        ("1000.01", "1000.00", "a claim is at most 1000.00 yuan"),
        ("0.00", "129.00", "the amount must be more than 0.00 yuan"),
        ("-5.00", "129.00", "the amount must be more than 0.00 yuan"),
        ("10.005", "129.00", "the amount has at most two decimals"),
    ],
)
def test_amount_blocker_at_the_cap_and_the_goods_value(amount, goods_value, blocker):
    assert rules.amount_blocker(Decimal(amount), Decimal(goods_value)) == blocker


def test_no_amount_is_refused():
    assert rules.amount_blocker(None, Decimal("10.00")) == "the amount must be more than 0.00 yuan"


@pytest.mark.parametrize(
    ("amount", "blocker"),
    [
        ("80.00", None),
        ("80.01", "the amount is at most 80.00 yuan"),
        ("0.00", "the amount must be more than 0.00 yuan"),
    ],
)
def test_an_accepted_or_compensated_amount_is_never_above_the_limit(amount, blocker):
    assert rules.settle_amount_blocker(Decimal(amount), Decimal("80.00")) == blocker


def test_a_submitted_claim_is_unanswered_too_long_after_the_configured_days(settings):
    settings.SETTLEMENT_CLAIM_ANSWER_DAYS = 3
    filed = at("2026-11-10 09:00")

    assert rules.answer_deadline(filed) == at("2026-11-13 09:00")
    assert not rules.is_unanswered_too_long(at("2026-11-13 08:59:59"), filed)
    assert rules.is_unanswered_too_long(at("2026-11-13 09:00"), filed)
    settings.SETTLEMENT_CLAIM_ANSWER_DAYS = 5
    assert not rules.is_unanswered_too_long(at("2026-11-13 09:00"), filed)


def test_days_between_counts_calendar_days_in_shanghai():
    now = at("2026-11-05 23:00")
    assert rules.days_between(now, at("2026-11-06 00:30")) == 1
    assert rules.days_between(now, at("2026-11-05 00:30")) == 0
    assert rules.days_between(now, at("2026-11-03 12:00")) == -2


@pytest.mark.parametrize(
    ("success", "closed"),
    [
        (at("2026-11-01 10:00"), False),  # closes at the end of 2026-12-01
        (at("2026-11-01 00:00"), False),
        (at("2026-10-31 23:59:59.999999"), True),  # closed at the end of 2026-11-30
    ],
)
def test_window_closed_before_agrees_with_the_window(success, closed):
    now = at("2026-12-01 18:00")
    assert (success < rules.window_closed_before(now)) is closed
    assert (now > rules.claim_window(success).closes_at) is closed


@pytest.mark.parametrize(
    ("status", "now", "may"),
    [
        ("succeeded", at("2026-11-01 10:05"), False),  # intercepted minutes ago
        ("succeeded", at("2026-11-08 09:59"), False),  # a minute before day 7
        ("succeeded", at("2026-11-08 10:00"), True),  # the window opens: day 7
        ("returning", at("2026-11-20 12:00"), True),
        ("return_failed", at("2026-12-01 23:59"), True),  # the last day of the window
        ("return_failed", at("2026-12-02 00:00"), False),  # closed
        ("returned", at("2026-11-20 12:00"), False),  # came back: nothing to complain about
        ("failed", at("2026-11-20 12:00"), False),
    ],
)
def test_the_complaint_hint_shows_only_inside_the_claim_window(status, now, may):
    assert rules.may_complain_now(status, at("2026-11-01 10:00"), now) is may


def test_the_service_order_row_offers_no_complaint_before_day_seven_and_does_from_day_seven():
    from types import SimpleNamespace

    from settlement.claims.extensions import claim_link

    row = SimpleNamespace(pk=7, status="succeeded", succeeded_at=at("2026-11-01 10:00"))
    assert claim_link(row, now=at("2026-11-01 10:30")) is None
    link = claim_link(row, now=at("2026-11-08 10:00"))
    assert (link.key, link.url) == ("claim", "/settlement/claims/new/7/")
