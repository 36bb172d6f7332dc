"""Row locks (SELECT … FOR UPDATE) for every write on after-sales, and the lock order of the whole site.

LOCK_ORDER is the one place the order is written; interception's and settlement's locks refer to it,
and shop's writers (the layer below) follow it. A writer takes the rows it needs in this order, each
kind sorted by id when it takes several (the bulk lockers), and never waits for a row of an earlier
kind while holding one of a later kind.

The order comes first, always: every writer touching an order's lines, parcels, after-sales or
service orders queues behind that one row, so two writers on the same order never interleave below
it. That is what makes the two writers that take the parcel elsewhere safe: a tracking event (shop)
locks it right after the order, before the after-sales' lines, and an interception result locks it
with its service order; both hold the order first. "Refund" is the ledger's guarded
counter updates and its append-only rows, always last (`aftersales.ledger`, inside the caller's locks).
"""

from collections.abc import Iterable

from django.utils.translation import gettext as _

from shop.errors import NotFound
from shop.models import Order, OrderLine, Shop

from .models import AfterSale

# order → line → parcel → after-sale → service order → refund
LOCK_ORDER = ("order", "line", "parcel", "after-sale", "service order", "refund")


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
    # Its order and line come with the look-up: lock_after_sale need not read them again.
    found = AfterSale.objects.filter(after_sale_no=after_sale_no).values("pk", "order_id", "line_id").first()
    if found is None:
        raise NotFound(_("After-sale %(no)s does not exist.") % {"no": after_sale_no})
    return lock_after_sale(found["pk"], order_id=found["order_id"], line_id=found["line_id"])


def lock_line(*, shop: Shop, order_no: str, line_no: str) -> OrderLine:
    """Lock an order and one of its lines, in that order (`line.order` set). Another shop's is NotFound."""
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
    return line
