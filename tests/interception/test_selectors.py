"""The home page's and the assistant page's reads: one shop's rows only, in a fixed number of queries."""

from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from interception import selectors
from interception.models import AssistantRule, InterceptionBatch, ServiceOrder
from tests.interception.factories import make_service_order
from tests.shop.factories import make_shop


def _batch_of(shop, outlet, *statuses, skipped=()):
    batch = InterceptionBatch.objects.create(shop=shop, via="bulk", skipped=list(skipped))
    for status in statuses:
        ServiceOrder.objects.filter(pk=make_service_order(shop, outlet, status=status).pk).update(batch=batch)
    return batch


def test_recent_batches_come_with_their_progress_in_two_queries_and_only_the_shops(shop, yto_outlet):
    other = make_shop("other-shop", name="隔壁小店")
    first = _batch_of(shop, yto_outlet, "succeeded", "failed", skipped=[{"ref": "X", "reason": "no"}])
    second = _batch_of(shop, yto_outlet, "submitted", "processing", "returning")
    _batch_of(other, yto_outlet, "succeeded")

    with CaptureQueriesContext(connection) as queries:
        listed = selectors.recent_batches_with_progress(shop=shop, limit=10)

    assert len(queries.captured_queries) == 2
    assert [batch for batch, _progress in listed] == [second, first]
    assert [progress for _batch, progress in listed] == [
        selectors.batch_progress(batch=second),
        selectors.batch_progress(batch=first),
    ]
    assert listed[1][1] == {
        "total": 2,
        "done": 2,
        "succeeded": 1,
        "failed": 1,
        "pending": 0,
        "skipped": 1,
        "finished": True,
    }


def test_the_week_summary_counts_only_the_shops_service_orders(shop, yto_outlet):
    other = make_shop("other-shop", name="隔壁小店")
    now = timezone.now()
    make_service_order(shop, yto_outlet, status="succeeded", launched_at=now)
    make_service_order(shop, yto_outlet, status="failed", launched_at=now)
    make_service_order(shop, yto_outlet, status="failed", launched_at=now - timedelta(days=8))
    make_service_order(other, yto_outlet, status="failed", launched_at=now)

    summary = selectors.week_summary(shop=shop, since=now - timedelta(days=7))

    assert summary["week"] == {"launched": 2, "succeeded": 1, "failed": 1, "pending": 0}


def test_a_shop_without_a_saved_rule_reads_the_defaults_unsaved(shop):
    rule = selectors.assistant_rule_for_shop(shop=shop)

    assert (rule.pk, rule.enabled, rule.min_amount, rule.max_amount) == (
        None,
        False,
        Decimal("0.00"),
        Decimal("999.99"),
    )
    assert selectors.assistant_rule_couriers(rule=rule) == []
    assert not AssistantRule.objects.exists()
