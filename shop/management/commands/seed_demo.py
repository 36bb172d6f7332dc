"""Demo data for a first run: shops, couriers, outlets, accounts and a few hundred orders.

Idempotent: reference rows are upserted by code, and orders are generated only once per shop.

The whole demo is dated from one anchor, the moment the command starts (or `--at`): every app's seed
places its history relative to that same moment, so a seed that runs across midnight, or across the
end of a month, still tells one consistent story, and the demo has the same size on every day.
"""

import random
import zlib
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import module_has_submodule

from shop import demo
from shop.models import Buyer, Courier, Order, OrderLine, Outlet, Parcel, Shop, TrackingEvent, User
from shop.permissions import groups_for


def anchor_argument(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--at {value!r}: not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise CommandError(f"--at {value!r}: give an offset, e.g. 2027-01-31T23:50:00+08:00")
    return moment


class Command(BaseCommand):
    help = "Create demo shops, couriers, outlets, accounts (password demo-pass) and orders. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=300, help="orders for demo-shop (default 300)")
        parser.add_argument("--seed", type=int, default=20261123, help="random seed, for repeatable data")
        parser.add_argument(
            "--at", type=anchor_argument, default=None, help="date the demo from this moment (ISO 8601 with offset)"
        )

    @transaction.atomic
    def handle(self, *args, **options):
        rng = random.Random(options["seed"])
        now = options["at"] or timezone.now()
        couriers = self.seed_couriers()
        outlets = self.seed_outlets(couriers)
        shops = self.seed_shops()
        self.seed_accounts(shops, outlets)
        created = self.seed_orders(shops["demo-shop"], "DS", options["orders"], demo.PRODUCTS, outlets, rng, now)
        created += self.seed_orders(shops["demo-global"], "DG", 40, demo.GLOBAL_PRODUCTS, outlets, rng, now)
        self.seed_other_apps(options["seed"], now)
        self.stdout.write(self.style.SUCCESS(f"Demo data ready ({created} new orders). Password: demo-pass"))

    def seed_other_apps(self, seed: int, now: datetime) -> None:
        """Each higher app adds its own demo data through its `demo_seed.seed()`: shop imports none of them.

        Apps run in INSTALLED_APPS order (the layer order), each with its own repeatable random source.
        """
        for app_config in apps.get_app_configs():
            if app_config.name != "shop" and module_has_submodule(app_config.module, "demo_seed"):
                hook = import_module(f"{app_config.name}.demo_seed")
                hook.seed(stdout=self.stdout, rng=random.Random(f"{seed}:{app_config.label}"), now=now)

    def seed_couriers(self) -> dict[str, Courier]:
        couriers = {}
        for code, name, online, offline, approval in demo.COURIERS:
            couriers[code], _ = Courier.objects.update_or_create(
                code=code,
                defaults={
                    "name": name,
                    "supports_online_interception": online,
                    "supports_offline_settlement": offline,
                    "outlet_approval_required": approval,
                },
            )
        return couriers

    def seed_outlets(self, couriers) -> dict[str, Outlet]:
        outlets = {}
        for code, name, region, ewaybill in demo.OUTLETS:
            outlets[code], _ = Outlet.objects.update_or_create(
                code=code,
                defaults={
                    "courier": couriers[code.split("-")[0]],
                    "name": name,
                    "region": region,
                    "uses_platform_ewaybill": ewaybill,
                },
            )
        return outlets

    def seed_shops(self) -> dict[str, Shop]:
        shops = {}
        for code, name, cross_border, duty_free in demo.SHOPS:
            shops[code], _ = Shop.objects.update_or_create(
                code=code, defaults={"name": name, "cross_border": cross_border, "hainan_duty_free": duty_free}
            )
        return shops

    def seed_accounts(self, shops, outlets) -> None:
        for username, kind, shop_code, role, outlet_code, outlet_role, display, sets in demo.ACCOUNTS:
            user, created = User.objects.update_or_create(
                username=username,
                defaults={
                    "kind": kind,
                    "shop": shops.get(shop_code),
                    "shop_role": role,
                    "outlet": outlets.get(outlet_code),
                    "outlet_role": outlet_role,
                    "first_name": display,
                    "is_staff": kind == User.Kind.OPERATOR,
                    "is_superuser": kind == User.Kind.OPERATOR,
                },
            )
            if created or not user.has_usable_password():
                user.set_password(demo.DEMO_PASSWORD)
                user.save(update_fields=["password"])
            # Each demo member has exactly the sets of the README's table, again on every seed.
            user.groups.set(groups_for(sets))

    def seed_orders(self, shop, prefix, count, products, outlets, rng, now) -> int:
        if Order.objects.filter(shop=shop).exists():
            return 0
        shipping_outlets = list(outlets.values())
        final_states = list(demo.STATUS_PATHS)
        buyers = [
            Buyer.objects.update_or_create(
                external_id=f"{prefix.lower()}-buyer-{i:03d}",
                defaults={"nickname": rng.choice(demo.NICKNAMES), "trusted": i % 4 == 0},
            )[0]
            for i in range(1, 61)
        ]
        orders, lines_by_order, plans = [], {}, {}
        for i in range(1, count + 1):
            paid_at = now - timedelta(days=rng.uniform(0.2, 30), minutes=rng.randint(0, 600))
            picked = rng.sample(products, k=rng.choice([1, 1, 1, 2, 2, 3]) if len(products) > 3 else 1)
            lines = []
            for n, (title, category, price, domestic) in enumerate(picked, start=1):
                quantity = rng.choice([1, 1, 1, 2])
                lines.append(
                    OrderLine(
                        line_no=str(n),
                        sku=f"SKU-{zlib.crc32(title.encode()) % 100000:05d}",
                        title=title,
                        category=category,
                        quantity=quantity,
                        paid_amount=Decimal(price) * quantity,
                        domestic_physical=domestic,
                    )
                )
            # Most orders ship in one parcel; some wait in the warehouse, some are split or closed.
            roll = rng.random()
            if roll < 0.08:
                status, plan = Order.Status.PREPARING, []
            elif roll < 0.11:
                status, plan = Order.Status.CLOSED, []
            elif roll < 0.13:
                status, plan = Order.Status.PENDING_PAYMENT, []
            elif roll < 0.20 and len(lines) > 1:
                status, plan = Order.Status.PARTIALLY_SHIPPED, [(lines[:1], rng.choice(final_states))]
            else:
                state = final_states[i % len(final_states)] if i <= len(final_states) else rng.choice(final_states)
                status = Order.Status.COMPLETED if state == "signed" and rng.random() < 0.5 else Order.Status.SHIPPED
                plan = [(lines, state)]
            order = Order(
                shop=shop,
                buyer=rng.choice(buyers),
                order_no=f"{prefix}{now:%y%m}{i:06d}",
                status=status,
                paid_amount=sum((line.paid_amount for line in lines), Decimal("0.00")),
                paid_at=None if status == Order.Status.PENDING_PAYMENT else paid_at,
            )
            orders.append(order)
            lines_by_order[order.order_no] = lines
            plans[order.order_no] = plan
        Order.objects.bulk_create(orders)
        all_lines = []
        for order in orders:
            for line in lines_by_order[order.order_no]:
                line.order = order
                all_lines.append(line)
        OrderLine.objects.bulk_create(all_lines)
        self.seed_parcels(orders, plans, shipping_outlets, rng)
        return len(orders)

    def seed_parcels(self, orders, plans, outlets, rng) -> None:
        parcels, carried, timelines = [], [], []
        for order in orders:
            for parcel_lines, state in plans[order.order_no]:
                outlet = rng.choice(outlets)
                shipped_at = order.paid_at + timedelta(hours=rng.uniform(2, 30))
                path = demo.STATUS_PATHS[state]
                times = [shipped_at + timedelta(hours=10 * step + rng.uniform(0, 6)) for step in range(len(path))]
                parcel = Parcel(
                    order=order,
                    courier=outlet.courier,
                    outlet=outlet,
                    tracking_no=f"{outlet.courier.code}{rng.randint(10**11, 10**12 - 1)}",
                    status=state,
                    status_at=times[-1],
                    shipped_at=shipped_at,
                )
                parcels.append(parcel)
                carried.append(parcel_lines)
                timelines.append(list(zip(path, times, strict=True)))
        Parcel.objects.bulk_create(parcels)
        through = Parcel.lines.through
        through.objects.bulk_create(
            through(parcel_id=parcel.pk, orderline_id=line.pk)
            for parcel, lines in zip(parcels, carried, strict=True)
            for line in lines
        )
        TrackingEvent.objects.bulk_create(
            TrackingEvent(parcel=parcel, status=status, at=when, note=demo.TRACKING_NOTES[status])
            for parcel, timeline in zip(parcels, timelines, strict=True)
            for status, when in timeline
        )
