"""A property-based state machine over the real back office (issue 11, build 4).

Hypothesis drives orders, after-sale applications, cancellations and returns (signed platform
events through the real transport), merchant decisions and small payments, operator arbitration,
interceptions, carrier callbacks (signed, through the real callback endpoint) and the timeout
sweep, in random order, with a clock that moves forward. Only the carrier's network edge is faked
(`ScriptedCarrier`). After every step it checks what must always hold:

- refunds of a line never exceed what was paid for it, nor those of an order its paid amount;
- the refunded counters of lines, orders and after-sales equal the sums of the refund ledger;
- an order has at most five after-sales; a line at most one open after-sale;
- a parcel has at most one live service order;
- a successful interception is charged exactly one fee, any other none.

Bounded and derandomised, so that CI sees the same examples every run (30 examples of up to 50 steps:
about 30 s on SQLite and 50 s on PostgreSQL on two busy cores).
`STATE_MACHINE_EXAMPLES=500` explores further with fresh random examples, for a local hunt.
"""

import itertools
import json
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import TestCase
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from aftersales import services as aftersales_services
from aftersales.models import AfterSale, RefundEntry
from aftersales.tasks import sweep_overdue_after_sales
from interception import callbacks
from interception import gateway as carrier_gateway
from interception import services as interception_services
from interception.gateway import LaunchResult, Precheck
from interception.models import FeeCharge, ServiceOrder
from shop.errors import DomainError
from shop.models import Order, OrderLine
from shop.platform_events import transport
from shop.signing import sign
from tests.shop.factories import make_courier, make_merchant, make_operator, make_outlet, make_shop

pytestmark = pytest.mark.property

EXPLORE = int(os.environ.get("STATE_MACHINE_EXAMPLES", "0"))
MACHINE_SETTINGS = hypothesis_settings(
    max_examples=EXPLORE or 30,
    stateful_step_count=50,
    deadline=None,
    derandomize=not EXPLORE,
    database=None,  # no example database: every run replays the same derandomised examples
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

SO = ServiceOrder.Status
SUCCESSFUL = {SO.SUCCEEDED, SO.RETURNING, SO.RETURNED, SO.RETURN_FAILED}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
_numbers = itertools.count(1)


class ScriptedCarrier:
    """The carrier's network edge: answers each launch as the machine scripted it, at the machine's time."""

    answer = "processing"  # processing (the result comes by callback), succeeded or failed
    at: datetime | None = None

    def precheck(self, parcel):
        return Precheck(True)

    def launch(self, parcel):
        if self.answer == "processing":
            return LaunchResult("processing", "", f"SBX-{parcel.service_order_id}")
        return LaunchResult(self.answer, "scripted" if self.answer == "failed" else "", "", self.at)


class World:
    """What every example shares: a shop with its staff, a courier and an outlet."""

    def __init__(self):
        self.shop = make_shop("prop-shop")
        self.merchant = make_merchant(self.shop)
        self.operator = make_operator()
        self.courier = make_courier("YTO")
        self.outlet = make_outlet(self.courier)


money = st.integers(min_value=1, max_value=150_000).map(lambda cents: Decimal(cents) / 100)
# One application: which line, what kind, how much (all that is left on the line, or cents), and
# whether the buyer first withdraws the line's open request.
application = st.tuples(
    st.integers(min_value=1, max_value=3),
    st.sampled_from(
        [("refund_only", "not_received"), ("refund_only", "not_received"), ("refund_only", "quality")]
        + [("return_refund", "damaged"), ("price_protection", "price_drop")]
    ),
    st.one_of(st.just("rest"), st.just("rest"), money),
    st.booleans(),
)
# Mostly moving on (so that interceptions and refund after refusal stay possible), sometimes settled.
parcel_statuses = st.sampled_from(
    ["in_transit", "out_for_delivery", "out_for_delivery"]
    + ["signed", "refused", "returning", "returned", "exception", "lost"]
)
decisions = st.sampled_from(
    ["agree_refund", "agree_refund", "agree_return", "confirm_receipt_and_refund", "reject"]
    + ["escalate_to_arbitration", "arbitrate_refund", "arbitrate_reject"]
)


class BackOffice(RuleBasedStateMachine):
    world: World  # set by the test before the machine runs

    orders = Bundle("orders")
    after_sales = Bundle("after_sales")
    service_orders = Bundle("service_orders")

    def __init__(self):
        super().__init__()
        # Each example in a savepoint of the test's transaction, rolled back in teardown().
        self._example = transaction.atomic()
        self._example.__enter__()
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.orders_made = 0
        self.unshipped: list[str] = []
        self.clock_moves = 0
        self.applications_made = 0
        self.tracking_updates = 0
        self.callback_ids: list[str] = []

    def teardown(self):
        transaction.set_rollback(True)
        self._example.__exit__(None, None, None)

    # --- helpers -----------------------------------------------------------------------------------
    def event(self, event_type: str, data: dict, *, at: datetime | None = None) -> int:
        """Send one signed platform event through the real transport; its HTTP status."""
        envelope = {
            "id": f"evt-{next(_numbers)}",
            "type": event_type,
            "occurred_at": (at or self.now).isoformat(),
            "data": data,
        }
        body = json.dumps(envelope, ensure_ascii=False).encode()
        timestamp = int(self.now.timestamp())
        signature = sign(body, timestamp, django_settings.PLATFORM_EVENTS_SECRET)
        with TestCase.captureOnCommitCallbacks(execute=True):
            answer = transport.handle(body, str(timestamp), signature, now=self.now.timestamp())
        assert answer.status in (200, 409), (event_type, data, answer)
        return answer.status

    def act(self, service, **kwargs) -> bool:
        """Call a service as a view would: a DomainError is a refusal, anything else a failure."""
        try:
            with TestCase.captureOnCommitCallbacks(execute=True):
                service(**kwargs)
        except DomainError:
            return False
        return True

    # --- orders --------------------------------------------------------------------------------------
    @precondition(lambda self: self.orders_made < 3)
    @rule(
        target=orders,
        amounts=st.lists(money, min_size=1, max_size=3),
        trusted=st.booleans(),
        domestic=st.booleans(),
        shipped=st.sampled_from([True, True, False]),
    )
    def new_order(self, amounts, trusted, domestic, shipped):
        self.orders_made += 1
        order_no = f"PO-{next(_numbers)}"
        lines = [
            {
                "line_no": str(i),
                "title": "保温杯",
                "category": "home",
                "quantity": 1,
                "paid_amount": f"{amount:.2f}",
                "domestic_physical": domestic or i > 1,
            }
            for i, amount in enumerate(amounts, start=1)
        ]
        data = {
            "shop": self.world.shop.code,
            "order_no": order_no,
            "paid_at": self.now.isoformat(),
            "buyer": {"id": f"b-{order_no}", "nickname": "小王", "trusted": trusted},
            "lines": lines,
        }
        assert self.event("order.paid", data) == 200
        if shipped:
            self.ship(order_no)
        else:
            self.unshipped.append(order_no)
        return order_no

    @precondition(lambda self: self.unshipped)
    @rule()
    def ship_a_waiting_order(self):
        self.ship(self.unshipped.pop(0))

    def ship(self, order_no):
        line_nos = list(OrderLine.objects.filter(order__order_no=order_no).values_list("line_no", flat=True))
        data = {
            "order_no": order_no,
            "tracking_no": f"YT{order_no}",
            "courier": self.world.courier.code,
            "outlet": self.world.outlet.code,
            "line_nos": line_nos,
        }
        assert self.event("parcel.shipped", data) == 200

    @precondition(lambda self: self.tracking_updates < 6)
    @rule(order_no=orders, status=parcel_statuses, minutes_ago=st.sampled_from([0, 30, 600]))
    def tracking_update(self, order_no, status, minutes_ago):
        self.tracking_updates += 1
        data = {"tracking_no": f"YT{order_no}", "courier": self.world.courier.code, "status": status}
        data["at"] = (self.now - timedelta(minutes=minutes_ago)).isoformat()
        if order_no not in self.unshipped:
            self.event("parcel.status", data)

    # --- the buyer -----------------------------------------------------------------------------------
    @rule(target=after_sales, order_no=orders, applications=st.lists(application, min_size=1, max_size=3))
    def apply(self, order_no, applications):
        applied = []
        for line_no, (type, reason), amount, withdraw_first in applications:
            line = OrderLine.objects.filter(order__order_no=order_no, line_no=str(line_no)).first()
            if line is None:
                continue
            if withdraw_first:  # the buyer withdraws the line's open request to ask again (it still counts)
                for open_no in AfterSale.objects.filter(line=line, status__in=AfterSale.OPEN_STATUSES).values_list(
                    "after_sale_no", flat=True
                ):
                    self.event("aftersale.cancelled", {"after_sale_no": open_no})
            if amount == "rest":
                amount = line.refundable_amount if line.refundable_amount > 0 else line.paid_amount
            after_sale_no = f"AS-{next(_numbers)}"
            data = {
                "after_sale_no": after_sale_no,
                "order_no": order_no,
                "line_no": line.line_no,
                "type": type,
                "reason": reason,
                "amount": f"{amount:.2f}",
            }
            if self.event("aftersale.applied", data) == 200:
                applied.append(after_sale_no)
                self.applications_made += 1
        return multiple(*applied)

    @rule(after_sale_no=after_sales, action=st.sampled_from(["cancel", "ship_goods_back"]))
    def buyer_follows_up(self, after_sale_no, action):
        if action == "cancel":
            self.event("aftersale.cancelled", {"after_sale_no": after_sale_no})
        else:
            data = {"after_sale_no": after_sale_no, "tracking_no": f"R{after_sale_no}", "courier": "YTO"}
            self.event("aftersale.return_shipped", data)

    # --- the merchant and platform operators ---------------------------------------------------------
    @rule(after_sale_no=after_sales, decision=decisions)
    def decide(self, after_sale_no, decision):
        after_sale_id = AfterSale.objects.get(after_sale_no=after_sale_no).pk
        merchant = {"after_sale_id": after_sale_id, "shop": self.world.shop, "user": self.world.merchant}
        operator = {"after_sale_id": after_sale_id, "user": self.world.operator}
        if decision == "reject":
            evidence = [SimpleUploadedFile("proof.png", PNG, content_type="image/png")]
            self.act(
                aftersales_services.reject_after_sale, reason="not_as_claimed", note="", evidence=evidence, **merchant
            )
        elif decision == "escalate_to_arbitration":
            self.act(aftersales_services.escalate_to_arbitration, **operator)
        elif decision.startswith("arbitrate_"):
            self.act(aftersales_services.decide_arbitration, refund=decision == "arbitrate_refund", **operator)
        else:
            self.act(getattr(aftersales_services, decision), **merchant)

    @rule(after_sale_no=after_sales, amount=money, repeat=st.booleans())
    def small_payment(self, after_sale_no, amount, repeat):
        # repeat: the same idempotency key as the after-sale's first payment (a double submit)
        key = f"sp-{after_sale_no}" if repeat else f"sp-{next(_numbers)}"
        after_sale_id = AfterSale.objects.get(after_sale_no=after_sale_no).pk
        self.act(
            aftersales_services.pay_small_amount,
            after_sale_id=after_sale_id,
            shop=self.world.shop,
            user=self.world.merchant,
            amount=amount,
            reason="sorry",
            idempotency_key=key,
        )

    # --- interceptions -------------------------------------------------------------------------------
    @precondition(lambda self: self.applications_made)
    @rule(
        target=service_orders,
        picks=st.lists(st.integers(min_value=0, max_value=7), min_size=1, max_size=3),
        answer=st.sampled_from(["processing", "succeeded", "failed"]),
    )
    def intercept(self, picks, answer):
        """The merchant intercepts some of the open refund-only after-sales (a bulk launch when several)."""
        candidates = list(
            AfterSale.objects.filter(type="refund_only", status__in=AfterSale.OPEN_STATUSES)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not candidates:
            return multiple()
        ids = [candidates[pick % len(candidates)] for pick in picks]
        ScriptedCarrier.answer, ScriptedCarrier.at = answer, self.now
        with TestCase.captureOnCommitCallbacks(execute=True):
            created, _skipped = interception_services.launch_interceptions(
                shop=self.world.shop, user=self.world.merchant, after_sale_ids=ids, via="bulk", at=self.now
            )
        return multiple(*[service_order.pk for service_order in created])

    @rule(
        service_order_id=service_orders,
        status=st.sampled_from(list(callbacks.CALLBACK_STATUSES)),
        minutes_ago=st.sampled_from([0, 5, 90]),
        replay=st.booleans(),
    )
    def carrier_callback(self, service_order_id, status, minutes_ago, replay):
        service_order = ServiceOrder.objects.get(pk=service_order_id)
        callback_id = self.callback_ids[-1] if replay and self.callback_ids else f"CB-{next(_numbers)}"
        self.callback_ids.append(callback_id)
        body = {
            "callback_id": callback_id,
            "request_id": service_order.number,
            "status": status,
            "occurred_at": (self.now - timedelta(minutes=minutes_ago)).isoformat(),
        }
        if service_order.carrier_ref:
            body["carrier_ref"] = service_order.carrier_ref
        raw = json.dumps(body).encode()
        timestamp = int(self.now.timestamp())
        signature = sign(raw, timestamp, django_settings.CARRIER_CALLBACK_SECRET)
        with TestCase.captureOnCommitCallbacks(execute=True):
            answer = callbacks.handle(raw, str(timestamp), signature, now=self.now.timestamp())
        assert answer.status in (200, 409), (body, answer)

    # --- time ----------------------------------------------------------------------------------------
    # A few moves of the clock per example (and tracking updates, above): otherwise Hypothesis, which
    # favours the simplest rules that are always possible, spends most steps on them.
    @precondition(lambda self: self.clock_moves < 6)
    @rule(hours=st.sampled_from([1, 12, 49, 24 * 7 + 1]), sweep=st.booleans())
    def time_passes(self, hours, sweep):
        self.clock_moves += 1
        self.now += timedelta(hours=hours)
        if sweep:  # the every-minute sweep: the platform acts on what is overdue by now
            with TestCase.captureOnCommitCallbacks(execute=True):
                sweep_overdue_after_sales(now=self.now)

    # --- what always holds ---------------------------------------------------------------------------
    @invariant()
    def the_money_and_state_invariants_hold(self):
        """Read once (six queries: this runs after every step), then check each rule of the module docstring."""
        state = State.read()
        refunds_match_the_ledger_and_never_exceed_what_was_paid(state)
        at_most_five_applications_per_order_and_one_open_after_sale_per_line(state)
        at_most_one_live_service_order_per_parcel(state)
        one_fee_per_successful_interception(state)


class State:
    """The rows the invariants look at, as tuples."""

    @classmethod
    def read(cls) -> "State":
        state = cls()
        state.refunds = list(RefundEntry.objects.values_list("order_id", "line_id", "after_sale_id", "amount"))
        state.lines = list(OrderLine.objects.values_list("pk", "paid_amount", "refunded_amount"))
        state.orders = list(Order.objects.values_list("pk", "paid_amount", "refunded_amount"))
        state.after_sales = list(
            AfterSale.objects.values_list("pk", "order_id", "line_id", "status", "amount", "refunded_amount")
        )
        state.service_orders = list(ServiceOrder.objects.values_list("pk", "parcel_id", "status"))
        state.fees = Counter(FeeCharge.objects.values_list("service_order_id", flat=True))
        return state


def refunds_match_the_ledger_and_never_exceed_what_was_paid(state: State) -> None:
    by_order, by_line, by_after_sale = Counter(), Counter(), Counter()
    for order_id, line_id, after_sale_id, amount in state.refunds:
        by_order[order_id] += amount
        by_line[line_id] += amount
        if after_sale_id is not None:
            by_after_sale[after_sale_id] += amount
    for what, rows, ledger in (("line", state.lines, by_line), ("order", state.orders, by_order)):
        for pk, paid, refunded in rows:
            assert refunded == ledger[pk], f"{what} {pk}: refunded counter {refunded}, ledger {ledger[pk]}"
            assert refunded <= paid, f"{what} {pk}: {refunded} refunded of {paid} paid"
    for pk, _order, _line, _status, asked, refunded in state.after_sales:
        assert refunded == by_after_sale[pk], f"after-sale {pk}: counter {refunded}, ledger {by_after_sale[pk]}"
        assert refunded <= asked, f"after-sale {pk}: {refunded} refunded of {asked} asked"


def at_most_five_applications_per_order_and_one_open_after_sale_per_line(state: State) -> None:
    per_order = Counter(order_id for _pk, order_id, *_rest in state.after_sales)
    open_per_line = Counter(
        line for _pk, _o, line, status, *_r in state.after_sales if status in AfterSale.OPEN_STATUSES
    )
    assert max(per_order.values(), default=0) <= 5, f"applications per order: {per_order}"
    assert max(open_per_line.values(), default=0) <= 1, f"open after-sales per line: {open_per_line}"


def at_most_one_live_service_order_per_parcel(state: State) -> None:
    live = Counter(parcel for _pk, parcel, status in state.service_orders if status in ServiceOrder.LIVE_STATUSES)
    assert max(live.values(), default=0) <= 1, f"live service orders per parcel: {live}"


def one_fee_per_successful_interception(state: State) -> None:
    for pk, _parcel, status in state.service_orders:
        expected = 1 if status in SUCCESSFUL else 0
        assert state.fees[pk] == expected, f"service order {pk} ({status}): {state.fees[pk]} fees"


@pytest.mark.django_db
def test_the_back_office_keeps_its_money_and_state_invariants_in_any_order_of_events(settings, monkeypatch):
    settings.CARRIER_GATEWAY = "scripted"
    monkeypatch.setitem(carrier_gateway.ADAPTERS, "scripted", f"{__name__}.ScriptedCarrier")
    BackOffice.world = World()
    run_state_machine_as_test(BackOffice, settings=MACHINE_SETTINGS)
