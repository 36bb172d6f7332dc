"""Settlement demo data: offline statements of demo-shop × YTO-SH-001 in every status, and a bill to reconcile.

Runs after the interception seed (INSTALLED_APPS order). Offline fees exist only where a partnership
is active, i.e. demo-shop × YTO-SH-001. Four past months of interceptions of that outlet's parcels
are replayed through the real services under a demo clock (buyer applies refund-only, the merchant
intercepts, the carrier reports success and the parcel comes back), a few per month so that the
after-sales demo keeps its size. Their months are then closed and answered as they would have been:

    4 months ago: settled · 3: confirmed (to pay) · 2: disputed (with a reconciled bill) · last: issued
    running month: open

The outlet's bill of the disputed month, with one difference of each kind, is written to
var/demo/outlet-bill-YTO-SH-001.csv (and .xlsx) for trying the reconciliation by hand. The django-q2
schedules of the statements are created too. Idempotent: a shop that has statements is left alone.
"""

import random
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Min

from aftersales import notifications
from aftersales import services as aftersales_services
from aftersales.models import AfterSale
from interception import services as interception_services
from interception.models import FeeCharge, Partnership, PartnershipLog, ServiceOrder
from shop import demo, streaming
from shop.models import Buyer, Order, OrderLine, Outlet, Parcel, Shop, TrackingEvent, User

from .claims.demo_seed import seed_claims
from .models import Statement
from .statements import reconciliation, tasks
from .statements import services as statements

SHOP, OUTLET = "demo-shop", "YTO-SH-001"
MERCHANT, OUTLET_STAFF = "merchant", "outlet-yto"
# (months before the running one, interceptions, what becomes of the statement)
HISTORY = [
    (4, 3, "settled"),
    (3, 2, "confirmed"),
    (2, 5, "disputed"),
    (1, 3, "issued"),
]
# The running month always gets these, however little of it has passed (at 00:10 on the 1st they
# fall in its first minutes), so the demo has the same after-sales and statements on every day.
RUNNING_MONTH_INTERCEPTIONS = 2
BILL_NAME = "outlet-bill-YTO-SH-001"
HOUR, DAY, MINUTE = timedelta(hours=1), timedelta(days=1), timedelta(minutes=1)


def bill_dir() -> Path:
    return Path(settings.VAR_DIR) / "demo"


def seed(*, stdout, rng: random.Random, now: datetime) -> None:
    seed_claims(stdout=stdout, rng=random.Random(rng.getrandbits(32)), now=now)  # claims: their own idempotent demo
    tasks.ensure_statement_schedules(now=now)
    shop = Shop.objects.filter(code=SHOP).first()
    outlet = Outlet.objects.select_related("courier").filter(code=OUTLET).first()
    if shop is None or outlet is None:
        return
    partnership = Partnership.objects.filter(shop=shop, outlet=outlet, status=Partnership.Status.ACTIVE).first()
    if partnership is None:
        return
    if Statement.objects.filter(shop=shop).exists():
        disputed = Statement.objects.filter(shop=shop, outlet=outlet, status=Statement.Status.DISPUTED).first()
        if disputed is not None and not (bill_dir() / f"{BILL_NAME}.csv").exists():
            write_bill(disputed, bill_rows(disputed))
        return
    owner = User.objects.get(username=MERCHANT)
    staff = User.objects.get(username=OUTLET_STAFF)
    running = statements.current_month(now)
    # The replayed buyers' notifications are history: none is queued for delivery.
    with notifications.delivery_by_sweep():
        replay = Replay(shop=shop, outlet=outlet, owner=owner, rng=rng, now=now)
        for back, count, _fate in HISTORY:
            replay.month(statements.add_months(running, -back), count)
        replay.month(running, RUNNING_MONTH_INTERCEPTIONS)
        backdate_partnership(partnership, replay.earliest - 20 * DAY)
    for back, _count, fate in HISTORY:
        settle_month(shop, outlet, statements.add_months(running, -back), fate, owner=owner, staff=staff, rng=rng)
    statements.refresh_current_statements(shop=shop, now=now)
    made = Statement.objects.filter(shop=shop).count()
    stdout.write(f"Settlement demo: {made} statements of {SHOP} × {OUTLET}; bill to reconcile in {bill_dir()}.")


class Replay:
    """Interceptions of the outlet's parcels at past moments, through the real services."""

    def __init__(self, *, shop, outlet, owner, rng, now):
        self.shop, self.outlet, self.owner, self.rng, self.now = shop, outlet, owner, rng, now
        self.products = [p for p in demo.PRODUCTS if p[3] and p[1] not in ("fresh", "virtual")]
        self.sequence = Order.objects.filter(order_no__startswith="DSH").count()
        self.earliest = now

    def month(self, month, count: int) -> None:
        """`count` interceptions that succeeded inside `month` and before now (the running month's
        first minutes, if that is all there is of it)."""
        start, end = statements.month_bounds(month)
        end = min(end, self.now - HOUR) if self.now - start > 2 * HOUR else self.now
        moments = sorted(start + (end - start) * self.rng.uniform(0.03, 0.97) for _ in range(count))
        for moment in moments:
            self.intercept(moment)

    def intercept(self, succeeded_at: datetime) -> None:
        self.sequence += 1
        self.earliest = min(self.earliest, succeeded_at - 3 * DAY)
        parcel = self.parcel(succeeded_at)
        applied_at = succeeded_at - self.rng.uniform(20, 90) * MINUTE
        with transaction.atomic():
            after_sale = aftersales_services.apply_for_after_sale(
                after_sale_no=f"AS-DSH{self.sequence:05d}",
                order_no=parcel.order.order_no,
                line_no="1",
                type=AfterSale.Type.REFUND_ONLY,
                reason=AfterSale.Reason.NOT_RECEIVED,
                amount=parcel.order.paid_amount,
                note=self.rng.choice(["快递一直没到，不想要了", "物流好几天不动了", "不想等了，申请退款"]),
                at=applied_at,
            )
        launched_at = applied_at + self.rng.uniform(5, 15) * MINUTE
        with transaction.atomic():
            created, _skipped = interception_services.launch_interceptions(
                shop=self.shop,
                user=self.owner,
                after_sale_ids=[after_sale.pk],
                via="detail",
                enqueue=False,
                at=launched_at,
            )
            if not created:
                return
            service_order = created[0]
            ServiceOrder.objects.filter(pk=service_order.pk).update(status="processing", attempts=1)
        # The carrier's results; the parcel comes back (so it never waits for a claim).
        for status, at in (
            ("succeeded", succeeded_at),
            ("returning", succeeded_at + DAY),
            ("returned", succeeded_at + 3 * DAY),
        ):
            if at >= self.now:
                break
            interception_services.apply_result(service_order_id=service_order.pk, status=status, occurred_at=at)

    def parcel(self, succeeded_at: datetime) -> Parcel:
        """A shipped order of the shop whose parcel left from the outlet and is still on its way."""
        title, category, price, _domestic = self.rng.choice(self.products)
        paid_at = succeeded_at - self.rng.uniform(1.5, 3) * DAY
        buyer, _created = Buyer.objects.get_or_create(
            external_id=f"dsh-buyer-{self.sequence:03d}", defaults={"nickname": self.rng.choice(demo.NICKNAMES)}
        )
        order = Order.objects.create(
            shop=self.shop,
            buyer=buyer,
            order_no=f"DSH{succeeded_at:%y%m}{self.sequence:05d}",
            status=Order.Status.SHIPPED,
            paid_amount=Decimal(price),
            paid_at=paid_at,
        )
        line = OrderLine.objects.create(
            order=order,
            line_no="1",
            sku=f"SKU-H{self.sequence:04d}",
            title=title,
            category=category,
            quantity=1,
            paid_amount=Decimal(price),
            domestic_physical=True,
        )
        shipped_at = paid_at + self.rng.uniform(3, 20) * HOUR
        moving_at = shipped_at + 10 * HOUR
        parcel = Parcel.objects.create(
            order=order,
            courier=self.outlet.courier,
            outlet=self.outlet,
            tracking_no=f"{self.outlet.courier.code}{self.rng.randint(10**11, 10**12 - 1)}",
            status=Parcel.Status.IN_TRANSIT,
            status_at=moving_at,
            shipped_at=shipped_at,
        )
        parcel.lines.set([line])
        TrackingEvent.objects.bulk_create(
            [
                TrackingEvent(parcel=parcel, status=Parcel.Status.COLLECTED, at=shipped_at, note="已揽收"),
                TrackingEvent(parcel=parcel, status=Parcel.Status.IN_TRANSIT, at=moving_at, note="运输中"),
            ]
        )
        return parcel


def backdate_partnership(partnership: Partnership, at: datetime) -> None:
    """The partnership had to be effective before the replayed offline interceptions."""
    if partnership.effective_at and partnership.effective_at > at:
        Partnership.objects.filter(pk=partnership.pk).update(created_at=at, effective_at=at)
        PartnershipLog.objects.filter(partnership=partnership).update(at=at)


def settle_month(shop, outlet, month, fate: str, *, owner, staff, rng) -> None:
    """Gather, close and answer one past month the way it would have happened."""
    start, end = statements.month_bounds(month)
    first = FeeCharge.objects.filter(
        shop=shop, outlet=outlet, mode=ServiceOrder.Mode.OFFLINE, charged_at__gte=start, charged_at__lt=end
    ).aggregate(first=Min("charged_at"))["first"]
    # opened with the month's first offline interception
    statements.refresh_open_statement(shop=shop, outlet=outlet, month=month, at=first or start)
    closed_at = end + 30 * MINUTE
    statements.close_month(month=month, now=closed_at)
    statement = Statement.objects.filter(shop=shop, outlet=outlet, month=month).first()
    if statement is None or fate == "issued":
        return
    answered_at = closed_at + rng.uniform(20, 60) * HOUR
    if fate == "disputed":
        rows = bill_rows(statement)
        billed = sum((fee for _no, fee in rows), Decimal("0.00"))
        note = f"我方账单 {len(rows)} 单，合计 {billed:.2f} 元，与对账单 {statement.total:.2f} 元不符，请核对。"
        statements.dispute_statement(statement_id=statement.pk, outlet=outlet, user=staff, note=note, at=answered_at)
        data = write_bill(statement, rows)
        statements.reconcile_statement(
            statement_id=statement.pk,
            shop=shop,
            user=owner,
            file_name=f"{BILL_NAME}.csv",
            bill_lines=reconciliation.read_bill(data=data),
            at=answered_at + 3 * HOUR,
        )
        return
    statements.confirm_statement(
        statement_id=statement.pk, outlet=outlet, user=staff, note="已核对，无误", at=answered_at
    )
    if fate == "settled":
        paid_at = answered_at + rng.uniform(24, 72) * HOUR
        statements.record_payment(
            statement_id=statement.pk,
            shop=shop,
            user=owner,
            reference=f"CMB{paid_at:%Y%m%d}{rng.randint(1000, 9999)}",
            amount=statement.total,
            at=paid_at,
        )


def bill_rows(statement: Statement) -> list[tuple[str, Decimal]]:
    """The outlet's bill of the statement, with one difference of each kind.

    First line: its fee differs; second: billed twice; last: missing (ours, not billed); plus a parcel
    of the outlet the shop never intercepted (billed, not ours). The others match.
    """
    ours = list(statement.lines.order_by("succeeded_at", "id").values_list("tracking_no", "amount"))
    rows: list[tuple[str, Decimal]] = []
    for index, (tracking_no, amount) in enumerate(ours):
        if index == len(ours) - 1 and len(ours) > 2:
            continue
        rows.append((tracking_no, amount + Decimal("0.50") if index == 0 else amount))
        if index == 1:
            rows.append((tracking_no, amount))
    stranger = (
        Parcel.objects.filter(outlet=statement.outlet, order__shop=statement.shop, service_orders__isnull=True)
        .order_by("pk")
        .values_list("tracking_no", flat=True)
        .first()
    )
    rows.insert(len(rows) // 2, (stranger or "YT900000000001", ours[0][1] if ours else Decimal("2.50")))
    return rows


def write_bill(statement: Statement, rows: list[tuple[str, Decimal]]) -> bytes:
    """The bill as the outlet would send it: Chinese headers, extra columns, a total row. Returns the CSV."""
    header = ["序号", "揽收网点", "运单号", "账期", "拦截费用（元）", "备注"]
    lines = [
        [str(n), statement.outlet.name, tracking_no, f"{statement.month:%Y-%m}", f"{fee:.2f}", ""]
        for n, (tracking_no, fee) in enumerate(rows, start=1)
    ]
    total = ["合计", "", "", "", f"{sum((fee for _t, fee in rows), Decimal('0.00')):.2f}", ""]
    data = "".join(streaming.csv_pieces(header, [*lines, total])).encode("utf-8")  # with a BOM
    folder = bill_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{BILL_NAME}.csv").write_bytes(data)
    title = [f"{statement.outlet.name} {statement.month:%Y年%m月} 拦截费账单"]  # a title row above the header
    numbers = [
        [int(number), name, tracking_no, period, float(fee), note]
        for number, name, tracking_no, period, fee, note in lines
    ]
    with open(folder / f"{BILL_NAME}.xlsx", "wb") as file:
        streaming.write_xlsx(file, title="拦截费账单", header=title, rows=[header, *numbers, total])
    return data
