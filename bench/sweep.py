"""The every-minute timeout sweep on N overdue after-sales (10 000; 1 000 with ctx.quick).

Builds a fresh shop of its own (bulk inserts, untimed): orders with one to three lines, a parcel per
shipped order with its lines and latest tracking event, and one overdue open after-sale per line in
the mix the sweep meets (refund only and price protection waiting for the merchant, refund after
refusal, goods received back: refunded; a return and refund waiting for the merchant: the buyer is
asked to return; a return the buyer never shipped: closed), some lines with a small payment already
in the ledger (the refund is capped) or used up by one (closed, nothing to refund), counters equal
to the ledger. Then times `sweep_overdue_after_sales(shop_id=…)`, the per-shop sweep: the scratch
database's other shops (the seeded scale shop holds ~30 000 overdue after-sales) are neither timed
nor touched, so the parts that read the scale shop see it as seeded. Queries are counted with an
execute wrapper (not CaptureQueriesContext, whose SQL recording would be timed too).

Afterwards it checks what the sweep must guarantee: none of the shop's after-sales is still overdue,
each refunded one has exactly one ledger row, and the line and order counters equal the ledger sums.
"""

import random
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from bench.common import Context

S = "pending_merchant", "refund_after_refusal", "awaiting_buyer_return", "awaiting_merchant_receipt"
# (status, type, reason, parcel status or None for not shipped, weight): what the sweep meets.
MIX = [
    ("pending_merchant", "refund_only", "no_longer_needed", None, 10),  # refunded
    ("pending_merchant", "refund_only", "quality", "signed", 8),  # refunded
    ("pending_merchant", "price_protection", "price_drop", "signed", 4),  # refunded, part of the line
    ("pending_merchant", "return_refund", "quality", "signed", 22),  # the buyer is asked to return
    ("refund_after_refusal", "refund_only", "not_received", "in_transit", 10),  # refunded
    ("refund_after_refusal", "refund_only", "not_received", "refused", 5),  # refunded
    ("awaiting_buyer_return", "return_refund", "wrong_item", "signed", 14),  # closed
    ("awaiting_merchant_receipt", "return_refund", "damaged", "signed", 14),  # refunded
]
PRICES = [Decimal(p) for p in ("19.90", "39.90", "59.90", "89.00", "129.00", "199.00", "259.00", "399.00", "1299.00")]
SMALL_PAYMENT_SHARE = 0.05  # lines with a small payment before the timeout: the refund is capped
USED_UP_SHARE = 0.01  # lines whose small payment used everything up: closed, nothing to refund
BATCH = 2000


def run(ctx: Context) -> dict:
    from aftersales.models import AfterSale
    from aftersales.tasks import sweep_overdue_after_sales

    count = 1_000 if ctx.quick else 10_000
    now = timezone.now()
    started = time.monotonic()
    shop = build_overdue_shop(count, now=now, rng=random.Random(20261125))
    ctx.log(f"sweep: built shop {shop.code} with {count:,} overdue after-sales in {time.monotonic() - started:.1f} s")
    before = Counter(AfterSale.objects.filter(shop=shop).values_list("status", "type"))
    others_overdue = overdue(AfterSale.objects.exclude(shop=shop), now).count()
    ctx.log(f"sweep: {others_overdue:,} overdue after-sales of other shops are left out of the timing")

    queries = 0

    def count_queries(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count_queries):
        started = time.monotonic()
        handled = sweep_overdue_after_sales(now=now, shop_id=shop.pk)
        elapsed = time.monotonic() - started
    ctx.log(f"sweep: {handled:,} after-sales in {elapsed:.2f} s, {queries:,} queries")

    check(shop, now=now, count=count, handled=handled)
    if overdue(AfterSale.objects.exclude(shop=shop), now).count() != others_overdue:
        raise AssertionError(
            "other shops' overdue after-sales changed during the per-shop sweep "
            "(a qcluster running the scheduled sweep on this database?)"
        )
    after = Counter(AfterSale.objects.filter(shop=shop).values_list("status", flat=True))
    ctx.notes.append(
        f"sweep: {count:,} overdue after-sales of a fresh shop ({mix_text(before)}) → {dict(sorted(after.items()))}; "
        f"per-shop sweep, {others_overdue:,} overdue after-sales of other shops left untouched"
    )
    return {
        "sweep_10k_s": round(elapsed, 2),
        "sweep_after_sales": handled,
        "sweep_ms_per_after_sale": round(elapsed * 1000 / max(handled, 1), 3),
        "sweep_queries": queries,
        "sweep_queries_per_after_sale": round(queries / max(handled, 1), 3),
    }


def overdue(queryset, now):
    return queryset.filter(status__in=S, deadline__lt=now)


def mix_text(before: Counter) -> str:
    return ", ".join(f"{status}/{type} {n}" for (status, type), n in sorted(before.items()))


def check(shop, *, now, count: int, handled: int) -> None:
    """What the sweep guarantees, on the shop it swept."""
    from aftersales.models import AfterSale, RefundEntry
    from shop.models import Order, OrderLine

    if handled != count:
        raise AssertionError(
            f"the sweep handled {handled} after-sales, not {count} "
            "(a qcluster running the scheduled sweep on this database took some?)"
        )
    if overdue(AfterSale.objects.filter(shop=shop), now).exists():
        raise AssertionError("overdue after-sales are left after the sweep")
    per_after_sale = RefundEntry.objects.filter(shop=shop, after_sale__isnull=False).values("after_sale")
    if per_after_sale.annotate(n=Count("id")).filter(n__gt=1).exists():
        raise AssertionError("an after-sale was refunded twice")
    refunded = AfterSale.objects.filter(shop=shop, status="refunded").count()
    if per_after_sale.count() != refunded:
        raise AssertionError(f"{refunded} after-sales refunded, {per_after_sale.count()} ledger rows")
    for model, key in ((OrderLine, "line"), (Order, "order")):
        ledger = dict(RefundEntry.objects.filter(shop=shop).values_list(key).annotate(total=Sum("amount")).order_by())
        scope = OrderLine.objects.filter(order__shop=shop) if model is OrderLine else Order.objects.filter(shop=shop)
        for pk, refunded_amount in scope.values_list("pk", "refunded_amount"):
            if ledger.get(pk, Decimal("0.00")) != refunded_amount:
                raise AssertionError(f"{model.__name__} {pk}: counter {refunded_amount} ≠ ledger {ledger.get(pk)}")


# --- the fresh shop ------------------------------------------------------------------------------
def build_overdue_shop(count: int, *, now, rng: random.Random):
    """A new shop with `count` overdue open after-sales and what surrounds them (bulk inserts only)."""
    from aftersales.models import Actor, AfterSale, AfterSaleLog, RefundEntry
    from shop.models import Buyer, Courier, Order, OrderLine, Outlet, Parcel, Shop, TrackingEvent

    token = f"{int(time.time() * 1000) % 10**10:x}".upper()
    courier, _ = Courier.objects.get_or_create(
        code="YTO", defaults={"name": "圆通速递", "supports_online_interception": True}
    )
    outlet, _ = Outlet.objects.get_or_create(
        code="YTO-SH-001",
        defaults={"courier": courier, "name": "圆通上海青浦网点", "region": "上海", "uses_platform_ewaybill": True},
    )
    shapes = [entry[:4] for entry in MIX]
    weights = [entry[4] for entry in MIX]
    with transaction.atomic():
        shop = Shop.objects.create(code=f"bench-sweep-{token}", name=f"超时压测店 {token}")
        buyers = Buyer.objects.bulk_create(
            [
                Buyer(external_id=f"BSW{token}-{i}", nickname=f"买家{i}", trusted=rng.random() < 0.1)
                for i in range(max(1, count // 3))
            ],
            batch_size=BATCH,
        )
        # Plans: per order, the shape of each line's after-sale; a parcel (if shipped) carries every line.
        plans, made = [], 0
        while made < count:
            status, type, reason, parcel_status = rng.choices(shapes, weights=weights)[0]
            lines = 1 if parcel_status is None else min(rng.choices([1, 2, 3], weights=[70, 22, 8])[0], count - made)
            alike = [shape for shape in shapes if shape[3] == parcel_status]
            shape = [(status, type, reason)] + [s[:3] for s in rng.choices(alike, k=lines - 1)]
            made += lines
            plans.append((parcel_status, shape))
        # A small payment on some lines before the deadline passed: the counters include it.
        orders, order_lines, refunds = [], [], []
        for n, (parcel_status, shape) in enumerate(plans):
            lines = []
            for i in range(len(shape)):
                price = rng.choice(PRICES)
                draw = rng.random()
                if draw < USED_UP_SHARE:
                    paid_back = price
                elif draw < USED_UP_SHARE + SMALL_PAYMENT_SHARE:
                    paid_back = (price * Decimal("0.2")).quantize(Decimal("0.01"))
                else:
                    paid_back = Decimal("0.00")
                lines.append(
                    OrderLine(
                        line_no=str(i + 1),
                        sku=f"SKU-{i + 1:04d}",
                        title="保温杯",
                        category="home",
                        quantity=1,
                        paid_amount=price,
                        refunded_amount=paid_back,
                    )
                )
            orders.append(
                Order(
                    shop=shop,
                    buyer=rng.choice(buyers),
                    order_no=f"BSWO{token}-{n}",
                    status=Order.Status.PREPARING if parcel_status is None else Order.Status.SHIPPED,
                    paid_amount=sum(line.paid_amount for line in lines),
                    refunded_amount=sum(line.refunded_amount for line in lines),
                    paid_at=now - timedelta(days=rng.uniform(3, 12)),
                )
            )
            order_lines.append(lines)
        Order.objects.bulk_create(orders, batch_size=BATCH)
        for order, lines in zip(orders, order_lines, strict=True):
            for line in lines:
                line.order = order
                if line.refunded_amount:
                    refunds.append((order, line, line.refunded_amount))
        OrderLine.objects.bulk_create([line for lines in order_lines for line in lines], batch_size=BATCH)
        parcels = []
        for n, ((parcel_status, _shape), order) in enumerate(zip(plans, orders, strict=True)):
            if parcel_status is None:
                parcels.append(None)
                continue
            shipped = order.paid_at + timedelta(hours=rng.uniform(2, 30))
            parcels.append(
                Parcel(
                    order=order,
                    courier=courier,
                    outlet=outlet,
                    tracking_no=f"BSW{token}{n:08d}",
                    status=parcel_status,
                    status_at=shipped + timedelta(hours=rng.uniform(4, 40)),
                    shipped_at=shipped,
                )
            )
        Parcel.objects.bulk_create([p for p in parcels if p], batch_size=BATCH)
        Parcel.lines.through.objects.bulk_create(
            [
                Parcel.lines.through(parcel_id=parcel.pk, orderline_id=line.pk)
                for parcel, lines in zip(parcels, order_lines, strict=True)
                if parcel
                for line in lines
            ],
            batch_size=BATCH,
        )
        TrackingEvent.objects.bulk_create(
            [TrackingEvent(parcel=p, status=p.status, at=p.status_at) for p in parcels if p], batch_size=BATCH
        )
        after_sales = []
        for n, ((_parcel_status, shape), order, lines, parcel) in enumerate(
            zip(plans, orders, order_lines, parcels, strict=True)
        ):
            for seq, ((status, type, reason), line) in enumerate(zip(shape, lines, strict=True), start=1):
                left = line.paid_amount - line.refunded_amount
                if type == "price_protection":
                    amount = (line.paid_amount * Decimal("0.15")).quantize(Decimal("0.01"))
                else:
                    amount = left if left > 0 else line.paid_amount
                deadline = now - timedelta(seconds=rng.uniform(60, 36 * 3600))
                window = timedelta(hours=48) if status == "pending_merchant" else timedelta(days=7)
                after_sales.append(
                    AfterSale(
                        shop=shop,
                        order=order,
                        line=line,
                        buyer_id=order.buyer_id,
                        parcel=parcel,
                        after_sale_no=f"BSWA{token}-{n}-{seq}",
                        type=type,
                        reason=reason,
                        amount=amount,
                        status=status,
                        sequence=seq,
                        deadline=deadline,
                        version=1 if status == "pending_merchant" else 2,
                        return_tracking_no=f"RT{token}{n:08d}{seq}" if status == "awaiting_merchant_receipt" else "",
                        return_courier="SF" if status == "awaiting_merchant_receipt" else "",
                        last_actor=Actor.BUYER if status == "pending_merchant" else Actor.MERCHANT,
                        applied_at=deadline - window,
                    )
                )
        AfterSale.objects.bulk_create(after_sales, batch_size=BATCH)
        AfterSaleLog.objects.bulk_create(
            [
                AfterSaleLog(
                    after_sale=a, action="applied", to_status="pending_merchant", actor=Actor.BUYER, at=a.applied_at
                )
                for a in after_sales
            ],
            batch_size=BATCH,
        )
        RefundEntry.objects.bulk_create(
            [
                RefundEntry(
                    shop=shop,
                    order=order,
                    line=line,
                    kind="small_payment",
                    amount=amount,
                    actor=Actor.MERCHANT,
                    reason="小额打款",
                    idempotency_key=f"bench-sweep:{token}:{line.pk}",
                )
                for order, line, amount in refunds
            ],
            batch_size=BATCH,
        )
    return shop
