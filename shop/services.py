"""Writes for orders and parcels. Each runs inside the caller's transaction (the events API)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from . import rules
from .errors import DomainError, NotFound
from .models import Buyer, Courier, Order, OrderLine, Outlet, Parcel, Shop, TrackingEvent


@dataclass(frozen=True)
class LineInput:
    line_no: str
    sku: str
    title: str
    category: str
    quantity: int
    paid_amount: Decimal
    domestic_physical: bool


@dataclass(frozen=True)
class BuyerInput:
    external_id: str
    nickname: str
    trusted: bool | None  # None: not said, keep what we know of the buyer


def record_paid_order(
    *, shop_code: str, order_no: str, paid_at: datetime, buyer: BuyerInput, lines: list[LineInput]
) -> Order:
    """Create a paid order (status preparing) with its lines; the buyer is created or updated."""
    shop = Shop.objects.filter(code=shop_code).first()
    if shop is None:
        raise NotFound(_("Shop %(code)s does not exist.") % {"code": shop_code})
    buyer_row = upsert_buyer(buyer)
    try:  # an existing order number fails the insert (unique): no look-up before it
        with transaction.atomic():
            order = Order.objects.create(
                shop=shop,
                buyer=buyer_row,
                order_no=order_no,
                status=Order.Status.PREPARING,
                paid_amount=sum((line.paid_amount for line in lines), Decimal("0.00")),
                paid_at=paid_at,
            )
    except IntegrityError as exc:  # it exists, or a concurrent delivery created it; the buyer's update rolls back too
        raise DomainError(_("Order %(no)s already exists.") % {"no": order_no}, code="already_exists") from exc
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            line_no=line.line_no,
            sku=line.sku,
            title=line.title,
            category=line.category,
            quantity=line.quantity,
            paid_amount=line.paid_amount,
            domestic_physical=line.domestic_physical,
        )
        for line in lines
    )
    return order


def upsert_buyer(buyer: BuyerInput) -> Buyer:
    """The buyer row, created or updated in one statement (INSERT … ON CONFLICT DO UPDATE): what the
    event says of the buyer wins; a `trusted` left unsaid keeps what we know (False for a new buyer)."""
    fields = ["nickname"] if buyer.trusted is None else ["nickname", "trusted"]
    row = Buyer(external_id=buyer.external_id, nickname=buyer.nickname, trusted=bool(buyer.trusted))
    (row,) = Buyer.objects.bulk_create(
        [row], update_conflicts=True, unique_fields=["external_id"], update_fields=fields
    )
    return row


def ship_parcel(
    *, order_no: str, tracking_no: str, courier_code: str, outlet_code: str, line_nos: list[str], shipped_at: datetime
) -> Parcel:
    """A parcel left with some of the order's lines; the order becomes shipped or partially shipped."""
    order = Order.objects.select_for_update().filter(order_no=order_no).first()
    if order is None:
        raise NotFound(_("Order %(no)s does not exist.") % {"no": order_no})
    # The outlet and its courier in one query; only when it is missing, which of the two for the message.
    outlet = Outlet.objects.select_related("courier").filter(code=outlet_code, courier__code=courier_code).first()
    if outlet is None:
        if not Courier.objects.filter(code=courier_code).exists():
            raise NotFound(_("Courier %(code)s does not exist.") % {"code": courier_code})
        raise NotFound(
            _("Outlet %(code)s of %(courier)s does not exist.") % {"code": outlet_code, "courier": courier_code}
        )
    courier = outlet.courier
    lines_by_no = {line.line_no: line for line in order.lines.all()}
    for line_no in line_nos:
        if line_no not in lines_by_no:
            raise NotFound(_("Order %(order)s has no line %(line)s.") % {"order": order_no, "line": line_no})
    if Parcel.objects.filter(courier=courier, tracking_no=tracking_no).exists():
        raise DomainError(
            _("Tracking number %(no)s of %(courier)s already exists.") % {"no": tracking_no, "courier": courier_code},
            code="already_exists",
        )
    if order.status not in Order.SHIPPABLE_STATUSES:
        raise DomainError(
            _("An order in status “%(status)s” cannot ship.") % {"status": order.get_status_display()},
            code="order_status",
        )
    parcel = Parcel.objects.create(
        order=order,
        courier=courier,
        outlet=outlet,
        tracking_no=tracking_no,
        status=Parcel.Status.COLLECTED,
        status_at=shipped_at,
        shipped_at=shipped_at,
    )
    # A new parcel has no lines yet: one INSERT, not the look-up and insert of lines.set().
    Parcel.lines.through.objects.bulk_create(
        Parcel.lines.through(parcel_id=parcel.pk, orderline_id=lines_by_no[no].pk) for no in line_nos
    )
    TrackingEvent.objects.create(parcel=parcel, status=Parcel.Status.COLLECTED, at=shipped_at, note=_("Collected"))
    shipped_line_ids = OrderLine.objects.filter(order=order, parcels__isnull=False).values_list("id", flat=True)
    new_status = rules.order_status_after_shipping(
        current=order.status, all_line_ids=[line.id for line in lines_by_no.values()], shipped_line_ids=shipped_line_ids
    )
    if new_status != order.status:
        Order.objects.filter(pk=order.pk).update(status=new_status)
        order.status = new_status
    return parcel


@dataclass(frozen=True)
class ParcelStatusResult:
    parcel: Parcel
    previous_status: str
    moved: bool  # False when the event was older than the parcel's latest: recorded only


def record_parcel_status(
    *, courier_code: str, tracking_no: str, status: str, at: datetime, note: str = ""
) -> ParcelStatusResult:
    """Record a tracking event; it moves the parcel only when it is not older than the latest one."""
    # The order first, as everywhere: every writer touching this parcel's order queues behind it. It
    # is found through the parcel in the same statement that locks it (the order row only).
    order_id = (
        Order.objects.select_for_update(of=("self",))
        .filter(parcels__courier__code=courier_code, parcels__tracking_no=tracking_no)
        .values_list("pk", flat=True)
        .first()
    )
    parcel = (
        Parcel.objects.select_for_update(of=("self",))
        .select_related("order", "courier")
        .filter(order_id=order_id, courier__code=courier_code, tracking_no=tracking_no)
        .first()
        if order_id is not None
        else None
    )
    if parcel is None:
        raise NotFound(_("Parcel %(courier)s %(no)s does not exist.") % {"courier": courier_code, "no": tracking_no})
    return record_locked_parcel_status(parcel=parcel, status=status, at=at, note=note)


def record_locked_parcel_status(*, parcel: Parcel, status: str, at: datetime, note: str = "") -> ParcelStatusResult:
    """record_parcel_status for a caller that already holds the locks on the parcel's order and on the
    parcel, and read `parcel` after taking them (an interception result, once per parcel of a bulk
    interception): no lookup and no locking again."""
    previous = parcel.status
    if at < parcel.status_at:
        TrackingEvent.objects.create(parcel=parcel, status=status, at=at, note=note, applied=False)
        return ParcelStatusResult(parcel=parcel, previous_status=previous, moved=False)
    if not rules.parcel_transition_allowed(previous, status):
        raise DomainError(
            _("A parcel that is “%(current)s” cannot become “%(new)s”.")
            % {"current": parcel.get_status_display(), "new": Parcel.Status(status).label},
            code="invalid_transition",
        )
    TrackingEvent.objects.create(parcel=parcel, status=status, at=at, note=note, applied=True)
    Parcel.objects.filter(pk=parcel.pk).update(status=status, status_at=at)
    parcel.status, parcel.status_at = status, at
    return ParcelStatusResult(parcel=parcel, previous_status=previous, moved=True)
