"""After-sale rules as pure functions: no database access. Every figure of domain.md lives here.

Callers load the facts (order, line, shop, parcel, counts) under the right locks and pass them in;
the functions answer with a decision or the reason for a refusal.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from shop.models import Order, Parcel

from .models import Actor, AfterSale

# --- figures (domain.md, "Figures at a glance") --------------------------------------------------
MAX_APPLICATIONS_PER_ORDER = 5
REFUSAL_AMOUNT_LIMIT = Decimal("1000.00")  # refund after refusal: strictly below this
NEW_APPLICATION_DEADLINE = timedelta(hours=48)
REFUND_AFTER_REFUSAL_DEADLINE = timedelta(days=7)
PARCEL_RESOLVED_DEADLINE = timedelta(hours=48)  # after interception success, refusal or sign-for
RETURN_RECEIPT_DEADLINE = timedelta(days=7)  # merchant confirms receipt after the buyer ships back
BUYER_RETURN_DEADLINE = timedelta(days=7)  # buyer ships the goods back (inferred)
ABUSE_WINDOW = timedelta(days=90)
ABOUT_TO_TIME_OUT = timedelta(hours=12)  # the "即将超时" quick view

S = AfterSale.Status
T = AfterSale.Type


class Refusal(Exception):
    """A rule refuses: `code` is the contract's 409 code, `message` is for people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = str(message)


# --- may this application be made? ---------------------------------------------------------------
@dataclass(frozen=True)
class ApplicationFacts:
    order_status: str
    applications_so_far: int  # cancelled ones included
    order_refundable: Decimal  # paid minus all refunds of the order
    line_refundable: Decimal
    line_domestic_physical: bool
    line_has_open_after_sale: bool


def check_application(facts: ApplicationFacts, *, type: str, amount: Decimal | None) -> None:
    """Raise Refusal with the first failing rule, in the contract's order; amount None: any amount.

    The same rules decide whether the merchant may send an after-sale card (amount None).
    """
    if facts.order_status in (Order.Status.PENDING_PAYMENT, Order.Status.CLOSED):
        raise Refusal("order_status", _("An unpaid or closed order takes no after-sale request."))
    if facts.order_status == Order.Status.PREPARING:
        if type != T.REFUND_ONLY:
            raise Refusal("order_status", _("Before shipping, the buyer can only ask for a refund."))
        if amount is not None and amount != facts.line_refundable:
            raise Refusal("order_status", _("Before shipping, only a full refund of the line can be asked."))
    if facts.applications_so_far >= MAX_APPLICATIONS_PER_ORDER:
        raise Refusal(
            "application_limit",
            _("The order already has %(n)s applications, cancelled ones included.") % {"n": MAX_APPLICATIONS_PER_ORDER},
        )
    if facts.order_refundable <= 0:
        raise Refusal("nothing_refundable", _("Nothing of the order is left to refund."))
    if facts.applications_so_far > 0 and not facts.line_domestic_physical:
        raise Refusal("not_domestic_physical", _("A repeat application is only for domestic physical goods."))
    if facts.line_has_open_after_sale:
        raise Refusal("open_after_sale_exists", _("The line already has an open after-sale."))
    if amount is not None and amount > facts.line_refundable:
        raise Refusal(
            "amount_exceeds_refundable",
            _("The amount is above what is left to refund on the line (%(left)s yuan).")
            % {"left": f"{facts.line_refundable:.2f}"},
        )


# --- refund after refusal ------------------------------------------------------------------------
@dataclass(frozen=True)
class RefusalFacts:
    type: str
    reason: str
    amount: Decimal
    shop_cross_border: bool
    shop_hainan_duty_free: bool
    parcel_status: str | None  # None: the line has not shipped
    courier_supported: bool
    category: str


def refund_after_refusal_blocker(facts: RefusalFacts) -> str | None:
    """Why the platform will not agree "refund after refusal" automatically, or None when it will."""
    if facts.type != T.REFUND_ONLY or facts.reason != AfterSale.Reason.NOT_RECEIVED:
        return str(_("only for refund-only requests of goods not received"))
    if facts.parcel_status is None:
        return str(_("the goods have not shipped"))
    if facts.shop_cross_border or facts.shop_hainan_duty_free:
        return str(_("not for cross-border or Hainan duty-free shops"))
    if facts.amount >= REFUSAL_AMOUNT_LIMIT:
        return str(_("amount over limit: must be below %(limit)s yuan") % {"limit": f"{REFUSAL_AMOUNT_LIMIT:.2f}"})
    if facts.parcel_status not in Parcel.MOVING_STATUSES:
        return str(_("the parcel is not normally in transit"))
    if not facts.courier_supported:
        return str(_("the courier is not supported"))
    if facts.category in settings.AFTERSALES_UNSUPPORTED_REFUSAL_CATEGORIES:
        return str(_("the category is not supported"))
    return None


# --- deadlines -----------------------------------------------------------------------------------
def deadline_after_parcel_resolved(current: datetime | None, resolved_at: datetime) -> datetime:
    """48 hours from the resolution, unless less than 48 hours remain (then the deadline stays)."""
    candidate = resolved_at + PARCEL_RESOLVED_DEADLINE
    if current is not None and current <= candidate:
        return current
    return candidate


def initial_deadline(status: str, applied_at: datetime) -> datetime | None:
    if status == S.REFUND_AFTER_REFUSAL:
        return applied_at + REFUND_AFTER_REFUSAL_DEADLINE
    if status == S.PENDING_MERCHANT:
        return applied_at + NEW_APPLICATION_DEADLINE
    return None


# --- timeouts ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimeoutAction:
    to_status: str
    refund: bool  # the platform refunds the requested amount
    deadline: timedelta | None  # the next deadline, from the moment of the timeout


def timeout_action(status: str, type: str) -> TimeoutAction | None:
    """What the platform does for the merchant when the deadline passes (domain.md, "Deadlines")."""
    if status == S.PENDING_MERCHANT:
        if type == T.RETURN_REFUND:
            return TimeoutAction(S.AWAITING_BUYER_RETURN, refund=False, deadline=BUYER_RETURN_DEADLINE)
        return TimeoutAction(S.REFUNDED, refund=True, deadline=None)
    if status in (S.REFUND_AFTER_REFUSAL, S.AWAITING_MERCHANT_RECEIPT):
        return TimeoutAction(S.REFUNDED, refund=True, deadline=None)
    if status == S.AWAITING_BUYER_RETURN:
        # The buyer never sent the goods back: the request lapses (inferred).
        return TimeoutAction(S.CLOSED, refund=False, deadline=None)
    return None  # arbitration and closed statuses have no merchant deadline


# --- the merchant's actions ----------------------------------------------------------------------
@dataclass(frozen=True)
class ActionFacts:
    status: str
    type: str
    parcel_status: str | None
    line_refundable: Decimal
    amount: Decimal


def _open_or_reason(facts: ActionFacts) -> str | None:
    if facts.status not in AfterSale.OPEN_STATUSES:
        return str(_("the after-sale is closed"))
    if facts.status == S.ARBITRATION:
        return str(_("the platform is deciding this after-sale"))
    return None


def agree_refund_blocker(facts: ActionFacts) -> str | None:
    if reason := _open_or_reason(facts):
        return reason
    if facts.status == S.PENDING_MERCHANT and facts.type == T.RETURN_REFUND:
        return str(_("a return and refund is agreed with “agree return” first"))
    if facts.status in (S.AWAITING_BUYER_RETURN, S.AWAITING_MERCHANT_RECEIPT):
        return str(_("refund once the returned goods are received"))
    if facts.line_refundable < facts.amount:
        return str(_("the amount is above what is left to refund on the line"))
    return None


def agree_return_blocker(facts: ActionFacts) -> str | None:
    if reason := _open_or_reason(facts):
        return reason
    if facts.type != T.RETURN_REFUND:
        return str(_("only for return and refund requests"))
    if facts.status != S.PENDING_MERCHANT:
        return str(_("the return was already agreed"))
    return None


def confirm_receipt_blocker(facts: ActionFacts) -> str | None:
    if reason := _open_or_reason(facts):
        return reason
    if facts.status != S.AWAITING_MERCHANT_RECEIPT:
        return str(_("the buyer has not shipped the goods back yet"))
    if facts.line_refundable < facts.amount:
        return str(_("the amount is above what is left to refund on the line"))
    return None


def reject_blocker(facts: ActionFacts) -> str | None:
    if reason := _open_or_reason(facts):
        return reason
    if facts.status == S.REFUND_AFTER_REFUSAL and facts.parcel_status != Parcel.Status.SIGNED:
        return str(_("the platform agreed refund after refusal: reject only once the buyer has signed for the parcel"))
    if facts.status == S.AWAITING_BUYER_RETURN:
        return str(_("the buyer is sending the goods back"))
    return None


def _refund_only_parcel_blocker(facts: ActionFacts, status: str, not_there) -> str | None:
    """Why this is not an open refund-only request whose parcel is in `status` (`not_there`: the message
    naming the parcel's actual status), or None."""
    if reason := _open_or_reason(facts):
        return reason
    if facts.type != T.REFUND_ONLY:
        return str(_("not a refund-only request"))
    if facts.parcel_status is None:
        return str(_("the goods were not shipped"))
    if facts.parcel_status != status:
        return str(not_there % {"status": Parcel.Status(facts.parcel_status).label})
    return None


def signed_reject_blocker(facts: ActionFacts) -> str | None:
    """May this after-sale be rejected in bulk with reason 已签收 (seed 002, steps 2-3)?

    Only a refund-only request whose parcel the buyer has signed for: a returned parcel means the goods
    are back with the merchant, which is no reason to reject.
    """
    not_signed = _("the parcel is not signed for (now: %(status)s)")
    return _refund_only_parcel_blocker(facts, Parcel.Status.SIGNED, not_signed) or reject_blocker(facts)


def returned_refund_blocker(facts: ActionFacts) -> str | None:
    """May this after-sale be refunded in bulk because its parcel came back (seed 002, steps 2-3)?

    Only a refund-only request whose parcel is back with the merchant: the goods are home, the buyer
    never had them.
    """
    not_back = _("the parcel has not come back (now: %(status)s)")
    return _refund_only_parcel_blocker(facts, Parcel.Status.RETURNED, not_back) or agree_refund_blocker(facts)


def small_payment_blocker(*, line_refundable: Decimal, amount: Decimal | None = None) -> str | None:
    if line_refundable <= 0:
        return str(_("nothing is left to refund on the line"))
    if amount is not None and amount > line_refundable:
        return str(
            _("the amount is above what is left to refund on the line (%(left)s yuan)")
            % {"left": f"{line_refundable:.2f}"}
        )
    return None


def refund_kind(type: str) -> str:
    """The ledger kind of a refund paid for an after-sale of this type."""
    from .models import RefundEntry

    return {
        T.REFUND_ONLY: RefundEntry.Kind.REFUND_ONLY,
        T.RETURN_REFUND: RefundEntry.Kind.RETURN_REFUND,
        T.PRICE_PROTECTION: RefundEntry.Kind.PRICE_PROTECTION,
    }[type]


def is_about_to_time_out(deadline: datetime | None, now: datetime) -> bool:
    return deadline is not None and now <= deadline < now + ABOUT_TO_TIME_OUT


SYSTEM_ACTORS = (Actor.TIMEOUT, Actor.PLATFORM, Actor.ASSISTANT_RULE, Actor.INTERCEPTION)
