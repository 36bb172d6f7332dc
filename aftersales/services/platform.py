"""The platform's automatic writes: the parcel's news (the 48-hour rule, a trusted buyer's instant
refund) and an interception's success, called by the events API and the interception layer."""

from datetime import datetime

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shop.models import Parcel

from .. import locks, rules
from ..models import Actor, AfterSale, AfterSaleLog
from . import base

S = AfterSale.Status

# Lazy: the history row is written in the language active when it is written, not at import.
PARCEL_RESOLUTIONS = {
    Parcel.Status.REFUSED: gettext_lazy("the buyer refused the parcel"),
    Parcel.Status.INTERCEPTED: gettext_lazy("the parcel was intercepted"),
    Parcel.Status.RETURNING: gettext_lazy("the parcel is on its way back"),
    Parcel.Status.SIGNED: gettext_lazy("the buyer signed for the parcel"),
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
        .values_list("pk", "order_id", "line_id")
    )
    for after_sale_id, order_id, line_id in list(candidates):
        after_sale = locks.lock_after_sale(after_sale_id, order_id=order_id, line_id=line_id)
        if after_sale.status != S.REFUND_AFTER_REFUSAL:
            continue
        message = str(PARCEL_RESOLUTIONS[status])
        if status == Parcel.Status.REFUSED and after_sale.order.buyer.trusted:
            base.refund(after_sale, actor=Actor.PLATFORM, at=at, reason=_("A trusted buyer refused the parcel"))
            changed.append(after_sale)
            continue
        new_deadline = rules.deadline_after_parcel_resolved(after_sale.deadline, at)
        if base.set_deadline(after_sale, new_deadline, actor=Actor.PLATFORM, message=message, at=at):
            changed.append(after_sale)
    return changed


def refund_after_interception(
    *, after_sale_id: int, at: datetime, label: str, locked: AfterSale | None = None, note: str = ""
) -> AfterSale | None:
    """Interception succeeded: the 48-hour rule, the interception date in the remark and flag, and the
    automatic refund whoever the buyer is. Safe twice: a refunded after-sale is left as it is.

    `locked`: the after-sale as lock_after_sale returned it, when the caller already holds its locks in
    this transaction (the interception result does): not locked and read a second time. `note`: the
    interception's own history row ("succeeded, service order …"), written with the others.
    """
    after_sale = locked if locked is not None else locks.lock_after_sale(after_sale_id)
    changed = []
    logs = [(AfterSaleLog.Action.INTERCEPTION, note)] if note else []
    if label not in after_sale.remark:
        after_sale.remark = f"{label} {after_sale.remark}".strip()[:500]
        changed.append("remark")
        logs.append((AfterSaleLog.Action.REMARK, label))
        if after_sale.flag != AfterSale.Flag.BLUE:
            logs.append(
                (
                    AfterSaleLog.Action.FLAG,
                    f"{AfterSale.Flag(after_sale.flag).label} → {AfterSale.Flag(AfterSale.Flag.BLUE).label}",
                )
            )
            after_sale.flag = AfterSale.Flag.BLUE
            changed.append("flag")
    refund = after_sale.is_open and after_sale.status != S.ARBITRATION
    if refund and after_sale.deadline is not None:
        deadline = rules.deadline_after_parcel_resolved(after_sale.deadline, at)
        if deadline != after_sale.deadline:
            after_sale.deadline = deadline
            changed.append("deadline")
            logs.append((AfterSaleLog.Action.DEADLINE, PARCEL_RESOLUTIONS[Parcel.Status.INTERCEPTED]))
    if changed:  # one write and one insert for all: this runs once per parcel of a bulk interception
        base.save(after_sale, *changed)
    if logs:
        AfterSaleLog.objects.bulk_create(
            AfterSaleLog(after_sale=after_sale, action=action, actor=Actor.INTERCEPTION, message=str(text)[:500], at=at)
            for action, text in logs
        )
    if refund:
        base.refund(after_sale, actor=Actor.INTERCEPTION, at=at, reason=_("The parcel was intercepted"))
    return after_sale
