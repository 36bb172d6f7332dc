"""Money through the API under real concurrency: 20 threads paying 30.00 on a 100.00 line at once.

On PostgreSQL the line's row lock and the ledger's guarded UPDATEs decide; on SQLite the IMMEDIATE
transactions queue the writers. Either way exactly three payments fit.
"""

import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test import Client

from aftersales.models import RefundEntry
from api import tokens
from shop.models import Order, OrderLine
from tests.shop.factories import make_order, make_shop

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:  # asserted by the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    return results


def test_20_concurrent_small_payments_of_30_on_a_100_line_exactly_3_succeed():
    shop = make_shop("demo-shop")
    make_order(shop, order_no="O-1001", status=Order.Status.COMPLETED, lines=[{"paid_amount": "100.00"}])
    _token, secret = tokens.create_api_token(shop=shop, name="ERP", scopes="read,write")

    def pay(i: int):
        response = Client().post(
            "/api/v1/orders/O-1001/lines/1/small-payments",
            data={"amount": "30.00", "note": f"补偿 {i}"},
            content_type="application/json",
            headers={"Authorization": f"Bearer {secret}"},
        )
        return response.status_code, response.json().get("error", {}).get("code", "")

    results = run_together(20, pay)
    assert Counter(results) == Counter({(201, ""): 3, (409, "amount_exceeds_refundable"): 17}), results
    line = OrderLine.objects.get()
    assert line.refunded_amount == Decimal("90.00")
    assert Order.objects.get().refunded_amount == Decimal("90.00")
    assert RefundEntry.objects.aggregate(total=Sum("amount"))["total"] == Decimal("90.00")
    assert RefundEntry.objects.filter(kind="small_payment", after_sale=None).count() == 3
