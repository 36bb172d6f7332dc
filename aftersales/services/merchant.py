"""The merchant's writes on after-sales: agree, receive, reject, pay a small amount, flag, send a card.

Each locks the after-sale (another shop's is NotFound), refuses a stale page, checks the rule, writes.
"""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shop import permissions
from shop.errors import DomainError, NotFound
from shop.models import Order, OrderLine, Parcel, Shop
from shop.permissions import PermissionSet

from .. import ledger, locks, notifications, rules
from ..models import Actor, AfterSale, AfterSaleLog, EvidenceImage, RefundEntry
from . import base
from .buyer import application_facts

S = AfterSale.Status


def action_facts(after_sale: AfterSale) -> rules.ActionFacts:
    return rules.ActionFacts(
        status=after_sale.status,
        type=after_sale.type,
        parcel_status=after_sale.parcel.status if after_sale.parcel_id else None,
        line_refundable=after_sale.line.refundable_amount,
        amount=after_sale.amount - after_sale.refunded_amount,
    )


def _ensure(blocker: str | None) -> None:
    if blocker:
        raise DomainError(blocker[:1].upper() + blocker[1:] + ".", code="not_allowed")


def _merchant_after_sale(after_sale_id: int, shop: Shop, expected_version: int | None) -> AfterSale:
    after_sale = locks.lock_after_sale(after_sale_id, shop=shop)
    base.check_version(after_sale, expected_version)
    if after_sale.parcel_id:
        after_sale.parcel = Parcel.objects.get(pk=after_sale.parcel_id)
    return after_sale


@transaction.atomic
def agree_refund(
    *, after_sale_id: int, shop: Shop, user, expected_version: int | None = None, at: datetime | None = None
) -> AfterSale:
    permissions.require(user, PermissionSet.AFTERSALES)
    after_sale = _merchant_after_sale(after_sale_id, shop, expected_version)
    _ensure(rules.agree_refund_blocker(action_facts(after_sale)))
    return agreed_refund(after_sale, user=user, at=at)


def agreed_refund(after_sale: AfterSale, *, user, at: datetime | None) -> AfterSale:
    """The writes of agreeing a refund, on an after-sale locked and checked by the caller."""
    base.refund(after_sale, actor=Actor.MERCHANT, user=user, at=at, reason=_("The merchant agreed the refund"))
    return after_sale


@transaction.atomic
def agree_return(
    *, after_sale_id: int, shop: Shop, user, expected_version: int | None = None, at: datetime | None = None
) -> AfterSale:
    permissions.require(user, PermissionSet.AFTERSALES)
    after_sale = _merchant_after_sale(after_sale_id, shop, expected_version)
    _ensure(rules.agree_return_blocker(action_facts(after_sale)))
    now = at or timezone.now()
    base.transition(
        after_sale,
        S.AWAITING_BUYER_RETURN,
        actor=Actor.MERCHANT,
        user=user,
        at=now,
        deadline=now + rules.BUYER_RETURN_DEADLINE,
        message=_("The merchant agreed the return"),
    )
    notifications.notify_buyer(after_sale, "return_agreed", at=now)
    return after_sale


@transaction.atomic
def confirm_receipt_and_refund(
    *, after_sale_id: int, shop: Shop, user, expected_version: int | None = None, at: datetime | None = None
) -> AfterSale:
    permissions.require(user, PermissionSet.AFTERSALES)
    after_sale = _merchant_after_sale(after_sale_id, shop, expected_version)
    _ensure(rules.confirm_receipt_blocker(action_facts(after_sale)))
    base.refund(after_sale, actor=Actor.MERCHANT, user=user, at=at, reason=_("The merchant received the goods back"))
    return after_sale


@transaction.atomic
def reject_after_sale(
    *,
    after_sale_id: int,
    shop: Shop,
    user,
    reason: str,
    note: str,
    evidence: Iterable,
    expected_version=None,
    at: datetime | None = None,
) -> AfterSale:
    """Reject with a reason from the list and at least one evidence image (already validated)."""
    permissions.require(user, PermissionSet.AFTERSALES)
    at = at or timezone.now()
    evidence = list(evidence)
    if not evidence:
        raise DomainError(_("Attach at least one evidence image."), code="evidence_required")
    if reason not in AfterSale.RejectReason.values:
        raise DomainError(_("Choose a reason from the list."), code="invalid_reason")
    after_sale = _merchant_after_sale(after_sale_id, shop, expected_version)
    _ensure(rules.reject_blocker(action_facts(after_sale)))
    return rejected(after_sale, user=user, reason=reason, note=note, evidence=evidence, at=at)


def rejected(after_sale: AfterSale, *, user, reason: str, note: str, evidence: list, at: datetime) -> AfterSale:
    """The writes of a rejection, on an after-sale locked and checked by the caller (evidence validated)."""
    after_sale.reject_reason, after_sale.reject_note = reason, note[:500]
    base.save(after_sale, "reject_reason", "reject_note")
    for upload in evidence:
        EvidenceImage.objects.create(
            after_sale=after_sale,
            image=upload,
            content_type=upload.content_type,
            size=upload.size,
            uploaded_by=user,
            uploaded_at=at,
        )
    label = AfterSale.RejectReason(reason).label
    base.transition(after_sale, S.REJECTED, actor=Actor.MERCHANT, user=user, at=at, message=f"{label} {note}".strip())
    notifications.notify_buyer(after_sale, "rejected", at=at, reason=str(label), note=note)
    return after_sale


@transaction.atomic
def pay_small_amount(
    *,
    after_sale_id: int,
    shop: Shop,
    user,
    amount: Decimal,
    reason: str,
    idempotency_key: str,
    expected_version: int | None = None,
    at: datetime | None = None,
) -> AfterSale:
    """Merchant-initiated compensation (小额打款) on the after-sale's line, into the ledger.

    The same idempotency key again (a double submit) pays nothing more and writes nothing.
    """
    permissions.require(user, PermissionSet.AFTERSALES)
    after_sale = _merchant_after_sale(after_sale_id, shop, None)
    key = f"small-payment:{after_sale.line_id}:{idempotency_key}"
    # Checked under the lock and before the version: the repeat of a payment is not a stale page.
    if RefundEntry.objects.filter(idempotency_key=key).exists():
        return after_sale
    base.check_version(after_sale, expected_version)
    _ensure(rules.small_payment_blocker(line_refundable=after_sale.line.refundable_amount, amount=amount))
    ledger.record_refund(
        line=after_sale.line,
        after_sale=None,
        kind="small_payment",
        amount=amount,
        actor=Actor.MERCHANT,
        user=user,
        reason=reason,
        idempotency_key=key,
        at=at,
    )
    base.log(
        after_sale,
        AfterSaleLog.Action.REFUND,
        actor=Actor.MERCHANT,
        user=user,
        at=at,
        message=_("Small payment of %(amount)s yuan: %(reason)s") % {"amount": f"{amount:.2f}", "reason": reason},
    )
    base.save(after_sale)
    return after_sale


@transaction.atomic
def pay_small_amount_on_line(
    *, shop: Shop, order_no: str, line_no: str, user, amount: Decimal, reason: str, idempotency_key: str
) -> RefundEntry:
    """A small payment (小额打款) on an order line outside any after-sale, into the ledger.

    Capped exactly as the ledger caps it: above what is left to refund on the line it is refused with
    `amount_exceeds_refundable`, also under concurrent calls (the line is locked, the counters move
    by guarded UPDATEs). The same idempotency key again pays nothing more and returns the first entry.
    """
    permissions.require(user, PermissionSet.AFTERSALES)
    line = locks.lock_line(shop=shop, order_no=order_no, line_no=line_no)
    key = f"small-payment:{line.pk}:{idempotency_key}"
    existing = RefundEntry.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    blocker = rules.small_payment_blocker(line_refundable=line.refundable_amount, amount=amount)
    if blocker:
        raise DomainError(blocker[:1].upper() + blocker[1:] + ".", code="amount_exceeds_refundable")
    return ledger.record_refund(
        line=line,
        after_sale=None,
        kind=RefundEntry.Kind.SMALL_PAYMENT,
        amount=amount,
        actor=Actor.MERCHANT,
        user=user,
        reason=reason,
        idempotency_key=key,
    )


@transaction.atomic
def flag_and_remark(
    *,
    shop: Shop,
    user,
    versions: dict[int, int],
    flag: str | None = None,
    remark: str | None = None,
    at: datetime | None = None,
) -> list[AfterSale]:
    """Set the flag and/or remark of one or many after-sales; all or none if any page was stale."""
    permissions.require(user, PermissionSet.AFTERSALES)
    if flag is None and remark is None:
        raise DomainError(_("Choose a flag or write a remark."), code="nothing_to_do")
    if flag is not None and flag not in AfterSale.Flag.values:
        raise DomainError(_("Unknown flag colour."), code="invalid_flag")
    ids = sorted(versions)
    if not ids:
        raise DomainError(_("Select at least one after-sale."), code="nothing_selected")
    rows = list(AfterSale.objects.select_for_update().filter(shop=shop, pk__in=ids).order_by("pk"))
    if len(rows) != len(ids):
        raise NotFound(_("After-sale not found."))
    for after_sale in rows:
        base.check_version(after_sale, versions[after_sale.pk])
    now = at or timezone.now()
    for after_sale in rows:
        fields = []
        if flag is not None and flag != after_sale.flag:
            after_sale.flag = flag
            fields.append("flag")
            base.log(
                after_sale,
                AfterSaleLog.Action.FLAG,
                actor=Actor.MERCHANT,
                user=user,
                at=now,
                message=AfterSale.Flag(flag).label,
            )
        if remark is not None and remark != after_sale.remark:
            after_sale.remark = remark[:500]
            fields.append("remark")
            base.log(after_sale, AfterSaleLog.Action.REMARK, actor=Actor.MERCHANT, user=user, at=now, message=remark)
        if fields:
            base.save(after_sale, *fields)
    return rows


@transaction.atomic
def send_after_sale_card(
    *,
    shop: Shop,
    user,
    line_id: int,
    after_sale_id: int | None = None,
    expected_version: int | None = None,
    at: datetime | None = None,
):
    """Invite the buyer to apply (飞鸽 card), only when the application rules allow an application.

    Sent from an after-sale's page (`after_sale_id`): refused when that page is stale, and recorded in
    that after-sale's history.
    """
    permissions.require(user, PermissionSet.AFTERSALES)
    line = OrderLine.objects.filter(pk=line_id, order__shop=shop).values("order_id").first()
    if line is None:
        raise NotFound(_("Order line not found."))
    order = Order.objects.select_for_update().get(pk=line["order_id"])
    line = OrderLine.objects.select_for_update().get(pk=line_id)
    after_sale = None
    if after_sale_id is not None:
        after_sale = AfterSale.objects.select_for_update().filter(pk=after_sale_id, line=line).first()
        if after_sale is None:
            raise NotFound(_("After-sale not found."))
        base.check_version(after_sale, expected_version)
    try:
        rules.check_application(application_facts(order, line), type=AfterSale.Type.REFUND_ONLY, amount=None)
    except rules.Refusal as refusal:
        raise DomainError(refusal.message, code=refusal.code) from None
    notification = notifications.notify_card(order=order, line=line, user=user, at=at)
    if after_sale is not None:
        base.log(
            after_sale,
            AfterSaleLog.Action.NOTIFICATION,
            actor=Actor.MERCHANT,
            user=user,
            at=at,
            message=notifications.MESSAGES["card"],
        )
    return notification
