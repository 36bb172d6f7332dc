"""Two workers sending webhooks at once: each delivery is claimed by one of them and sent once."""

import json
import time
from collections import Counter

import pytest
from django.utils import timezone

from api import webhooks
from api.models import WebhookDelivery
from shop import changes
from tests.aftersales.factories import make_after_sale_on_new_order
from tests.api.test_webhooks import Receiver
from tests.concurrency import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_workers_sending_at_once_send_each_delivery_once(api, shop):
    receiver = Receiver()
    try:
        response = api.post("/webhook-endpoints", {"url": receiver.url, "events": ["after_sale.updated"]})
        assert response.status_code == 201
        for _ in range(30):  # one change of each of 30 after-sales: 30 deliveries
            after_sale = make_after_sale_on_new_order(shop)
            changes.record_change(shop_id=shop.pk, event=changes.AFTER_SALE_UPDATED, object_id=after_sale.pk)
        assert webhooks.dispatch_changes() == 30
        WebhookDelivery.objects.update(next_attempt_at=timezone.now())
        slow_post = webhooks.post

        def post(*args):
            time.sleep(0.05)  # both workers are sending at the same moment
            return slow_post(*args)

        webhooks.post = post
        try:
            attempted = run_together(2, lambda i: webhooks.deliver_due(limit=20))
        finally:
            webhooks.post = slow_post
        assert sorted(attempted) == [10, 20]
        ids = Counter(json.loads(r["body"])["id"] for r in receiver.received)
        assert len(receiver.received) == 30 and len(ids) == 30
        assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {("delivered", 1)}
    finally:
        receiver.close()


def test_a_claimed_delivery_is_not_due_for_another_worker_until_its_lease_runs_out(api, after_sale):
    response = api.post("/webhook-endpoints", {"url": "http://127.0.0.1:9/h", "events": ["after_sale.updated"]})
    assert response.status_code == 201
    changes.record_change(shop_id=after_sale.shop_id, event=changes.AFTER_SALE_UPDATED, object_id=after_sale.pk)
    webhooks.dispatch_changes()
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    [claimed] = webhooks.claim_due(10)
    assert webhooks.claim_due(10) == []  # a second worker, meanwhile
    lease = WebhookDelivery.objects.get().next_attempt_at - timezone.now()
    assert webhooks.CLAIM_LEASE - lease < webhooks.CLAIM_LEASE / 10
    assert claimed.attempts == 0
