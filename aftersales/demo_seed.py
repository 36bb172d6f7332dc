"""After-sales demo data. `seed_demo` (app `shop`) calls `seed()` once the shops' orders exist.

A month of after-sales work is replayed through the real services, on the orders the shop seed
made, in the order it would have happened. Each step passes its moment to the service (`at=`), so
history rows, refunds, deadlines and the metrics page look like real past work; the buyers'
notifications of that history are left to the retry sweep (`notifications.delivery_by_sweep()`). Produced: every
status; refund after refusal with parcels still moving, then signed, refused or intercepted;
repeat refunds (sequence 2–3); deadlines about to expire (< 12 h) and a few overdue; flags and
remarks; one refund-only buyer above the abuse threshold. Idempotent: a shop that already has
after-sales is left alone.
"""

import itertools
import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from shop import demo, permissions
from shop import services as shop_services
from shop.errors import DomainError, NotFound
from shop.models import Order, OrderLine, Parcel, Shop, User
from shop.permissions import PermissionSet

from . import notifications, rules, services
from .metrics import SHANGHAI
from .models import AfterSale

T, R, S, P = AfterSale.Type, AfterSale.Reason, AfterSale.Status, Parcel.Status
HOUR, DAY, MINUTE = timedelta(hours=1), timedelta(days=1), timedelta(minutes=1)
OVERDUE = (-10, -1)  # hours left on the deadline: already passed
SOON = (1, 11)  # about to time out (即将超时, < 12 h)
LATER = (13, 46)

# A 1×1 PNG: the evidence a rejection needs.
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)
NOT_RECEIVED_NOTES = ["一直没到", "物流好几天不动了", "不想等了，申请退款", "快递显示在途，我不要了"]
RETURN_NOTES = ["尺码不合适", "和描述不符", "收到有划痕", "质量一般，想退"]

# (pool, scenario, how many, options) for each demo shop; a step the orders cannot serve is skipped.
PLANS = {
    "demo-shop": [
        ("refusal", "refusal_waiting", 10, {}),
        ("refusal", "refusal_waiting", 2, {"overdue": True}),
        ("refusal", "refusal_resolved_open", 2, {"status": P.SIGNED, "left": SOON}),
        ("refusal", "refusal_resolved_open", 2, {"status": P.SIGNED, "left": LATER}),
        ("refusal", "refusal_resolved_open", 3, {"status": P.REFUSED, "left": LATER}),
        ("refusal", "refusal_resolved_open", 2, {"status": P.INTERCEPTED, "left": SOON}),
        ("refusal", "refusal_resolved_decided", 3, {"status": P.SIGNED}),
        ("refusal", "refusal_resolved_decided", 2, {"status": P.SIGNED, "escalate": True}),
        ("refusal", "refusal_resolved_decided", 1, {"status": P.SIGNED, "escalate": True, "ruling": True}),
        ("refusal", "refusal_resolved_decided", 4, {"status": P.REFUSED}),
        ("refusal", "refusal_resolved_decided", 3, {"status": P.INTERCEPTED}),
        ("refusal", "refusal_timeout", 4, {}),
        ("refusal", "cancelled", 3, {"type": T.REFUND_ONLY, "reason": R.NOT_RECEIVED}),
        ("moving", "pending", 2, {"type": T.REFUND_ONLY, "reason": R.NOT_RECEIVED, "left": SOON}),
        ("moving", "decided", 2, {"type": T.REFUND_ONLY, "reason": R.NOT_RECEIVED, "decision": "refund"}),
        ("signed", "pending", 2, {"type": T.RETURN_REFUND, "reason": R.QUALITY, "left": SOON}),
        ("signed", "pending", 1, {"type": T.RETURN_REFUND, "reason": R.WRONG_ITEM, "left": OVERDUE}),
        ("signed", "repeat_refunds", 2, {"applications": 3}),
        ("signed", "repeat_refunds", 2, {"applications": 2}),
        ("signed", "return_flow", 3, {"stage": S.AWAITING_BUYER_RETURN}),
        ("signed", "return_flow", 3, {"stage": S.AWAITING_MERCHANT_RECEIPT}),
        ("signed", "return_flow", 3, {"stage": S.REFUNDED}),
        ("signed", "return_flow", 2, {"stage": S.CLOSED}),
        ("signed", "decided", 2, {"type": T.REFUND_ONLY, "reason": R.NOT_RECEIVED, "decision": "reject"}),
        ("back", "decided", 20, {"type": T.REFUND_ONLY, "reason": R.NOT_RECEIVED, "decision": "refund"}),
        ("back", "pending", 2, {"type": T.REFUND_ONLY, "reason": R.NOT_RECEIVED, "left": LATER}),
        ("back", "pending", 1, {"type": T.REFUND_ONLY, "reason": R.NOT_RECEIVED, "left": SOON}),
        ("back", "pending", 1, {"type": T.REFUND_ONLY, "reason": R.NOT_RECEIVED, "left": OVERDUE}),
        ("back", "decided", 5, {"type": T.REFUND_ONLY, "reason": R.NOT_RECEIVED, "decision": "timeout"}),
        ("back", "cancelled", 3, {"type": T.REFUND_ONLY, "reason": R.NOT_RECEIVED}),
        ("back", "decided", 2, {"type": T.REFUND_ONLY, "reason": R.NOT_RECEIVED, "decision": "reject"}),
        ("trouble", "decided", 14, {"type": T.REFUND_ONLY, "reason": R.DAMAGED, "decision": "refund"}),
        ("trouble", "pending", 3, {"type": T.REFUND_ONLY, "reason": R.NOT_RECEIVED, "left": LATER}),
        ("trouble", "decided", 2, {"type": T.REFUND_ONLY, "reason": R.DAMAGED, "decision": "reject"}),
        ("trouble", "decided", 2, {"type": T.REFUND_ONLY, "reason": R.NOT_RECEIVED, "decision": "timeout"}),
        ("preparing", "pending", 2, {"type": T.REFUND_ONLY, "reason": R.NO_LONGER_NEEDED, "left": LATER}),
        ("preparing", "pending", 1, {"type": T.REFUND_ONLY, "reason": R.NO_LONGER_NEEDED, "left": SOON}),
        ("preparing", "decided", 6, {"type": T.REFUND_ONLY, "reason": R.NO_LONGER_NEEDED, "decision": "refund"}),
        ("preparing", "cancelled", 2, {"type": T.REFUND_ONLY, "reason": R.NO_LONGER_NEEDED}),
    ],
    "demo-global": [
        ("moving", "pending", 2, {"type": T.REFUND_ONLY, "reason": R.NOT_RECEIVED, "left": LATER}),
        ("moving", "decided", 2, {"type": T.REFUND_ONLY, "reason": R.NOT_RECEIVED, "decision": "refund"}),
        ("signed", "return_flow", 1, {"stage": S.AWAITING_BUYER_RETURN}),
        ("signed", "return_flow", 1, {"stage": S.REFUNDED}),
        ("signed", "decided", 1, {"type": T.REFUND_ONLY, "reason": R.NOT_RECEIVED, "decision": "reject"}),
        ("back", "decided", 3, {"type": T.REFUND_ONLY, "reason": R.NOT_RECEIVED, "decision": "refund"}),
        ("back", "pending", 1, {"type": T.REFUND_ONLY, "reason": R.NOT_RECEIVED, "left": SOON}),
        ("trouble", "decided", 2, {"type": T.REFUND_ONLY, "reason": R.DAMAGED, "decision": "refund"}),
        ("preparing", "pending", 1, {"type": T.REFUND_ONLY, "reason": R.NO_LONGER_NEEDED, "left": LATER}),
        ("preparing", "decided", 1, {"type": T.REFUND_ONLY, "reason": R.NO_LONGER_NEEDED, "decision": "refund"}),
    ],
}
ABUSE_SHOP = "demo-shop"
ABUSE_APPLICATIONS = 6  # refund-only requests of one buyer: above AFTERSALES_ABUSE_THRESHOLD_COUNT


class Skip(Exception):
    """The order cannot serve this scenario (its timeline does not fit): try another one."""


@dataclass
class Candidate:
    order: Order
    line: OrderLine
    parcel: Parcel | None
    ready_at: datetime  # the earliest moment an application makes sense (after the latest tracking event)
    used: bool = False


def seed(*, stdout, rng: random.Random, now: datetime) -> None:
    # The replayed history's buyer notifications are due at once: the every-minute retry sweep
    # delivers them. Queueing one worker task each would double the seed's time for nothing.
    with notifications.delivery_by_sweep():
        for code, plan in PLANS.items():
            shop = Shop.objects.filter(code=code).first()
            if shop is None or AfterSale.objects.filter(shop=shop).exists():
                continue
            replay = Replay(shop=shop, rng=rng, now=now)
            if code == ABUSE_SHOP:
                replay.abusive_buyer()
            for pool, scenario, count, options in plan:
                replay.run_many(pool, scenario, count, **options)
            stdout.write(replay.summary())


class Replay:
    def __init__(self, *, shop: Shop, rng: random.Random, now: datetime):
        self.shop, self.rng, self.now = shop, rng, now
        self.prefix = "".join(part[0] for part in shop.code.split("-")).upper()
        self.numbers = itertools.count(1)
        # The staff who handle after-sales (the finance member does not): who made each decision.
        self.staff = [
            user
            for user in User.objects.filter(shop=shop, kind=User.Kind.MERCHANT).order_by("username")
            if permissions.has(user, PermissionSet.AFTERSALES)
        ]
        self.operator = User.objects.filter(kind=User.Kind.OPERATOR).order_by("pk").first()
        self.pools = self._pools()
        self.skipped = 0

    # --- candidates --------------------------------------------------------------------------
    def _pools(self) -> dict[str, list[Candidate]]:
        """The shop's orders grouped by what their first line's parcel allows, shuffled."""
        pools: dict[str, list[Candidate]] = {
            key: [] for key in ("refusal", "moving", "signed", "back", "trouble", "preparing")
        }
        orders = (
            Order.objects.filter(shop=self.shop)
            .exclude(status__in=[Order.Status.PENDING_PAYMENT, Order.Status.CLOSED])
            .select_related("buyer")
            .prefetch_related(
                "lines",
                Prefetch("parcels", queryset=Parcel.objects.select_related("courier").prefetch_related("lines")),
            )
            .order_by("paid_at", "id")
        )
        latest = self.now - HOUR
        for order in orders:
            line = min(order.lines.all(), key=lambda item: item.line_no)
            parcel = next((p for p in order.parcels.all() if line in p.lines.all()), None)
            if parcel is None:
                if order.status == Order.Status.PREPARING and order.paid_at and order.paid_at < latest:
                    pools["preparing"].append(Candidate(order, line, None, order.paid_at + 10 * MINUTE))
                continue
            if parcel.status_at >= latest:
                continue  # the shop seed may date a young parcel's last event in the future
            candidate = Candidate(order, line, parcel, parcel.status_at + 10 * MINUTE)
            if parcel.status in Parcel.MOVING_STATUSES:
                pools["refusal" if self._refusal_agreed(order, line, parcel) else "moving"].append(candidate)
            elif parcel.status == P.SIGNED:
                pools["signed"].append(candidate)
            elif parcel.status in Parcel.RETURN_STATUSES:
                pools["back"].append(candidate)
            else:
                pools["trouble"].append(candidate)
        for pool in pools.values():
            self.rng.shuffle(pool)
        return pools

    def _refusal_agreed(self, order, line, parcel) -> bool:
        """Would a refund-only "not received" request be agreed as refund after refusal?"""
        facts = rules.RefusalFacts(
            type=T.REFUND_ONLY,
            reason=R.NOT_RECEIVED,
            amount=line.paid_amount,
            shop_cross_border=self.shop.cross_border,
            shop_hainan_duty_free=self.shop.hainan_duty_free,
            parcel_status=parcel.status,
            courier_supported=parcel.courier.supports_refund_after_refusal,
            category=line.category,
        )
        return rules.refund_after_refusal_blocker(facts) is None

    # --- running scenarios -------------------------------------------------------------------
    def run_many(self, pool: str, scenario: str, count: int, **options) -> int:
        done = 0
        for candidate in self.pools[pool]:
            if done == count:
                break
            if not candidate.used and self.run(scenario, candidate, **options):
                done += 1
        self.skipped += count - done
        return done

    def run(self, scenario: str, candidate: Candidate, **options) -> bool:
        """One scenario on one order, all or nothing (a savepoint)."""
        try:
            with transaction.atomic():
                getattr(self, scenario)(candidate, **options)
        except (Skip, DomainError, NotFound):
            return False
        candidate.used = True
        return True

    def summary(self) -> str:
        counts = Counter(AfterSale.objects.filter(shop=self.shop).values_list("status", flat=True))
        detail = ", ".join(f"{status} {n}" for status, n in sorted(counts.items()))
        repeat = AfterSale.objects.filter(shop=self.shop, multi_refund=True).count()
        return f"After-sales of {self.shop.code}: {sum(counts.values())} ({detail}; multi_refund {repeat})."

    # --- time --------------------------------------------------------------------------------
    def between(self, earliest: datetime, latest: datetime) -> datetime:
        """A moment in [earliest, latest], never later than a few minutes ago; Skip if none."""
        latest = min(latest, self.now - 5 * MINUTE)
        if latest - earliest < 5 * MINUTE:
            raise Skip
        return earliest + (latest - earliest) * self.rng.random()

    def soon_after(self, candidate: Candidate, earliest: datetime, latest: datetime) -> datetime:
        """An application within three days of the parcel's latest news (or payment), in [earliest, latest]."""
        start = max(candidate.ready_at, earliest)
        return self.between(start, min(start + 3 * DAY, latest))

    def applied_for_deadline(self, candidate: Candidate, left: tuple[int, int]) -> datetime:
        """The application moment that leaves `left` hours on a new application's 48-hour deadline."""
        hours_left = self.rng.uniform(*left)
        applied = self.now + timedelta(hours=hours_left) - rules.NEW_APPLICATION_DEADLINE
        if applied < candidate.ready_at or applied > self.now - 5 * MINUTE:
            raise Skip
        return applied

    # --- the steps, through the services, each at its moment -----------------------------------
    def apply(self, candidate, at, *, type, reason, amount=None, note="") -> AfterSale:
        line = OrderLine.objects.get(pk=candidate.line.pk)
        return services.apply_for_after_sale(
            after_sale_no=f"AS{self.prefix}{self.now:%y%m}{next(self.numbers):05d}",
            order_no=candidate.order.order_no,
            line_no=line.line_no,
            type=type,
            reason=reason,
            amount=amount if amount is not None else line.refundable_amount,
            note=note or (self.rng.choice(NOT_RECEIVED_NOTES if reason == R.NOT_RECEIVED else RETURN_NOTES)),
            at=at,
        )

    def move_parcel(self, candidate, status, at) -> None:
        """A tracking update, then the after-sales reaction, as the `parcel.status` event does."""
        parcel = candidate.parcel
        result = shop_services.record_parcel_status(
            courier_code=parcel.courier.code,
            tracking_no=parcel.tracking_no,
            status=status,
            at=at,
            note=demo.TRACKING_NOTES[status],
        )
        if result.moved and result.previous_status != status:
            services.react_to_parcel_status(parcel=result.parcel, status=status, at=at)

    def merchant(self, service, after_sale, at, **kwargs) -> AfterSale:
        return service(after_sale_id=after_sale.pk, shop=self.shop, user=self.user(), at=at, **kwargs)

    def reject(self, after_sale, at, reason, note) -> AfterSale:
        evidence = SimpleUploadedFile(f"evidence-{after_sale.after_sale_no}.png", PNG, content_type="image/png")
        return self.merchant(services.reject_after_sale, after_sale, at, reason=reason, note=note, evidence=[evidence])

    def time_out(self, after_sale, at) -> None:
        services.time_out_after_sale(after_sale_id=after_sale.pk, now=at)

    def flag(self, after_sale, at, *, flag, remark) -> None:
        version = AfterSale.objects.values_list("version", flat=True).get(pk=after_sale.pk)
        services.flag_and_remark(
            shop=self.shop, user=self.user(), versions={after_sale.pk: version}, flag=flag, remark=remark, at=at
        )

    def user(self) -> User | None:
        return self.rng.choice(self.staff) if self.staff else None

    def deadline(self, after_sale) -> datetime:
        return AfterSale.objects.values_list("deadline", flat=True).get(pk=after_sale.pk)

    @staticmethod
    def day(at: datetime) -> str:
        return f"{timezone.localtime(at, SHANGHAI):%m-%d}"

    # --- scenarios ---------------------------------------------------------------------------
    def refusal_waiting(self, candidate, *, overdue=False) -> None:
        """Refund after refusal agreed; the parcel is still on its way (some past the 7 days)."""
        if overdue:
            applied = self.between(candidate.ready_at, self.now - rules.REFUND_AFTER_REFUSAL_DEADLINE - 2 * HOUR)
        else:
            applied = self.between(max(candidate.ready_at, self.now - 6 * DAY), self.now - HOUR)
        after_sale = self.apply(candidate, applied, type=T.REFUND_ONLY, reason=R.NOT_RECEIVED)
        if self.rng.random() < 0.6:
            # Seed 002's routine: tracking numbers sent to the courier group, flag and interception date.
            flagged = self.between(applied, applied + 12 * HOUR)
            self.flag(after_sale, flagged, flag=AfterSale.Flag.BLUE, remark=f"{self.day(flagged)} 已拦截")

    def refusal_resolved_open(self, candidate, *, status, left) -> None:
        """Refund after refusal, then the parcel was signed / refused / intercepted: the 48-hour rule runs."""
        resolved = self.now + timedelta(hours=self.rng.uniform(*left)) - rules.PARCEL_RESOLVED_DEADLINE
        applied = self.between(max(candidate.ready_at, resolved - 5 * DAY), resolved - HOUR)
        after_sale = self.apply(candidate, applied, type=T.REFUND_ONLY, reason=R.NOT_RECEIVED)
        if status == P.INTERCEPTED:
            self.flag(
                after_sale, resolved - 30 * MINUTE, flag=AfterSale.Flag.BLUE, remark=f"{self.day(resolved)} 已拦截"
            )
        self.move_parcel(candidate, status, resolved)
        if status == P.INTERCEPTED and resolved + 6 * HOUR < self.now:
            self.move_parcel(candidate, P.RETURNING, resolved + 6 * HOUR)

    def refusal_resolved_decided(self, candidate, *, status, escalate=False, ruling=False) -> None:
        """Refund after refusal, parcel resolved, then the merchant decided (and perhaps the platform)."""
        applied = self.soon_after(candidate, self.now - 28 * DAY, self.now - 30 * HOUR)
        resolved = self.between(applied + 4 * HOUR, applied + 5 * DAY)
        decided_at = self.between(resolved + 30 * MINUTE, resolved + 40 * HOUR)
        after_sale = self.apply(candidate, applied, type=T.REFUND_ONLY, reason=R.NOT_RECEIVED)
        self.move_parcel(candidate, status, resolved)
        after_sale.refresh_from_db()
        if after_sale.status != S.REFUND_AFTER_REFUSAL:
            return  # a trusted buyer's refusal was refunded at once
        if status == P.SIGNED:
            after_sale = self.reject(
                after_sale,
                decided_at,
                AfterSale.RejectReason.GOODS_SIGNED,
                "物流显示本人已签收，如不需要请申请退货退款",
            )
        else:
            if status == P.INTERCEPTED:
                self.flag(
                    after_sale, resolved + 10 * MINUTE, flag=AfterSale.Flag.GREEN, remark=f"{self.day(resolved)} 已拦截"
                )
            after_sale = self.merchant(services.agree_refund, after_sale, decided_at)
        if escalate:
            escalated = self.between(decided_at + 2 * HOUR, decided_at + 3 * DAY)
            services.escalate_to_arbitration(
                after_sale_id=after_sale.pk, user=self.operator, note="买家申请平台介入：称未收到商品", at=escalated
            )
            if ruling:
                ruled = self.between(escalated + HOUR, escalated + 2 * DAY)
                services.decide_arbitration(
                    after_sale_id=after_sale.pk,
                    user=self.operator,
                    refund=True,
                    note="平台判定：支持买家退款",
                    at=ruled,
                )

    def refusal_timeout(self, candidate) -> None:
        """Refund after refusal; nothing happened for 7 days: the platform refunded (timeout)."""
        applied = self.soon_after(candidate, self.now - 28 * DAY, self.now - 7 * DAY - 3 * HOUR)
        after_sale = self.apply(candidate, applied, type=T.REFUND_ONLY, reason=R.NOT_RECEIVED)
        self.time_out(after_sale, self.deadline(after_sale) + self.rng.uniform(1, 50) * MINUTE)

    def pending(self, candidate, *, type, reason, left) -> None:
        """Waiting for the merchant, with `left` hours on the deadline (negative: overdue)."""
        after_sale = self.apply(candidate, self.applied_for_deadline(candidate, left), type=type, reason=reason)
        if left == SOON and self.rng.random() < 0.5:
            self.flag(after_sale, after_sale.applied_at + HOUR, flag=AfterSale.Flag.RED, remark="即将超时，优先处理")

    def decided(self, candidate, *, type, reason, decision) -> None:
        """Applied, then refunded or rejected by the merchant, or refunded by the timeout."""
        applied = self.soon_after(candidate, self.now - 29 * DAY, self.now - 50 * HOUR)
        after_sale = self.apply(candidate, applied, type=type, reason=reason)
        if decision == "timeout":
            self.time_out(after_sale, self.deadline(after_sale) + self.rng.uniform(1, 50) * MINUTE)
            return
        decided_at = self.between(applied + 20 * MINUTE, applied + 40 * HOUR)
        if decision == "refund":
            self.merchant(services.agree_refund, after_sale, decided_at)
        else:
            reason_code = (
                AfterSale.RejectReason.GOODS_SIGNED
                if candidate.parcel and candidate.parcel.status == P.SIGNED
                else AfterSale.RejectReason.NOT_AS_CLAIMED
            )
            self.reject(after_sale, decided_at, reason_code, "已核实物流与商品，情况与描述不符")

    def cancelled(self, candidate, *, type, reason) -> None:
        applied = self.soon_after(candidate, self.now - 25 * DAY, self.now - 2 * HOUR)
        after_sale = self.apply(candidate, applied, type=type, reason=reason)
        withdrawn = self.between(applied + 10 * MINUTE, applied + 30 * HOUR)
        services.cancel_after_sale(after_sale_no=after_sale.after_sale_no, at=withdrawn)

    def return_flow(self, candidate, *, stage) -> None:
        """Return and refund, taken as far as `stage`."""
        earliest = {
            S.AWAITING_BUYER_RETURN: self.now - 6 * DAY,
            S.AWAITING_MERCHANT_RECEIPT: self.now - 6 * DAY,
            S.REFUNDED: self.now - 28 * DAY,
            S.CLOSED: self.now - 28 * DAY,
        }[stage]
        latest = {S.AWAITING_BUYER_RETURN: self.now - 3 * HOUR, S.AWAITING_MERCHANT_RECEIPT: self.now - 30 * HOUR}.get(
            stage, self.now - 8 * DAY
        )
        applied = self.soon_after(candidate, earliest, latest)
        after_sale = self.apply(candidate, applied, type=T.RETURN_REFUND, reason=R.QUALITY)
        agreed = self.between(applied + 30 * MINUTE, applied + 20 * HOUR)
        self.merchant(services.agree_return, after_sale, agreed)
        if stage == S.AWAITING_BUYER_RETURN:
            return
        if stage == S.CLOSED:  # the buyer never sent the goods back
            self.time_out(after_sale, self.deadline(after_sale) + self.rng.uniform(1, 50) * MINUTE)
            return
        shipped = self.between(agreed + 6 * HOUR, agreed + 3 * DAY)
        services.record_return_shipped(
            after_sale_no=after_sale.after_sale_no,
            tracking_no=f"SF{self.rng.randint(10**11, 10**12 - 1)}",
            courier="SF",
            at=shipped,
        )
        if stage == S.REFUNDED:
            received = self.between(shipped + DAY, shipped + 4 * DAY)
            self.merchant(services.confirm_receipt_and_refund, after_sale, received)

    def repeat_refunds(self, candidate, *, applications) -> None:
        """A price-protection refund, then more requests on the same line (多次退款, sequence 2–3)."""
        paid = candidate.line.paid_amount
        first_at = self.soon_after(candidate, self.now - 25 * DAY, self.now - 7 * DAY)
        protection = self.apply(
            candidate,
            first_at,
            type=T.PRICE_PROTECTION,
            reason=R.PRICE_DROP,
            amount=max((paid / 10).quantize(Decimal("0.01"), ROUND_HALF_UP), Decimal("1.00")),
            note="降价了，申请价保",
        )
        refunded_at = self.between(first_at + HOUR, first_at + 20 * HOUR)
        self.merchant(services.agree_refund, protection, refunded_at)
        if applications == 3:
            second_at = self.between(refunded_at + 12 * HOUR, refunded_at + 2 * DAY)
            partial = self.apply(
                candidate,
                second_at,
                type=T.REFUND_ONLY,
                reason=R.DAMAGED,
                amount=max((paid / 5).quantize(Decimal("0.01"), ROUND_HALF_UP), Decimal("1.00")),
                note="外包装破损，协商部分退款",
            )
            refunded_at = self.between(second_at + HOUR, second_at + 20 * HOUR)
            self.merchant(services.agree_refund, partial, refunded_at)
        last_at = self.applied_for_deadline(candidate, LATER if applications == 2 else SOON)
        if last_at <= refunded_at:
            raise Skip
        last = self.apply(candidate, last_at, type=T.RETURN_REFUND, reason=R.QUALITY)
        self.flag(last, last.applied_at + 20 * MINUTE, flag=AfterSale.Flag.PURPLE, remark="多次售后，注意核实")

    def abusive_buyer(self) -> None:
        """The buyer with the most orders asks refund-only again and again (羊毛党 hint above the threshold)."""
        by_buyer: dict[int, list[tuple[str, Candidate]]] = {}
        for pool in ("refusal", "back", "trouble", "signed", "moving"):
            for candidate in self.pools[pool]:
                by_buyer.setdefault(candidate.order.buyer_id, []).append((pool, candidate))
        if not by_buyer:
            return
        buyer_id = max(sorted(by_buyer), key=lambda pk: len(by_buyer[pk]))
        done, last = 0, None
        for pool, candidate in by_buyer[buyer_id]:
            if done == ABUSE_APPLICATIONS:
                break
            if pool == "refusal":
                ok = self.run("refusal_timeout", candidate) or self.run("refusal_waiting", candidate)
            else:
                reason = R.QUALITY if pool == "signed" else R.NOT_RECEIVED
                ok = self.run("decided", candidate, type=T.REFUND_ONLY, reason=reason, decision="refund")
            if ok:
                done += 1
                last = candidate
        if last is not None:
            after_sale = AfterSale.objects.filter(order=last.order).latest("applied_at")
            with transaction.atomic():
                flagged = min(after_sale.applied_at + HOUR, self.now - MINUTE)
                self.flag(after_sale, flagged, flag=AfterSale.Flag.RED, remark="疑似羊毛党，多次仅退款")
