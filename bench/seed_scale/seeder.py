"""The seeder: reference rows, then one transaction per batch of after-sales, bulk-inserted."""

import random
import time
from datetime import timedelta
from decimal import Decimal
from typing import TextIO

from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from aftersales.models import Actor, AfterSale, AfterSaleLog, RefundEntry
from interception.models import FeeCharge, ServiceOrder
from shop import demo
from shop.models import Buyer, Courier, Order, OrderLine, Outlet, Parcel, Shop, TrackingEvent, User

from .mix import (
    FLAGS,
    INTERCEPTED,
    LAST_ACTOR,
    MOVING,
    ONLINE_FEE,
    OPEN,
    PASSWORD,
    STATUSES,
    USERNAME,
    P,
    S,
    T,
    fits,
    money,
    pick_parcel_state,
    pick_status,
    pick_type_reason,
    timeline,
)


class SeedError(CommandError):
    """The seed refused (nothing written): a CommandError, as when it was `manage.py seed_scale`."""


class ScaleSeeder:
    def __init__(self, stdout: TextIO):
        self.out = stdout

    def write(self, line: str) -> None:
        self.out.write(line + "\n")

    def run(self, *, total: int, shop_code: str, batch: int, append: bool, seed: int) -> None:
        if total < 1 or batch < 1:
            raise SeedError("--after-sales and --batch must be at least 1.")
        self.rng = random.Random(seed)
        self.now = timezone.now()
        with transaction.atomic():
            self.shop = self.seed_shop(shop_code)
            existing = AfterSale.objects.filter(shop=self.shop).count()
            if existing and not append:
                raise SeedError(
                    f"Shop {self.shop.code!r} already has {existing} after-sales: pass --append to add "
                    f"{total} more, or choose another --shop."
                )
            self.outlets = self.seed_outlets()
            self.user = self.seed_user()
        self.token = f"{self.shop.pk}X{int(time.time() * 1000) % 10**10:x}".upper()
        self.write(f"Seeding {total:,} after-sales into {self.shop.code} (run {self.token}, batches of {batch:,})…")
        buyer_ids = self.seed_buyers(max(1, total // 3), batch)
        started, rows, done = time.monotonic(), 0, 0
        self.order_seq = 0
        while done < total:
            size = min(batch, total - done)
            with transaction.atomic():
                rows += self.seed_batch(size, buyer_ids)
            done += size
            elapsed = max(time.monotonic() - started, 1e-6)
            self.write(
                f"  {done:>10,} / {total:,} after-sales  {rows:>11,} rows  "
                f"{rows / elapsed:>9,.0f} rows/s  {done / elapsed:>8,.0f} after-sales/s  {elapsed:7.1f} s"
            )
        elapsed = time.monotonic() - started
        self.write(
            f"Done: {total:,} after-sales, {rows:,} rows in {elapsed:.1f} s. Log in as {USERNAME!r} / {PASSWORD!r}."
        )

    # --- reference rows --------------------------------------------------------------------------
    def seed_shop(self, code: str) -> Shop:
        shop, _ = Shop.objects.get_or_create(code=code, defaults={"name": f"规模测试店 {code}"})
        return shop

    def seed_outlets(self) -> list[Outlet]:
        couriers = {}
        for code, name, online, offline, approval in demo.COURIERS:
            couriers[code], _ = Courier.objects.get_or_create(
                code=code,
                defaults={
                    "name": name,
                    "supports_online_interception": online,
                    "supports_offline_settlement": offline,
                    "outlet_approval_required": approval,
                },
            )
        outlets = []
        for code, name, region, ewaybill in demo.OUTLETS:
            outlet, _ = Outlet.objects.get_or_create(
                code=code,
                defaults={
                    "courier": couriers[code.split("-")[0]],
                    "name": name,
                    "region": region,
                    "uses_platform_ewaybill": ewaybill,
                },
            )
            outlets.append(outlet)
        return outlets

    def seed_user(self) -> User:
        user = User.objects.filter(username=USERNAME).first()
        if user is None:
            return User.objects.create_user(
                username=USERNAME, password=PASSWORD, kind="merchant", shop=self.shop, shop_role="owner"
            )
        if user.shop_id != self.shop.pk:
            raise SeedError(f"User {USERNAME!r} exists and belongs to another shop ({user.shop_id}).")
        return user

    def seed_buyers(self, count: int, batch: int) -> list[int]:
        rng, ids = self.rng, []
        for start in range(0, count, batch):
            n = min(count, start + batch) - start
            with transaction.atomic():
                block = self.allocate_ids(Buyer, n)
                self.insert(
                    Buyer,
                    ("id", "external_id", "nickname", "trusted"),
                    [
                        (pk, f"SB{self.token}-{start + i}", rng.choice(demo.NICKNAMES), rng.random() < 0.1)
                        for i, pk in enumerate(block)
                    ],
                )
            ids.extend(block)
        return ids

    # --- writing rows ----------------------------------------------------------------------------
    def allocate_ids(self, model, count: int) -> list[int]:
        """Primary keys for `count` new rows, taken from the table's sequence (PostgreSQL) or after its max."""
        if count == 0:
            return []
        table = model._meta.db_table
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
                )
                return [row[0] for row in cursor.fetchall()]
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")
            start = cursor.fetchone()[0] + 1
        return list(range(start, start + count))

    def insert(self, model, names: tuple[str, ...], rows: list[tuple]) -> int:
        """Insert rows of plain values: COPY on PostgreSQL, one executemany elsewhere. No model instances."""
        if not rows:
            return 0
        fields = [model._meta.get_field(name) for name in names]
        missing = [f.name for f in model._meta.concrete_fields if not (f.primary_key or f.null or f.name in names)]
        if missing:  # a NOT NULL column without a value: Django sets no database defaults
            raise SeedError(f"{model.__name__}: no value for {', '.join(missing)}")
        quote = connection.ops.quote_name
        table, columns = quote(model._meta.db_table), ", ".join(quote(f.column) for f in fields)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                prepared = [
                    [field.get_db_prep_save(value, connection) for field, value in zip(fields, row, strict=True)]
                    for row in rows
                ]
                placeholders = ", ".join(["%s"] * len(fields))
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", prepared)
        return len(rows)

    # --- one batch -------------------------------------------------------------------------------
    def seed_batch(self, size: int, buyer_ids: list[int]) -> int:
        rng, now, shop, token = self.rng, self.now, self.shop, self.token
        lines_of, parcel_of, plans = [], [], []
        made = 0
        while made < size:
            self.order_seq += 1
            n = self.order_seq
            k = rng.choices([1, 2, 3], weights=[60, 28, 12])[0]
            first = pick_status(rng) if n > len(STATUSES) else STATUSES[n - 1]
            parcel_state = pick_parcel_state(rng, first)
            wanted = 2 if (rng.random() < 0.18 and made + 2 <= size) else 1
            specs = [(0, first)]
            if wanted == 2:
                if k >= 2:
                    second = pick_status(rng)
                    specs.append((1, second if fits(second, parcel_state) else S.PENDING_MERCHANT))
                elif first in (S.CANCELLED, S.REJECTED):
                    # withdrawn or rejected, then applied again on the same line (sequence 2)
                    second = pick_status(rng)
                    specs.append((0, second if fits(second, parcel_state) else S.PENDING_MERCHANT))
            made += len(specs)
            timelines = [timeline(rng, now, status) for _line, status in specs]
            paid_at = min(t[0] for t in timelines) - timedelta(seconds=rng.uniform(3600, 5 * 86400))
            lines = []
            for j in range(k):
                product = rng.randrange(len(demo.PRODUCTS))
                title, category, price, physical = demo.PRODUCTS[product]
                quantity = rng.choices([1, 2, 3], weights=[80, 15, 5])[0]
                cents = int(Decimal(price) * 100) * quantity
                lines.append([f"{j + 1}", title, category, quantity, cents, 0, physical, f"SKU-{product + 1:04d}"])
            plans.append((n, parcel_state, specs, timelines, paid_at, lines))
        # Amounts and refunds first, so that every counter is inserted already equal to the ledger.
        after_sale_rows = []
        for n, parcel_state, specs, timelines, _paid_at, lines in plans:
            for seq, ((line_index, status), (applied, deadline, closed)) in enumerate(
                zip(specs, timelines, strict=True), start=1
            ):
                kind, reason = pick_type_reason(rng, status, parcel_state)
                line_cents = lines[line_index][4]
                if kind == T.PRICE_PROTECTION:
                    amount = max(1, line_cents * rng.randint(5, 20) // 100)
                elif rng.random() < 0.8:
                    amount = line_cents
                else:
                    amount = max(1, line_cents * rng.randint(30, 90) // 100)
                refunded = amount if status == S.REFUNDED else 0
                lines[line_index][5] += refunded
                after_sale_rows.append(
                    (n, seq, line_index, status, kind, reason, amount, refunded, applied, deadline, closed)
                )
        # Orders: amounts and refunded counters already equal to the lines' (and so the ledger's).
        order_ids = self.allocate_ids(Order, len(plans))
        order_rows, buyer_of = [], {}
        for (n, parcel_state, specs, _timelines, paid_at, lines), order_id in zip(plans, order_ids, strict=True):
            paid = sum(line[4] for line in lines)
            refunded = sum(line[5] for line in lines)
            if parcel_state is None:
                order_status = Order.Status.CLOSED if refunded == paid else Order.Status.PREPARING
            elif parcel_state == P.SIGNED and all(s not in OPEN for _i, s in specs):
                order_status = Order.Status.COMPLETED
            else:
                order_status = Order.Status.SHIPPED
            buyer_of[n] = rng.choice(buyer_ids)
            order_rows.append(
                (order_id, shop.pk, buyer_of[n], f"SO{token}-{n}", order_status, money(paid), money(refunded))
                + (paid_at, paid_at)
            )
        rows = self.insert(
            Order,
            ("id", "shop", "buyer", "order_no", "status", "paid_amount", "refunded_amount", "paid_at", "created_at"),
            order_rows,
        )
        line_ids = iter(self.allocate_ids(OrderLine, sum(len(plan[5]) for plan in plans)))
        line_rows = []
        for (_n, _state, _specs, _timelines, _paid_at, lines), order_id in zip(plans, order_ids, strict=True):
            row = []
            for line_no, title, category, quantity, cents, refunded_cents, physical, sku in lines:
                line_id = next(line_ids)
                row.append(line_id)
                line_rows.append(
                    (line_id, order_id, line_no, sku, title, category, quantity, money(cents), money(refunded_cents))
                    + (physical,)
                )
            lines_of.append(row)
        rows += self.insert(
            OrderLine,
            ("id", "order", "line_no", "sku", "title", "category", "quantity", "paid_amount", "refunded_amount")
            + ("domestic_physical",),
            line_rows,
        )
        # Parcels (one per shipped order, carrying all its lines) and their latest tracking event.
        shipped_count = sum(1 for plan in plans if plan[1] is not None)
        parcel_ids = iter(self.allocate_ids(Parcel, shipped_count))
        parcel_rows, links, events = [], [], []
        for (n, parcel_state, _specs, _timelines, paid_at, _lines), order_id, row in zip(
            plans, order_ids, lines_of, strict=True
        ):
            if parcel_state is None:
                parcel_of.append(None)
                continue
            outlet = rng.choice(self.outlets)
            shipped = paid_at + timedelta(seconds=rng.uniform(2 * 3600, 36 * 3600))
            status_at = max(min(shipped + timedelta(seconds=rng.uniform(3600, 4 * 86400)), now), shipped)
            parcel = (next(parcel_ids), outlet.courier_id, outlet.pk, f"ST{token}{n:09d}", parcel_state, status_at)
            parcel_of.append(parcel)
            parcel_rows.append((parcel[0], order_id, *parcel[1:], shipped))
            links.extend((parcel[0], line_id) for line_id in row)
            events.append((parcel[0], parcel_state, status_at, demo.TRACKING_NOTES.get(parcel_state, ""), True, now))
        rows += self.insert(
            Parcel,
            ("id", "order", "courier", "outlet", "tracking_no", "status", "status_at", "shipped_at"),
            parcel_rows,
        )
        rows += self.insert(Parcel.lines.through, ("parcel", "orderline"), links)
        rows += self.insert(TrackingEvent, ("parcel", "status", "at", "note", "applied", "recorded_at"), events)
        # After-sales, their history, the refund ledger and the interception service orders.
        plan_index = {plan[0]: i for i, plan in enumerate(plans)}
        after_sale_ids = self.allocate_ids(AfterSale, len(after_sale_rows))
        after_sales, logs, refunds, service_orders, fees = [], [], [], [], []
        so_ids = iter(self.allocate_ids(ServiceOrder, len(after_sale_rows) // 2 + 1))
        user_id = self.user.pk
        for spec, after_sale_id in zip(after_sale_rows, after_sale_ids, strict=True):
            n, seq, line_index, status, kind, reason, amount, refunded, applied, deadline, closed = spec
            i = plan_index[n]
            parcel = parcel_of[i]
            line_id = lines_of[i][line_index]
            order_id = order_ids[i]
            number = f"SA{token}-{n}-{seq}"
            awaiting_receipt = status == S.AWAITING_MERCHANT_RECEIPT
            last_actor = LAST_ACTOR[status]
            after_sales.append(
                (after_sale_id, shop.pk, order_id, line_id, buyer_of[n], parcel[0] if parcel else None, number)
                + (kind, reason, "" if rng.random() < 0.7 else "麻烦尽快处理", money(amount), money(refunded))
                + (status, seq, False, deadline, rng.choice(FLAGS) if rng.random() < 0.1 else "")
                + ("已联系买家" if rng.random() < 0.05 else "", 2 if status != S.PENDING_MERCHANT else 1)
                + (AfterSale.RejectReason.NOT_AS_CLAIMED if status == S.REJECTED else "", "")
                + (f"RT{token}{n:09d}{seq}" if awaiting_receipt else "", "YTO" if awaiting_receipt else "")
                + (last_actor, applied, closed, closed or applied)
            )
            logs.append((after_sale_id, AfterSaleLog.Action.APPLIED, "", S.PENDING_MERCHANT, Actor.BUYER, "", applied))
            if status != S.PENDING_MERCHANT:
                at = closed or applied + timedelta(minutes=30)
                logs.append((after_sale_id, AfterSaleLog.Action.STATUS, S.PENDING_MERCHANT, status, last_actor, "", at))
            if refunded:
                refunds.append(
                    (shop.pk, order_id, line_id, after_sale_id, kind, money(refunded), Actor.MERCHANT, user_id)
                    + ("seed_scale", f"seed-scale:{number}", closed)
                )
            if parcel is None or seq != 1 or kind != T.REFUND_ONLY:
                continue
            parcel_id, courier_id, outlet_id, tracking_no, parcel_state, status_at = parcel
            if parcel_state in INTERCEPTED:
                so_status, succeeded = INTERCEPTED[parcel_state]
            elif parcel_state in MOVING and status in OPEN and rng.random() < 0.3:
                so_status, succeeded = rng.choice([ServiceOrder.Status.PROCESSING, ServiceOrder.Status.FAILED]), False
            else:
                continue
            so_id = next(so_ids)
            result_at = status_at if so_status != ServiceOrder.Status.PROCESSING else None
            launched = min(applied + timedelta(minutes=rng.uniform(1, 120)), now)
            service_orders.append(
                (so_id, shop.pk, after_sale_id, parcel_id, courier_id, outlet_id, ServiceOrder.Mode.ONLINE, ONLINE_FEE)
                + (rng.choice(ServiceOrder.Via.values), so_status)
                + ("包裹已派送，无法拦截" if so_status == ServiceOrder.Status.FAILED else "", "", f"CR{tracking_no}")
                + (result_at, result_at if succeeded else None, 1, user_id, launched, result_at or launched, "")
            )
            if succeeded:
                fees.append((shop.pk, so_id, courier_id, outlet_id, ServiceOrder.Mode.ONLINE, ONLINE_FEE, result_at))
        rows += self.insert(
            AfterSale,
            ("id", "shop", "order", "line", "buyer", "parcel", "after_sale_no", "type", "reason", "buyer_note")
            + ("amount", "refunded_amount", "status", "sequence", "multi_refund", "deadline", "flag", "remark")
            + ("version", "reject_reason", "reject_note", "return_tracking_no", "return_courier", "last_actor")
            + ("applied_at", "closed_at", "updated_at"),
            after_sales,
        )
        rows += self.insert(
            AfterSaleLog, ("after_sale", "action", "from_status", "to_status", "actor", "message", "at"), logs
        )
        rows += self.insert(
            RefundEntry,
            ("shop", "order", "line", "after_sale", "kind", "amount", "actor", "user", "reason", "idempotency_key")
            + ("created_at",),
            refunds,
        )
        rows += self.insert(
            ServiceOrder,
            ("id", "shop", "after_sale", "parcel", "courier", "outlet", "mode", "fee", "via", "status")
            + ("failure_reason", "return_failure", "carrier_ref", "result_at", "succeeded_at", "attempts")
            + ("created_by", "created_at", "updated_at", "waiting_reason"),
            service_orders,
        )
        rows += self.insert(
            FeeCharge, ("shop", "service_order", "courier", "outlet", "mode", "amount", "charged_at"), fees
        )
        return rows
