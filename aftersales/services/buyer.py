"""The buyer's writes, through the platform's events API: apply, withdraw, ship the goods back."""

from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from shop import changes
from shop.errors import DomainError, NotFound
from shop.models import Order, OrderLine

from .. import locks, notifications, rules
from ..models import Actor, AfterSale, AfterSaleLog
from . import base

S = AfterSale.Status


def application_facts(order: Order, line: OrderLine) -> rules.ApplicationFacts:
    return _application_facts(order, line)[1]


def _application_facts(
    order: Order, line: OrderLine, *, after_sale_no: str = ""
) -> tuple[bool, rules.ApplicationFacts]:
    """(an after-sale numbered `after_sale_no` exists, the facts of an application on the line), in
    one query: the order's after-sales and the one of that number, each counted by what a rule asks."""
    same_no = Q(after_sale_no=after_sale_no) if after_sale_no else Q(pk__in=[])
    counts = AfterSale.objects.filter(Q(order=order) | same_no).aggregate(
        same_no=Count("pk", filter=same_no),
        of_order=Count("pk", filter=Q(order=order)),
        open_on_line=Count("pk", filter=Q(line=line, status__in=AfterSale.OPEN_STATUSES)),
    )
    facts = rules.ApplicationFacts(
        order_status=order.status,
        applications_so_far=counts["of_order"],
        order_refundable=order.refundable_amount,
        line_refundable=line.refundable_amount,
        line_domestic_physical=line.domestic_physical,
        line_has_open_after_sale=counts["open_on_line"] > 0,
    )
    return counts["same_no"] > 0, facts


@transaction.atomic
def apply_for_after_sale(
    *, after_sale_no, order_no, line_no, type, reason, amount: Decimal, note: str, at: datetime
) -> AfterSale:
    """A buyer's application. Refuses with the contract's 409 codes; may agree refund after refusal."""
    order = (
        Order.objects.select_for_update(of=("self",))  # not the shop's and buyer's rows
        .select_related("shop", "buyer")
        .filter(order_no=order_no)
        .first()
    )
    if order is None:
        raise NotFound(_("Order %(no)s does not exist.") % {"no": order_no})
    line = OrderLine.objects.select_for_update().filter(order=order, line_no=line_no).first()
    if line is None:
        raise NotFound(_("Order %(order)s has no line %(line)s.") % {"order": order_no, "line": line_no})
    number_taken, facts = _application_facts(order, line, after_sale_no=after_sale_no)
    if number_taken:
        raise DomainError(_("After-sale %(no)s already exists.") % {"no": after_sale_no}, code="already_exists")
    try:
        rules.check_application(facts, type=type, amount=amount)
    except rules.Refusal as refusal:
        raise DomainError(refusal.message, code=refusal.code) from None

    parcel = line.parcels.select_related("courier").order_by("-shipped_at", "-id").first()
    blocker = rules.refund_after_refusal_blocker(
        rules.RefusalFacts(
            type=type,
            reason=reason,
            amount=amount,
            shop_cross_border=order.shop.cross_border,
            shop_hainan_duty_free=order.shop.hainan_duty_free,
            parcel_status=parcel.status if parcel else None,
            courier_supported=bool(parcel and parcel.courier.supports_refund_after_refusal),
            category=line.category,
        )
    )
    status = S.PENDING_MERCHANT if blocker else S.REFUND_AFTER_REFUSAL
    try:
        with transaction.atomic():
            after_sale = AfterSale.objects.create(
                shop=order.shop,
                order=order,
                line=line,
                buyer=order.buyer,
                parcel=parcel,
                after_sale_no=after_sale_no,
                type=type,
                reason=reason,
                buyer_note=note[:500],
                amount=amount,
                status=status,
                sequence=facts.applications_so_far + 1,
                multi_refund=line.refunded_amount > 0,
                deadline=rules.initial_deadline(status, at),
                last_actor=Actor.BUYER if blocker else Actor.PLATFORM,
                applied_at=at,
            )
    except IntegrityError as exc:  # the database's own guard: number per order, one open per line
        raise DomainError(_("The application conflicts with another one just made."), code="already_exists") from exc
    changes.record_change(shop_id=after_sale.shop_id, event=changes.AFTER_SALE_CREATED, object_id=after_sale.pk)
    base.log(
        after_sale, AfterSaleLog.Action.APPLIED, actor=Actor.BUYER, at=at, to_status=S.PENDING_MERCHANT, message=note
    )
    if status == S.REFUND_AFTER_REFUSAL:
        base.log(
            after_sale,
            AfterSaleLog.Action.STATUS,
            actor=Actor.PLATFORM,
            at=at,
            from_status=S.PENDING_MERCHANT,
            to_status=status,
            message=_("Refund after refusal agreed automatically"),
        )
        notifications.notify_buyer(after_sale, "refuse_parcel", at=at)
    elif type == AfterSale.Type.REFUND_ONLY and reason == AfterSale.Reason.NOT_RECEIVED and parcel:
        base.log(
            after_sale,
            AfterSaleLog.Action.STATUS,
            actor=Actor.PLATFORM,
            at=at,
            message=_("Refund after refusal not available: %(why)s") % {"why": blocker},
        )
    return after_sale


def cancel_after_sale(*, after_sale_no: str, at: datetime) -> AfterSale:
    after_sale = locks.lock_after_sale_by_no(after_sale_no)
    if after_sale.status not in (S.PENDING_MERCHANT, S.REFUND_AFTER_REFUSAL, S.AWAITING_BUYER_RETURN):
        raise DomainError(
            _("An after-sale that is “%(status)s” cannot be withdrawn.") % {"status": after_sale.get_status_display()},
            code="invalid_transition",
        )
    base.transition(after_sale, S.CANCELLED, actor=Actor.BUYER, at=at, message=_("The buyer withdrew the request"))
    return after_sale


def record_return_shipped(*, after_sale_no: str, tracking_no: str, courier: str, at: datetime) -> AfterSale:
    after_sale = locks.lock_after_sale_by_no(after_sale_no)
    if after_sale.status != S.AWAITING_BUYER_RETURN:
        raise DomainError(
            _("The buyer can only ship goods back after the merchant agreed the return."), code="invalid_transition"
        )
    after_sale.return_tracking_no, after_sale.return_courier = tracking_no, courier
    base.save(after_sale, "return_tracking_no", "return_courier")
    base.log(
        after_sale, AfterSaleLog.Action.RETURN_SHIPPED, actor=Actor.BUYER, at=at, message=f"{courier} {tracking_no}"
    )
    base.transition(
        after_sale, S.AWAITING_MERCHANT_RECEIPT, actor=Actor.BUYER, at=at, deadline=at + rules.RETURN_RECEIPT_DEADLINE
    )
    return after_sale
