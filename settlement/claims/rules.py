"""Pure claim rules: the 7–30 day window, the 1000-yuan cap, amounts and the outlet's answer deadline.

No database access and no writes: the services call these on locked rows, the pages call them to
show why an action is not available. A blocker is a user-facing reason (lower case, shown with
`capfirst`), or None when nothing stands in the way.
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.utils.translation import gettext as _

from shop.localtime import SHANGHAI

# 理赔: "拦截成功后7天-30天内可发起投诉" (seed 003) — the window, counted from the interception's success.
CLAIM_WINDOW_OPENS = timedelta(days=7)  # exactly 7 × 24 h after the success
CLAIM_WINDOW_CLOSES = timedelta(days=30)  # until the end of the 30th calendar day after the success day
CLAIM_CAP = Decimal("1000.00")  # "最高1000元": whatever the goods' value
MONEY_STEP = Decimal("0.01")

# Service-order statuses a claim may be filed on: the interception succeeded and the parcel is not
# back (succeeded, returning) or came back lost or damaged (return failed). "returned" came back fine.
CLAIMABLE_STATUSES = ("succeeded", "returning", "return_failed")


class ClaimWindow(NamedTuple):
    opens_at: datetime
    closes_at: datetime


def claim_window(succeeded_at: datetime) -> ClaimWindow:
    """When a claim may be filed on an interception that succeeded at `succeeded_at` (aware).

    Our reading of "7 to 30 days after interception success", in Asia/Shanghai:
    - it opens exactly 7 × 24 hours after the success (success 2026-11-01 10:00 → opens 2026-11-08 10:00);
    - it closes at the END of the 30th calendar day after the success day, i.e. 23:59:59.999999
      Shanghai time of (success date + 30 days) (success 2026-11-01 10:00 → closes 2026-12-01 23:59:59.999999),
      so a merchant never loses the last day to the hour the parcel happened to be stopped.
    Both bounds are included. Returned aware, in Asia/Shanghai.
    """
    local = succeeded_at.astimezone(SHANGHAI)
    last_day = local.date() + CLAIM_WINDOW_CLOSES
    return ClaimWindow(
        opens_at=local + CLAIM_WINDOW_OPENS,
        closes_at=datetime.combine(last_day, time.max, tzinfo=SHANGHAI),
    )


def format_moment(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def format_day(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d")


def window_blocker(now: datetime, succeeded_at: datetime) -> str | None:
    """Why `now` is outside the claim window, or None when a claim may be filed now."""
    window = claim_window(succeeded_at)
    if now < window.opens_at:
        return _("available from %(date)s") % {"date": format_moment(window.opens_at)}
    if now > window.closes_at:
        return _("the claim window closed on %(date)s") % {"date": format_day(window.closes_at)}
    return None


def may_complain_now(service_order_status: str, succeeded_at: datetime | None, now: datetime) -> bool:
    """Whether a service order may be complained about at `now`: claimable and inside its window."""
    if service_order_status not in CLAIMABLE_STATUSES or succeeded_at is None:
        return False
    return window_blocker(now, succeeded_at) is None


def claim_blocker(
    now: datetime, succeeded_at: datetime | None, service_order_status: str, has_live_claim: bool
) -> str | None:
    """Why no claim can be filed on this service order at `now`, or None.

    Checked in this order: the service order's status (the interception must have succeeded and the
    parcel must not be back in one piece), an existing live claim, then the window.
    """
    if service_order_status == "returned":
        return _("the parcel came back: there is nothing to claim")
    if service_order_status not in CLAIMABLE_STATUSES or succeeded_at is None:
        return _("only an interception that succeeded can be claimed for")
    if has_live_claim:
        return _("this service order already has a claim")
    return window_blocker(now, succeeded_at)


def amount_blocker(amount: Decimal | None, goods_value: Decimal) -> str | None:
    """Why `amount` cannot be claimed on goods worth `goods_value`, or None.

    More than 0.00, in whole fen, at most the goods' value and at most CLAIM_CAP (1000.00 yuan).
    """
    if amount is None or amount <= 0:
        return _("the amount must be more than 0.00 yuan")
    if amount != amount.quantize(MONEY_STEP):
        return _("the amount has at most two decimals")
    if amount > CLAIM_CAP:
        return _("a claim is at most %(cap)s yuan") % {"cap": CLAIM_CAP}
    if amount > goods_value:
        return _("a claim is at most the goods' value, %(value)s yuan") % {"value": goods_value}
    return None


def settle_amount_blocker(amount: Decimal | None, limit: Decimal) -> str | None:
    """Why `amount` cannot be accepted or compensated when at most `limit` may be, or None."""
    if amount is None or amount <= 0:
        return _("the amount must be more than 0.00 yuan")
    if amount != amount.quantize(MONEY_STEP):
        return _("the amount has at most two decimals")
    if amount > limit:
        return _("the amount is at most %(limit)s yuan") % {"limit": limit}
    return None


def answer_days() -> int:
    """Days the outlet has to answer a submitted claim (setting SETTLEMENT_CLAIM_ANSWER_DAYS, default 3)."""
    return int(getattr(settings, "SETTLEMENT_CLAIM_ANSWER_DAYS", 3))


def answer_deadline(filed_at: datetime) -> datetime:
    """A submitted claim still unanswered at this moment (or later) goes to platform arbitration."""
    return filed_at + timedelta(days=answer_days())


def is_unanswered_too_long(now: datetime, filed_at: datetime) -> bool:
    return now >= answer_deadline(filed_at)


# --- an accepted claim that is not paid ------------------------------------------------------------

REMIND = "remind"  # the outlet is told that the claim it accepted is still unpaid
ESCALATE = "escalate"  # the claim goes to platform arbitration


def payment_reminder_days() -> int:
    """Days after the acceptance before the outlet is reminded (SETTLEMENT_CLAIM_PAYMENT_REMINDER_DAYS, 7)."""
    return int(getattr(settings, "SETTLEMENT_CLAIM_PAYMENT_REMINDER_DAYS", 7))


def payment_escalation_days() -> int:
    """Days after the acceptance before arbitration (SETTLEMENT_CLAIM_PAYMENT_ESCALATION_DAYS, 14)."""
    return int(getattr(settings, "SETTLEMENT_CLAIM_PAYMENT_ESCALATION_DAYS", 14))


def payment_step(
    now: datetime,
    *,
    accepted_at: datetime,
    reminded_at: datetime | None,
    remind_after: timedelta,
    escalate_after: timedelta,
) -> str | None:
    """What is due at `now` for a claim accepted at `accepted_at` and still unpaid: REMIND, ESCALATE or None.

    Counted in whole 24-hour days from the acceptance, like the answer deadline; each bound included
    (accepted 2026-11-01 10:00, 7 days: reminded from 2026-11-08 10:00). The reminder is given once
    (`reminded_at` set: nothing more until the escalation). Once the escalation is due it wins, reminded
    or not: a worker that was down for a week does not hold the claim back for another reminder.
    """
    waited = now - accepted_at
    if waited >= escalate_after:
        return ESCALATE
    if reminded_at is None and waited >= remind_after:
        return REMIND
    return None


def payment_due(now: datetime, accepted_at: datetime, reminded_at: datetime | None) -> str | None:
    """`payment_step` with the settings' figures."""
    return payment_step(
        now,
        accepted_at=accepted_at,
        reminded_at=reminded_at,
        remind_after=timedelta(days=payment_reminder_days()),
        escalate_after=timedelta(days=payment_escalation_days()),
    )


def payment_escalation_at(accepted_at: datetime) -> datetime:
    """An accepted claim still unpaid at this moment (or later) goes to platform arbitration."""
    return accepted_at + timedelta(days=payment_escalation_days())


def days_between(now: datetime, moment: datetime) -> int:
    """Calendar days from today to the day of `moment`, in Asia/Shanghai (negative: it has passed)."""
    return (_local_date(moment) - _local_date(now)).days


def _local_date(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def window_closed_before(now: datetime) -> datetime:
    """Interceptions that succeeded before this moment have a closed claim window at `now`.

    The window of a success on day D closes at the end of D + 30, so it is closed today exactly when
    D is before today − 30 days: the start of that day, in Asia/Shanghai.
    """
    first_open_day = _local_date(now) - CLAIM_WINDOW_CLOSES
    return datetime.combine(first_open_day, time.min, tzinfo=SHANGHAI)


def window_facts(service_order, now: datetime) -> dict:
    """The claim window of a service order as the pages show it (empty when it never succeeded)."""
    if service_order.succeeded_at is None:
        return {}
    window = claim_window(service_order.succeeded_at)
    return {
        "opens_at": window.opens_at,
        "closes_at": window.closes_at,
        "opens_in": days_between(now, window.opens_at),
        "closes_in": days_between(now, window.closes_at),
        "is_open": window.opens_at <= now <= window.closes_at,
        "not_open_yet": now < window.opens_at,
        "closed": now > window.closes_at,
    }
