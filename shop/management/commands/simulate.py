"""Send a stream of signed platform events to a running back office, as the platform would.

Each simulated order is paid, shipped in one parcel and then moves along a logistics path; the
events of several orders interleave, and now and then one is re-delivered (duplicates must change
nothing) or arrives late (it must not move the parcel back). With --after-sales, buyers also apply
for after-sales (refund only while the parcel is in transit, return and refund after sign-for),
sometimes withdraw, and ship returns. The simulator only builds JSON: shop imports no higher app.
"""

import json
import random
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from shop import demo
from shop.localtime import SHANGHAI
from shop.signing import sign

PATHS = [demo.STATUS_PATHS[name] for name in ("signed", "refused", "intercepted", "out_for_delivery", "exception")]


class Command(BaseCommand):
    help = "Send signed platform events (order.paid, parcel.shipped, parcel.status) to a running server."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/api/platform/events")
        parser.add_argument("--shop", default="demo-shop")
        parser.add_argument("--orders", type=int, default=10, help="orders to simulate (default 10)")
        parser.add_argument("--delay", type=float, default=0.5, help="seconds between events (default 0.5)")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument(
            "--after-sales",
            action="store_true",
            help="also send aftersale.applied / aftersale.cancelled / aftersale.return_shipped for some orders",
        )

    def handle(self, *args, **options):
        rng = random.Random(options["seed"])
        self.url = options["url"]
        self.secret = settings.PLATFORM_EVENTS_SECRET
        stream = self.build_stream(rng, options["shop"], options["orders"], after_sales=options["after_sales"])
        counts: dict[str, int] = {}
        for event in stream:
            status, body = self.send(event)
            key = f"{status} {body.get('result') or body.get('code') or body.get('error', '')}"
            counts[key] = counts.get(key, 0) + 1
            self.stdout.write(
                f"{event['type']:<15} {event['id'][:18]:<18} → {status} {json.dumps(body, ensure_ascii=False)}"
            )
            time.sleep(options["delay"])
        self.stdout.write(self.style.SUCCESS("Done: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))))

    def build_stream(self, rng, shop, count, after_sales=False) -> list[dict]:
        now = datetime.now(SHANGHAI)
        per_order = []
        run = uuid.uuid4().hex[:6].upper()
        for i in range(count):
            order_no = f"SIM{run}{i:04d}"
            title, category, price, domestic = rng.choice(demo.PRODUCTS)
            outlet_code = rng.choice([code for code, *_ in demo.OUTLETS])
            courier = outlet_code.split("-")[0]
            tracking_no = f"{courier}{rng.randint(10**11, 10**12 - 1)}"
            paid_at = now - timedelta(hours=rng.uniform(24, 48))
            events = [
                self.event(
                    "order.paid",
                    paid_at,
                    {
                        "shop": shop,
                        "order_no": order_no,
                        "paid_at": paid_at.isoformat(),
                        "buyer": {
                            "id": f"sim-buyer-{rng.randint(1, 40)}",
                            "nickname": rng.choice(demo.NICKNAMES),
                            "trusted": rng.random() < 0.25,
                        },
                        "lines": [
                            {
                                "line_no": "1",
                                "sku": f"SKU-{i:05d}",
                                "title": title,
                                "category": category,
                                "quantity": 1,
                                "paid_amount": price,
                                "domestic_physical": domestic,
                            }
                        ],
                    },
                ),
                self.event(
                    "parcel.shipped",
                    paid_at + timedelta(hours=3),
                    {
                        "order_no": order_no,
                        "tracking_no": tracking_no,
                        "courier": courier,
                        "outlet": outlet_code,
                        "line_nos": ["1"],
                    },
                ),
            ]
            when = paid_at + timedelta(hours=4)
            moves = []
            for status in rng.choice(PATHS)[1:]:
                when += timedelta(hours=rng.uniform(2, 6))
                moves.append((status, when))
                events.append(
                    self.event(
                        "parcel.status",
                        when,
                        {
                            "tracking_no": tracking_no,
                            "courier": courier,
                            "status": status,
                            "at": when.isoformat(),
                            "note": demo.TRACKING_NOTES[status],
                        },
                    )
                )
            if after_sales:
                buyer_events = self.after_sale_events(rng, f"SAS{run}{i:04d}", order_no, price, moves)
                for extra in buyer_events:  # each at its moment among the order's own events
                    at = datetime.fromisoformat(extra["occurred_at"])
                    later = (k for k, e in enumerate(events) if datetime.fromisoformat(e["occurred_at"]) > at)
                    events.insert(next(later, len(events)), extra)
            if rng.random() < 0.3:
                events.append(dict(events[-1]))  # re-delivery of the same event id
            if len(events) > 3 and rng.random() < 0.3:
                late = dict(events[2], id=f"evt-{uuid.uuid4().hex}")  # an old status, arriving last
                events.append(late)
            per_order.append(events)
        # Interleave the orders while keeping each order's own events in order.
        stream = []
        while per_order:
            queue = rng.choice(per_order)
            stream.append(queue.pop(0))
            if not queue:
                per_order.remove(queue)
        return stream

    def after_sale_events(self, rng, after_sale_no, order_no, amount, moves) -> list[dict]:
        """Some buyers ask for a refund only while the parcel is in transit, or a return after signing.

        A return ships only once the merchant agreed it: sent before that, the back office answers
        409 invalid_transition (agree the return on the workbench during a slow run to see it land).
        """
        if not moves or rng.random() < 0.4:
            return []
        (_first, in_transit_at), (final, final_at) = moves[0], moves[-1]
        common = {"after_sale_no": after_sale_no, "order_no": order_no, "line_no": "1", "amount": amount}
        if final == "signed" and rng.random() < 0.5:
            applied_at = final_at + timedelta(hours=rng.uniform(1, 3))
            reason = rng.choice(["quality", "wrong_item", "damaged"])
            return [
                self.event(
                    "aftersale.applied",
                    applied_at,
                    {**common, "type": "return_refund", "reason": reason, "note": "收到后发现有问题，申请退货"},
                ),
                self.event(
                    "aftersale.return_shipped",
                    applied_at + timedelta(hours=rng.uniform(2, 4)),
                    {
                        "after_sale_no": after_sale_no,
                        "tracking_no": f"SF{rng.randint(10**11, 10**12 - 1)}",
                        "courier": "SF",
                    },
                ),
            ]
        applied_at = in_transit_at + timedelta(minutes=rng.uniform(30, 90))
        events = [
            self.event(
                "aftersale.applied",
                applied_at,
                {**common, "type": "refund_only", "reason": "not_received", "note": "一直没到，不想要了"},
            )
        ]
        if rng.random() < 0.25:
            events.append(
                self.event(
                    "aftersale.cancelled",
                    applied_at + timedelta(minutes=rng.uniform(10, 60)),
                    {"after_sale_no": after_sale_no},
                )
            )
        return events

    @staticmethod
    def event(event_type, occurred_at, data) -> dict:
        return {
            "id": f"evt-{uuid.uuid4().hex}",
            "type": event_type,
            "occurred_at": occurred_at.isoformat(),
            "data": data,
        }

    def send(self, event) -> tuple[int, dict]:
        body = json.dumps(event, ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Platform-Timestamp": timestamp,
                "X-Platform-Signature": sign(body, timestamp, self.secret),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
