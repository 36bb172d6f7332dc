"""Interception rules as pure functions: eligibility, fee selection, outlets, the assistant rule's match."""

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from aftersales.models import AfterSale
from shop.models import Outlet, Parcel

ONLINE_FEE = Decimal("3.00")  # per order, charged on success, passed on to the courier

# The preview of a launch warns about these (with a count and "leave these out"): an automatic refund
# this large deserves a second look, whoever the buyer is.
LARGE_AMOUNT_WARNING = Decimal("1000.00")
# A merchant who stopped a parcel by hand writes it in the remark ("11-28 已拦截"); interception
# success writes the same ("%(date)s intercepted"). Any mention of an interception counts.
ALREADY_INTERCEPTED_REMARK = re.compile(r"拦截|intercept", re.IGNORECASE)

# Minutes a service order may stay "submitted" or "processing" without news from the carrier before the
# stuck-orders sweep asks the carrier (or sends it again), per courier code; data, not code: the setting
# CARRIER_RESULT_TIMEOUT_MINUTES (a dict of the same shape) replaces this one when it is set.
RESULT_TIMEOUT_MINUTES_DEFAULT = 30
RESULT_TIMEOUT_MINUTES: dict[str, int] = {"YTO": 30, "JT": 30}


def result_timeouts() -> tuple[dict[str, timedelta], timedelta]:
    """(per-courier result timeouts, the timeout of any other courier)."""
    minutes = getattr(settings, "CARRIER_RESULT_TIMEOUT_MINUTES", None)
    minutes = RESULT_TIMEOUT_MINUTES if minutes is None else minutes
    default = getattr(settings, "CARRIER_RESULT_TIMEOUT_MINUTES_DEFAULT", RESULT_TIMEOUT_MINUTES_DEFAULT)
    return {code: timedelta(minutes=m) for code, m in minutes.items()}, timedelta(minutes=default)


@dataclass(frozen=True)
class Eligibility:
    after_sale_status: str
    after_sale_type: str
    parcel_status: str | None  # None: not shipped
    courier_supports_online: bool
    has_live_service_order: bool


def interception_blocker(facts: Eligibility) -> str | None:
    """Why this parcel cannot be intercepted for this after-sale now, or None."""
    if facts.after_sale_type != AfterSale.Type.REFUND_ONLY:
        return str(_("only refund-only after-sales are intercepted"))
    if facts.after_sale_status not in (AfterSale.Status.PENDING_MERCHANT, AfterSale.Status.REFUND_AFTER_REFUSAL):
        return str(_("the after-sale is not open for a refund"))
    if facts.parcel_status is None:
        return str(_("the goods have not shipped"))
    if facts.has_live_service_order:
        return str(_("an interception of this parcel is already under way or done"))
    if facts.parcel_status == Parcel.Status.SIGNED:
        return str(_("already signed"))
    if facts.parcel_status not in Parcel.MOVING_STATUSES:
        return str(_("the parcel is not on its way to the buyer"))
    if not facts.courier_supports_online:
        return str(_("unsupported courier"))
    return None


@dataclass(frozen=True)
class Fee:
    mode: str
    amount: Decimal
    partnership_id: int | None


def fee_for(*, active_partnership_id: int | None, partnership_fee: Decimal | None) -> Fee:
    """Offline at the partnership's fee whenever the shop has an active one with the parcel's outlet."""
    if active_partnership_id is not None and partnership_fee is not None:
        return Fee(mode="offline", amount=partnership_fee, partnership_id=active_partnership_id)
    return Fee(mode="online", amount=ONLINE_FEE, partnership_id=None)


def assistant_rule_matches(
    *, enabled: bool, min_amount: Decimal, max_amount: Decimal, courier_ids: set[int], amount: Decimal, courier_id: int
) -> bool:
    """The "快递拦截自动退" rule: on, amount within range, courier chosen (no courier chosen: all)."""
    if not enabled:
        return False
    if not min_amount <= amount <= max_amount:
        return False
    return not courier_ids or courier_id in courier_ids


def assistant_rule_applies(rule, after_sale: AfterSale, courier_ids: set[int]) -> bool:
    """Whether the shop's rule intercepts this after-sale now: an open refund-only request whose parcel
    is still on its way, within the rule's amounts and couriers. `rule` an AssistantRule, read only."""
    parcel = after_sale.parcel
    if parcel is None or after_sale.type != AfterSale.Type.REFUND_ONLY or not after_sale.is_open:
        return False
    if parcel.status not in Parcel.MOVING_STATUSES:
        return False
    return assistant_rule_matches(
        enabled=rule.enabled,
        min_amount=rule.min_amount,
        max_amount=rule.max_amount,
        courier_ids=courier_ids,
        amount=after_sale.amount,
        courier_id=parcel.courier_id,
    )


def outlet_blocker(outlet: Outlet) -> str | None:
    """Why the merchant cannot choose this outlet for offline settlement, or None."""
    if not outlet.courier.supports_offline_settlement:
        return gettext("%(courier)s does not offer offline settlement") % {"courier": outlet.courier.name}
    if not outlet.uses_platform_ewaybill:
        return gettext("the outlet does not use the platform e-waybill")
    return None


class LaunchWarning:
    """The codes of the preview's warnings, in the order the preview shows them."""

    LARGE_AMOUNT = "large_amount"  # the refund success pays is LARGE_AMOUNT_WARNING or more
    ABUSE = "abuse"  # the buyer is over the refund-abuse threshold (the workbench's 疑似羊毛党 hint)
    ALREADY_INTERCEPTED = "already_intercepted"  # the remark or history says it was intercepted before
    PRECHECK_REFUSED = "precheck_refused"  # the eligibility check or the carrier's pre-check refuses it


WARNING_CODES = (
    LaunchWarning.LARGE_AMOUNT,
    LaunchWarning.ABUSE,
    LaunchWarning.ALREADY_INTERCEPTED,
    LaunchWarning.PRECHECK_REFUSED,
)
# A refused parcel is never launched: its warning only counts the parcels already left out.
LEAVABLE_WARNING_CODES = frozenset(WARNING_CODES) - {LaunchWarning.PRECHECK_REFUSED}


def remark_says_intercepted(remark: str) -> bool:
    """Whether the merchant's remark says the parcel was already intercepted ("11-28 已拦截")."""
    return bool(ALREADY_INTERCEPTED_REMARK.search(remark or ""))


@dataclass(frozen=True)
class WarningFacts:
    refund: Decimal  # what success refunds automatically
    buyer_over_abuse_threshold: bool
    remark: str
    earlier_interception: bool  # a service order of the after-sale or its parcel, or an interception history row
    refused: bool  # the eligibility check or the carrier's pre-check refuses the parcel


def launch_warnings(facts: WarningFacts) -> list[str]:
    """The warning codes of one candidate of a launch, in WARNING_CODES order."""
    codes = []
    if facts.refund >= LARGE_AMOUNT_WARNING:
        codes.append(LaunchWarning.LARGE_AMOUNT)
    if facts.buyer_over_abuse_threshold:
        codes.append(LaunchWarning.ABUSE)
    if facts.earlier_interception or remark_says_intercepted(facts.remark):
        codes.append(LaunchWarning.ALREADY_INTERCEPTED)
    if facts.refused:
        codes.append(LaunchWarning.PRECHECK_REFUSED)
    return codes


def warning_label(code: str) -> str:
    """The preview's (and the API message's) words for a warning code."""
    labels = {
        LaunchWarning.LARGE_AMOUNT: gettext("Refund of %(amount)s yuan or more")
        % {"amount": f"{LARGE_AMOUNT_WARNING:,.2f}"},
        LaunchWarning.ABUSE: gettext("Buyer over the refund-abuse threshold (possible refund abuse)"),
        LaunchWarning.ALREADY_INTERCEPTED: gettext("Already intercepted (remark or history)"),
        LaunchWarning.PRECHECK_REFUSED: gettext("Cannot be intercepted now (eligibility or pre-check): left out"),
    }
    return labels[code]


def parse_leave_out(values) -> frozenset[str]:
    """The warning codes to leave out, from posted values: unknown and unleavable codes are ignored."""
    return frozenset(str(v) for v in values) & LEAVABLE_WARNING_CODES
