"""`seed_demo` produces after-sales in every status through the services, once."""

import json
import random
import re
from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from aftersales import selectors
from aftersales.models import AfterSale, AfterSaleLog, EvidenceImage, RefundEntry
from interception.models import ServiceOrder
from settlement.models import Claim, Statement
from shop.management.commands.simulate import Command as Simulate
from shop.models import OrderLine, Parcel, Shop
from tests.shop.factories import EventsClient

S = AfterSale.Status


def state() -> dict:
    return {
        "after_sales": sorted(AfterSale.objects.values_list("after_sale_no", "status", "version")),
        "logs": AfterSaleLog.objects.count(),
        "refunds": RefundEntry.objects.count(),
        "evidence": EvidenceImage.objects.count(),
    }


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """The demo seeded twice, once for the whole module, rolled back at its end."""
    anchor = timezone.now()  # the demo's moment: the suite may cross midnight (or a month's end) meanwhile
    with django_db_blocker.unblock(), transaction.atomic():
        first_out, second_out = StringIO(), StringIO()
        call_command("seed_demo", at=anchor, stdout=first_out)
        first = state()
        call_command("seed_demo", at=anchor, stdout=second_out)
        yield {
            "first": first,
            "second": state(),
            "first_out": first_out.getvalue(),
            "out": second_out.getvalue(),
            "at": anchor,
        }
        transaction.set_rollback(True)


@pytest.fixture
def demo_shop(seeded, db):
    return Shop.objects.get(code="demo-shop")


@pytest.fixture
def now(seeded):
    """The moment the demo was dated from."""
    return seeded["at"]


def test_seeding_twice_changes_nothing_the_second_time(seeded, db):
    assert seeded["first"] == seeded["second"]
    assert len(seeded["first"]["after_sales"]) > 0
    assert "After-sales of demo-shop" in seeded["first_out"]
    assert "After-sales of" not in seeded["out"]


def test_the_demo_has_the_same_after_sales_statements_and_claims_on_every_day(demo_shop):
    """Exact counts: the demo's clock is anchored to now, and the running month always gets its
    interceptions, however little of it has passed (`.ci/run` runs this at month ends too)."""
    demo = Counter(AfterSale.objects.filter(shop=demo_shop).values_list("status", flat=True))
    global_shop = Counter(AfterSale.objects.filter(shop__code="demo-global").values_list("status", flat=True))

    assert demo == {
        S.REFUNDED: 111,
        S.REFUND_AFTER_REFUSAL: 23,
        S.PENDING_MERCHANT: 20,
        S.REJECTED: 9,
        S.CANCELLED: 8,
        S.AWAITING_BUYER_RETURN: 3,
        S.AWAITING_MERCHANT_RECEIPT: 3,
        S.ARBITRATION: 2,
        S.CLOSED: 2,
    }
    assert sum(demo.values()) == 181
    assert global_shop == {S.REFUNDED: 9, S.PENDING_MERCHANT: 4, S.REJECTED: 1, S.AWAITING_BUYER_RETURN: 1}
    assert sorted(Statement.objects.values_list("status", flat=True)) == [
        "confirmed",
        "disputed",
        "issued",
        "open",
        "settled",
    ]
    assert Counter(Claim.objects.values_list("status", flat=True)) == {
        "arbitration": 2,
        "submitted": 1,
        "accepted": 1,
        "compensated": 1,
        "rejected": 1,
    }
    assert ServiceOrder.objects.count() == 38


def test_every_after_sale_status_is_present(demo_shop):
    statuses = set(AfterSale.objects.filter(shop=demo_shop).values_list("status", flat=True))

    assert statuses == set(S.values)


def test_refund_after_refusal_includes_parcels_still_moving_and_parcels_since_signed_or_refused(demo_shop):
    waiting = AfterSale.objects.filter(shop=demo_shop, status=S.REFUND_AFTER_REFUSAL)
    parcel_statuses = set(waiting.values_list("parcel__status", flat=True))

    assert parcel_statuses & set(Parcel.MOVING_STATUSES)
    assert Parcel.Status.SIGNED in parcel_statuses
    assert parcel_statuses & {Parcel.Status.REFUSED, Parcel.Status.INTERCEPTED, Parcel.Status.RETURNING}
    assert not AfterSale.objects.filter(shop__code="demo-global", status=S.REFUND_AFTER_REFUSAL).exists()


def test_repeat_refunds_exist_with_sequence_two_and_three(demo_shop):
    repeats = AfterSale.objects.filter(shop=demo_shop, multi_refund=True)

    assert repeats.exists()
    assert {2, 3} <= set(repeats.values_list("sequence", flat=True))


def test_some_deadlines_expire_within_12_hours_and_a_few_have_passed(demo_shop, now):
    open_after_sales = AfterSale.objects.filter(shop=demo_shop, deadline__isnull=False)

    assert open_after_sales.filter(deadline__gte=now, deadline__lt=now + timedelta(hours=12)).exists()
    assert 1 <= open_after_sales.filter(deadline__lt=now).count() <= 10


def test_history_has_timeouts_operators_flags_and_interception_remarks(demo_shop):
    logs = AfterSaleLog.objects.filter(after_sale__shop=demo_shop)
    remarks = AfterSale.objects.filter(shop=demo_shop).values_list("remark", flat=True)

    assert logs.filter(action=AfterSaleLog.Action.STATUS, actor="timeout").exists()
    assert logs.filter(action=AfterSaleLog.Action.STATUS, actor="operator").exists()
    assert AfterSale.objects.filter(shop=demo_shop).exclude(flag="").exists()
    assert any(re.fullmatch(r"\d\d-\d\d 已拦截", remark) for remark in remarks)


def test_every_merchant_rejection_has_evidence(demo_shop):
    rejected_by_merchant = AfterSale.objects.filter(
        shop=demo_shop, logs__action=AfterSaleLog.Action.STATUS, logs__to_status=S.REJECTED, logs__actor="merchant"
    ).distinct()

    assert rejected_by_merchant.exists()
    assert not rejected_by_merchant.annotate(n=Count("evidence")).filter(n=0).exists()


def test_history_is_spread_over_the_past_month(demo_shop, now):
    applied = AfterSale.objects.filter(shop=demo_shop)

    assert applied.filter(applied_at__lt=now - timedelta(days=14)).count() >= 20
    assert not applied.filter(applied_at__gt=now).exists()
    assert not AfterSaleLog.objects.filter(after_sale__shop=demo_shop, at__gt=now).exists()


def test_one_buyer_is_above_the_refund_abuse_threshold(demo_shop, now):
    buyer_ids = list(AfterSale.objects.filter(shop=demo_shop).values_list("buyer_id", flat=True).distinct())

    stats = selectors.abuse_stats(shop=demo_shop, buyer_ids=buyer_ids, now=now)

    assert any(entry["flagged"] and entry["count"] >= 5 for entry in stats.values())


def test_the_ledger_matches_every_lines_refunded_amount(seeded, db):
    totals = dict(RefundEntry.objects.values("line_id").annotate(total=Sum("amount")).values_list("line_id", "total"))
    lines = OrderLine.objects.filter(refunded_amount__gt=0)

    assert totals == dict(lines.values_list("pk", "refunded_amount"))
    assert not OrderLine.objects.filter(refunded_amount__gt=F("paid_amount")).exists()


def test_simulated_after_sale_events_are_accepted_or_refused_by_a_rule(seeded, db, client):
    stream = Simulate().build_stream(random.Random(5), "demo-shop", 16, after_sales=True)
    events = EventsClient(client)

    answers = Counter()
    for event in stream:
        response = events.post_raw(json.dumps(event, ensure_ascii=False).encode())
        answers[(event["type"], response.status_code, response.json().get("code", ""))] += 1

    types = {event_type for event_type, _status, _code in answers}
    assert {"aftersale.applied", "aftersale.cancelled", "aftersale.return_shipped"} <= types
    # Only a return shipped before the merchant agreed it (or a withdrawal after a refund) is refused.
    assert {(t, status, code) for t, status, code in answers if status != 200} <= {
        ("aftersale.return_shipped", 409, "invalid_transition"),
        ("aftersale.cancelled", 409, "invalid_transition"),
    }
    simulated = AfterSale.objects.filter(after_sale_no__startswith="SAS")
    assert simulated.filter(type="refund_only", status=S.REFUND_AFTER_REFUSAL).exists()
    assert simulated.filter(type="return_refund").exists()
