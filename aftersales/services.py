"""Writes on after-sales. Views, admin actions, the events API and tasks all call these.

Lock, then check, then write. Lock order everywhere: order → line → after-sale → refund.
"""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shop import changes
from shop.errors import DomainError, NotFound
from shop.models import Order, OrderLine, Parcel, Shop

from . import ledger, notifications, rules
from .models import Actor, AfterSale, AfterSaleLog, RefundEntry

S = AfterSale.Status

# Which status may follow which; anything else is refused as an invalid transition.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING_MERCHANT: frozenset(
        {S.REFUNDED, S.REJECTED, S.CANCELLED, S.AWAITING_BUYER_RETURN, S.CLOSED, S.ARBITRATION}
    ),
    S.REFUND_AFTER_REFUSAL: frozenset({S.REFUNDED, S.REJECTED, S.CANCELLED, S.CLOSED, S.ARBITRATION}),
    S.AWAITING_BUYER_RETURN: frozenset({S.AWAITING_MERCHANT_RECEIPT, S.CANCELLED, S.CLOSED, S.ARBITRATION}),
    S.AWAITING_MERCHANT_RECEIPT: frozenset({S.REFUNDED, S.REJECTED, S.CLOSED, S.ARBITRATION}),
    S.ARBITRATION: frozenset({S.REFUNDED, S.REJECTED, S.CLOSED}),
    S.REJECTED: frozenset({S.ARBITRATION}),  # the buyer escalates to the platform
    S.REFUNDED: frozenset(),
    S.CANCELLED: frozenset(),
    S.CLOSED: frozenset(),
}


# --- locking -------------------------------------------------------------------------------------
def lock_after_sale(
    after_sale_id: int, *, shop: Shop | None = None, order_id: int | None = None, line_id: int | None = None
) -> AfterSale:
    """Lock order, line and after-sale, in that order. Another shop's after-sale is NotFound.

    `order_id` and `line_id`: the after-sale's, when the caller has read them already (one query less;
    without `shop`, which is checked by that query).
    """
    if shop is not None or order_id is None or line_id is None:
        scope = AfterSale.objects.filter(pk=after_sale_id)
        if shop is not None:
            scope = scope.filter(shop=shop)
        ids = scope.values("order_id", "line_id").first()
        if ids is None:
            raise NotFound(_("After-sale not found."))
        order_id, line_id = ids["order_id"], ids["line_id"]
    # of=("self",): lock the order row only, not the shop's (which would queue the whole shop's writes).
    # The buyer comes along because most writes end by notifying them (one query less each).
    order = Order.objects.select_for_update(of=("self",)).select_related("shop", "buyer").get(pk=order_id)
    line = OrderLine.objects.select_for_update().get(pk=line_id)
    after_sale = AfterSale.objects.select_for_update().get(pk=after_sale_id)
    line.order = order
    after_sale.order, after_sale.line = order, line
    return after_sale


def lock_after_sales(
    after_sale_ids: Iterable[int], *, shop: Shop | None = None, skip_locked: bool = False
) -> dict[int, AfterSale]:
    """Lock many after-sales at once: all their orders, then all their lines, then the after-sales, each
    sorted by id, so four queries whatever the count. Same lock order as lock_after_sale, and two bulk
    lockers take common rows in the same order (no deadlock). Returns {id: after-sale}; ids of another
    shop, or missing, are left out.

    skip_locked: rows another transaction holds are passed over (SKIP LOCKED), never waited for, and
    their after-sales left out: for sweeps, which take them later rather than queue behind a merchant.
    """
    scope = AfterSale.objects.filter(pk__in=list(after_sale_ids))
    if shop is not None:
        scope = scope.filter(shop=shop)
    rows = list(scope.values_list("pk", "order_id", "line_id"))
    if not rows:
        return {}
    orders = Order.objects.select_for_update(of=("self",), skip_locked=skip_locked).select_related("shop", "buyer")
    orders = {order.pk: order for order in orders.filter(pk__in={row[1] for row in rows}).order_by("pk")}
    lines = OrderLine.objects.select_for_update(skip_locked=skip_locked)
    lines = {line.pk: line for line in lines.filter(pk__in={r[2] for r in rows if r[1] in orders}).order_by("pk")}
    wanted = [row[0] for row in rows if row[1] in orders and row[2] in lines]
    locked = {}
    for after_sale in AfterSale.objects.select_for_update(skip_locked=skip_locked).filter(pk__in=wanted).order_by("pk"):
        after_sale.order, after_sale.line = orders[after_sale.order_id], lines[after_sale.line_id]
        after_sale.line.order = after_sale.order
        locked[after_sale.pk] = after_sale
    return locked


def lock_after_sale_by_no(after_sale_no: str) -> AfterSale:
    found = AfterSale.objects.filter(after_sale_no=after_sale_no).values_list("pk", flat=True).first()
    if found is None:
        raise NotFound(_("After-sale %(no)s does not exist.") % {"no": after_sale_no})
    return lock_after_sale(found)


def _check_version(after_sale: AfterSale, expected_version: int | None) -> None:
    if expected_version is not None and after_sale.version != expected_version:
        raise DomainError(
            _("After-sale %(no)s changed since you opened the page; nothing was done. Reload and try again.")
            % {"no": after_sale.after_sale_no},
            code="stale",
        )


# --- history and transitions ---------------------------------------------------------------------
def _log(after_sale, action, *, actor, user=None, message="", at=None, from_status="", to_status=""):
    AfterSaleLog.objects.create(
        after_sale=after_sale,
        action=action,
        actor=actor,
        user=user,
        message=str(message)[:500],
        at=at or timezone.now(),
        from_status=from_status,
        to_status=to_status,
    )


def _save(after_sale: AfterSale, *fields: str) -> None:
    after_sale.version += 1
    after_sale.save(update_fields=[*fields, "version", "updated_at"])
    # Every change of an after-sale goes through here: the change feed learns of it in this transaction.
    changes.record_change(shop_id=after_sale.shop_id, event=changes.AFTER_SALE_UPDATED, object_id=after_sale.pk)


def _transition(after_sale, to_status, *, actor, user=None, message="", at=None, deadline=None) -> None:
    """Move to `to_status` if the table allows it; write the history row; set or clear the deadline."""
    current = after_sale.status
    if to_status not in TRANSITIONS[current]:
        raise DomainError(
            _("An after-sale that is “%(current)s” cannot become “%(new)s”.")
            % {"current": after_sale.get_status_display(), "new": S(to_status).label},
            code="invalid_transition",
        )
    at = at or timezone.now()
    after_sale.status = to_status
    after_sale.last_actor = actor
    after_sale.deadline = deadline if to_status in AfterSale.OPEN_STATUSES else None
    after_sale.closed_at = None if to_status in AfterSale.OPEN_STATUSES else at
    _save(after_sale, "status", "last_actor", "deadline", "closed_at")
    _log(
        after_sale,
        AfterSaleLog.Action.STATUS,
        actor=actor,
        user=user,
        message=message,
        at=at,
        from_status=current,
        to_status=to_status,
    )


def _set_deadline(after_sale: AfterSale, deadline: datetime, *, actor, message, at) -> bool:
    if after_sale.deadline == deadline:
        return False
    after_sale.deadline = deadline
    _save(after_sale, "deadline")
    _log(after_sale, AfterSaleLog.Action.DEADLINE, actor=actor, message=message, at=at)
    return True


def _refund(after_sale: AfterSale, *, actor, user=None, at=None, reason="", amount: Decimal | None = None) -> None:
    """Refund the after-sale (all of what is still due, capped by the line) and close it as refunded.

    When nothing is left to refund on the line (small payments used it up), it closes instead: the
    buyer is never told "refunded" for 0.00.
    """
    due = min(amount or after_sale.amount - after_sale.refunded_amount, after_sale.line.refundable_amount)
    if due <= 0 and after_sale.refunded_amount == 0:
        _transition(
            after_sale, S.CLOSED, actor=actor, user=user, at=at, message=_("Nothing is left to refund on the line")
        )
        return
    if due > 0:
        ledger.record_refund(
            line=after_sale.line,
            after_sale=after_sale,
            kind=rules.refund_kind(after_sale.type),
            amount=due,
            actor=actor,
            user=user,
            reason=reason,
            idempotency_key=f"after-sale:{after_sale.pk}:refund",
        )
        _log(
            after_sale,
            AfterSaleLog.Action.REFUND,
            actor=actor,
            user=user,
            at=at,
            message=_("%(amount)s yuan refunded") % {"amount": f"{due:.2f}"},
        )
    _transition(after_sale, S.REFUNDED, actor=actor, user=user, message=reason, at=at)
    notifications.notify_buyer(after_sale, "refunded", at=at, amount=due)


# --- the buyer, through the events API -----------------------------------------------------------
def application_facts(order: Order, line: OrderLine) -> rules.ApplicationFacts:
    return rules.ApplicationFacts(
        order_status=order.status,
        applications_so_far=AfterSale.objects.filter(order=order).count(),
        order_refundable=order.refundable_amount,
        line_refundable=line.refundable_amount,
        line_domestic_physical=line.domestic_physical,
        line_has_open_after_sale=AfterSale.objects.filter(line=line, status__in=AfterSale.OPEN_STATUSES).exists(),
    )


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
    if AfterSale.objects.filter(after_sale_no=after_sale_no).exists():
        raise DomainError(_("After-sale %(no)s already exists.") % {"no": after_sale_no}, code="already_exists")
    facts = application_facts(order, line)
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
    _log(after_sale, AfterSaleLog.Action.APPLIED, actor=Actor.BUYER, at=at, to_status=S.PENDING_MERCHANT, message=note)
    if status == S.REFUND_AFTER_REFUSAL:
        _log(
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
        _log(
            after_sale,
            AfterSaleLog.Action.STATUS,
            actor=Actor.PLATFORM,
            at=at,
            message=_("Refund after refusal not available: %(why)s") % {"why": blocker},
        )
    return after_sale


def cancel_after_sale(*, after_sale_no: str, at: datetime) -> AfterSale:
    after_sale = lock_after_sale_by_no(after_sale_no)
    if after_sale.status not in (S.PENDING_MERCHANT, S.REFUND_AFTER_REFUSAL, S.AWAITING_BUYER_RETURN):
        raise DomainError(
            _("An after-sale that is “%(status)s” cannot be withdrawn.") % {"status": after_sale.get_status_display()},
            code="invalid_transition",
        )
    _transition(after_sale, S.CANCELLED, actor=Actor.BUYER, at=at, message=_("The buyer withdrew the request"))
    return after_sale


def record_return_shipped(*, after_sale_no: str, tracking_no: str, courier: str, at: datetime) -> AfterSale:
    after_sale = lock_after_sale_by_no(after_sale_no)
    if after_sale.status != S.AWAITING_BUYER_RETURN:
        raise DomainError(
            _("The buyer can only ship goods back after the merchant agreed the return."), code="invalid_transition"
        )
    after_sale.return_tracking_no, after_sale.return_courier = tracking_no, courier
    _save(after_sale, "return_tracking_no", "return_courier")
    _log(after_sale, AfterSaleLog.Action.RETURN_SHIPPED, actor=Actor.BUYER, at=at, message=f"{courier} {tracking_no}")
    _transition(
        after_sale, S.AWAITING_MERCHANT_RECEIPT, actor=Actor.BUYER, at=at, deadline=at + rules.RETURN_RECEIPT_DEADLINE
    )
    return after_sale


# --- the parcel, through the events API ----------------------------------------------------------
PARCEL_RESOLUTIONS = {
    Parcel.Status.REFUSED: _("the buyer refused the parcel"),
    Parcel.Status.INTERCEPTED: _("the parcel was intercepted"),
    Parcel.Status.RETURNING: _("the parcel is on its way back"),
    Parcel.Status.SIGNED: _("the buyer signed for the parcel"),
}


def react_to_parcel_status(*, parcel: Parcel, status: str, at: datetime) -> list[AfterSale]:
    """Apply the 48-hour rule (and a trusted buyer's instant refund) to the parcel's open after-sales.

    Returns the after-sales whose deadline or status changed.
    """
    if status not in PARCEL_RESOLUTIONS:
        return []
    changed = []
    candidates = (
        AfterSale.objects.filter(line__parcels=parcel, status=S.REFUND_AFTER_REFUSAL)
        .order_by("order_id", "line_id", "id")
        .values_list("pk", flat=True)
    )
    for after_sale_id in list(candidates):
        after_sale = lock_after_sale(after_sale_id)
        if after_sale.status != S.REFUND_AFTER_REFUSAL:
            continue
        message = PARCEL_RESOLUTIONS[status]
        if status == Parcel.Status.REFUSED and after_sale.order.buyer.trusted:
            _refund(after_sale, actor=Actor.PLATFORM, at=at, reason=_("A trusted buyer refused the parcel"))
            changed.append(after_sale)
            continue
        new_deadline = rules.deadline_after_parcel_resolved(after_sale.deadline, at)
        if _set_deadline(after_sale, new_deadline, actor=Actor.PLATFORM, message=message, at=at):
            changed.append(after_sale)
    return changed


# --- the merchant --------------------------------------------------------------------------------
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
    after_sale = lock_after_sale(after_sale_id, shop=shop)
    _check_version(after_sale, expected_version)
    if after_sale.parcel_id:
        after_sale.parcel = Parcel.objects.get(pk=after_sale.parcel_id)
    return after_sale


@transaction.atomic
def agree_refund(*, after_sale_id: int, shop: Shop, user, expected_version: int | None = None) -> AfterSale:
    after_sale = _merchant_after_sale(after_sale_id, shop, expected_version)
    _ensure(rules.agree_refund_blocker(action_facts(after_sale)))
    _refund(after_sale, actor=Actor.MERCHANT, user=user, reason=_("The merchant agreed the refund"))
    return after_sale


@transaction.atomic
def agree_return(*, after_sale_id: int, shop: Shop, user, expected_version: int | None = None) -> AfterSale:
    after_sale = _merchant_after_sale(after_sale_id, shop, expected_version)
    _ensure(rules.agree_return_blocker(action_facts(after_sale)))
    now = timezone.now()
    _transition(
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
    *, after_sale_id: int, shop: Shop, user, expected_version: int | None = None
) -> AfterSale:
    after_sale = _merchant_after_sale(after_sale_id, shop, expected_version)
    _ensure(rules.confirm_receipt_blocker(action_facts(after_sale)))
    _refund(after_sale, actor=Actor.MERCHANT, user=user, reason=_("The merchant received the goods back"))
    return after_sale


@transaction.atomic
def reject_after_sale(
    *, after_sale_id: int, shop: Shop, user, reason: str, note: str, evidence: Iterable, expected_version=None
) -> AfterSale:
    """Reject with a reason from the list and at least one evidence image (already validated)."""
    from .models import EvidenceImage

    evidence = list(evidence)
    if not evidence:
        raise DomainError(_("Attach at least one evidence image."), code="evidence_required")
    if reason not in AfterSale.RejectReason.values:
        raise DomainError(_("Choose a reason from the list."), code="invalid_reason")
    after_sale = _merchant_after_sale(after_sale_id, shop, expected_version)
    _ensure(rules.reject_blocker(action_facts(after_sale)))
    after_sale.reject_reason, after_sale.reject_note = reason, note[:500]
    _save(after_sale, "reject_reason", "reject_note")
    for upload in evidence:
        EvidenceImage.objects.create(
            after_sale=after_sale, image=upload, content_type=upload.content_type, size=upload.size, uploaded_by=user
        )
    label = AfterSale.RejectReason(reason).label
    _transition(after_sale, S.REJECTED, actor=Actor.MERCHANT, user=user, message=f"{label} {note}".strip())
    notifications.notify_buyer(after_sale, "rejected", reason=str(label), note=note)
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
) -> AfterSale:
    """Merchant-initiated compensation (小额打款) on the after-sale's line, into the ledger.

    The same idempotency key again (a double submit) pays nothing more and writes nothing.
    """
    after_sale = _merchant_after_sale(after_sale_id, shop, None)
    key = f"small-payment:{after_sale.line_id}:{idempotency_key}"
    # Checked under the lock and before the version: the repeat of a payment is not a stale page.
    if RefundEntry.objects.filter(idempotency_key=key).exists():
        return after_sale
    _check_version(after_sale, expected_version)
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
    )
    _log(
        after_sale,
        AfterSaleLog.Action.REFUND,
        actor=Actor.MERCHANT,
        user=user,
        message=_("Small payment of %(amount)s yuan: %(reason)s") % {"amount": f"{amount:.2f}", "reason": reason},
    )
    _save(after_sale)
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
    ids = (
        OrderLine.objects.filter(order__shop=shop, order__order_no=order_no, line_no=line_no)
        .values("pk", "order_id")
        .first()
    )
    if ids is None:
        raise NotFound(_("Order %(order)s has no line %(line)s.") % {"order": order_no, "line": line_no})
    order = Order.objects.select_for_update(of=("self",)).select_related("shop").get(pk=ids["order_id"])
    line = OrderLine.objects.select_for_update().get(pk=ids["pk"])
    line.order = order
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
    *, shop: Shop, user, versions: dict[int, int], flag: str | None = None, remark: str | None = None
) -> list[AfterSale]:
    """Set the flag and/or remark of one or many after-sales; all or none if any page was stale."""
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
        _check_version(after_sale, versions[after_sale.pk])
    now = timezone.now()
    for after_sale in rows:
        fields = []
        if flag is not None and flag != after_sale.flag:
            after_sale.flag = flag
            fields.append("flag")
            _log(
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
            _log(after_sale, AfterSaleLog.Action.REMARK, actor=Actor.MERCHANT, user=user, at=now, message=remark)
        if fields:
            _save(after_sale, *fields)
    return rows


@transaction.atomic
def send_after_sale_card(
    *, shop: Shop, user, line_id: int, after_sale_id: int | None = None, expected_version: int | None = None
):
    """Invite the buyer to apply (飞鸽 card), only when the application rules allow an application.

    Sent from an after-sale's page (`after_sale_id`): refused when that page is stale, and recorded in
    that after-sale's history.
    """
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
        _check_version(after_sale, expected_version)
    try:
        rules.check_application(application_facts(order, line), type=AfterSale.Type.REFUND_ONLY, amount=None)
    except rules.Refusal as refusal:
        raise DomainError(refusal.message, code=refusal.code) from None
    notification = notifications.notify_card(order=order, line=line, user=user)
    if after_sale is not None:
        _log(
            after_sale,
            AfterSaleLog.Action.NOTIFICATION,
            actor=Actor.MERCHANT,
            user=user,
            message=notifications.MESSAGES["card"],
        )
    return notification


# --- the platform --------------------------------------------------------------------------------
@transaction.atomic
def time_out_after_sale(*, after_sale_id: int, now: datetime | None = None) -> AfterSale | None:
    """Take the platform's action on one overdue after-sale. Re-checks under the lock: safe twice."""
    now = now or timezone.now()
    try:
        after_sale = lock_after_sale(after_sale_id)
    except NotFound:
        return None
    # Due once the deadline has passed: at the deadline itself the merchant may still act (as in the sweep).
    if not after_sale.is_open or after_sale.deadline is None or after_sale.deadline >= now:
        return None
    action = rules.timeout_action(after_sale.status, after_sale.type)
    if action is None:
        return None
    reason = _("The merchant's deadline passed: the platform acted")
    if action.refund:
        _refund(after_sale, actor=Actor.TIMEOUT, at=now, reason=reason)
    else:
        deadline = now + action.deadline if action.deadline else None
        _transition(after_sale, action.to_status, actor=Actor.TIMEOUT, at=now, deadline=deadline, message=reason)
        if action.to_status == S.AWAITING_BUYER_RETURN:
            notifications.notify_buyer(after_sale, "return_agreed", at=now)
    return after_sale


# --- interception (called by the interception layer) ---------------------------------------------
def refund_after_interception(
    *, after_sale_id: int, at: datetime, label: str, locked: AfterSale | None = None
) -> AfterSale | None:
    """Interception succeeded: the 48-hour rule, the interception date in the remark and flag, and the
    automatic refund whoever the buyer is. Safe twice: a refunded after-sale is left as it is.

    `locked`: the after-sale as lock_after_sale returned it, when the caller already holds its locks in
    this transaction (the interception result does): not locked and read a second time.
    """
    after_sale = locked if locked is not None else lock_after_sale(after_sale_id)
    changed = []
    if label not in after_sale.remark:
        after_sale.remark = f"{label} {after_sale.remark}".strip()[:500]
        after_sale.flag = AfterSale.Flag.BLUE
        changed += ["remark", "flag"]
    refund = after_sale.is_open and after_sale.status != S.ARBITRATION
    if refund and after_sale.deadline is not None:
        deadline = rules.deadline_after_parcel_resolved(after_sale.deadline, at)
        if deadline != after_sale.deadline:
            after_sale.deadline = deadline
            changed.append("deadline")
    if changed:  # one write and one insert for both: this runs once per parcel of a bulk interception
        _save(after_sale, *changed)
        logs = [(AfterSaleLog.Action.REMARK, label)] if "remark" in changed else []
        if "deadline" in changed:
            logs.append((AfterSaleLog.Action.DEADLINE, PARCEL_RESOLUTIONS[Parcel.Status.INTERCEPTED]))
        AfterSaleLog.objects.bulk_create(
            AfterSaleLog(after_sale=after_sale, action=action, actor=Actor.INTERCEPTION, message=str(text)[:500], at=at)
            for action, text in logs
        )
    if refund:
        _refund(after_sale, actor=Actor.INTERCEPTION, at=at, reason=_("The parcel was intercepted"))
    return after_sale


# --- platform operators (the admin) --------------------------------------------------------------
@transaction.atomic
def escalate_to_arbitration(*, after_sale_id: int, user, note: str = "") -> AfterSale:
    """Platform intervention (平台介入): operators will decide. No merchant deadline runs meanwhile."""
    after_sale = lock_after_sale(after_sale_id)
    _transition(
        after_sale,
        S.ARBITRATION,
        actor=Actor.OPERATOR,
        user=user,
        message=note or _("Escalated to platform arbitration"),
        deadline=None,
    )
    return after_sale


@transaction.atomic
def decide_arbitration(*, after_sale_id: int, user, refund: bool, note: str = "") -> AfterSale:
    """An operator's ruling on an after-sale in arbitration: refund the buyer, or reject for the merchant."""
    after_sale = lock_after_sale(after_sale_id)
    if after_sale.status != S.ARBITRATION:
        raise DomainError(
            _("After-sale %(no)s is “%(status)s”, not in platform arbitration: nothing was done.")
            % {"no": after_sale.after_sale_no, "status": after_sale.get_status_display()},
            code="invalid_transition",
        )
    if refund:
        if after_sale.line.refundable_amount <= 0:
            raise DomainError(
                _("Nothing is left to refund on the line of after-sale %(no)s.") % {"no": after_sale.after_sale_no},
                code="nothing_refundable",
            )
        _refund(after_sale, actor=Actor.OPERATOR, user=user, reason=note or _("Platform arbitration: refund"))
    else:
        message = note or _("Platform arbitration: rejected")
        _transition(after_sale, S.REJECTED, actor=Actor.OPERATOR, user=user, message=message)
        notifications.notify_buyer(after_sale, "rejected", reason=str(message), note=note)
    return after_sale
