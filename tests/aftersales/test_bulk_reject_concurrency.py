"""A bulk rejection carried out by two workers at once (at-least-once delivery): real threads, PostgreSQL."""

from collections import Counter
from unittest.mock import patch

import pytest
from django.db import connection

from aftersales.models import AfterSale, AfterSaleLog, BulkJob, BulkJobRow, BuyerNotification, EvidenceImage
from aftersales.services import bulk
from shop.models import Parcel
from tests.aftersales.factories import make_after_sale_on_new_order
from tests.concurrency import outcome_kinds, run_together
from tests.shop.factories import make_merchant, make_shop

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


def test_two_workers_on_one_job_reject_each_after_sale_once():
    shop = make_shop()
    merchant = make_merchant(shop)
    after_sales = [
        make_after_sale_on_new_order(shop, no=f"AS-TW{n}", parcel_status=Parcel.Status.SIGNED) for n in range(12)
    ]
    returned = make_after_sale_on_new_order(shop, no="AS-TWBACK", parcel_status=Parcel.Status.RETURNED)
    chosen = {a.pk: a.version for a in [*after_sales, returned]}
    with patch("aftersales.services.bulk.async_task"):  # the test's threads are the workers
        job = bulk.start_reject_signed(shop=shop, user=merchant, versions=chosen, send_card=True)
    assert (job.status, job.rows.count()) == (BulkJob.Status.QUEUED, 0)

    results = run_together(3, lambda _i: bulk.run_bulk_job(job.pk))

    assert outcome_kinds(results) == Counter({"ok": 3})
    rows = BulkJobRow.objects.filter(job=job)
    assert (rows.count(), rows.filter(ok=True).count()) == (13, 12)
    assert rows.get(ok=False).after_sale_id == returned.pk
    ids = [a.pk for a in after_sales]
    assert AfterSale.objects.filter(pk__in=ids, status=AfterSale.Status.REJECTED).count() == 12
    assert EvidenceImage.objects.filter(after_sale_id__in=ids).count() == 12
    status_logs = AfterSaleLog.objects.filter(after_sale_id__in=ids, action=AfterSaleLog.Action.STATUS)
    assert status_logs.count() == 12
    kinds = Counter(BuyerNotification.objects.filter(shop=shop).values_list("kind", flat=True))
    assert kinds == Counter({"rejected": 12, "card": 12})
    assert BulkJob.objects.get(pk=job.pk).status == BulkJob.Status.DONE
