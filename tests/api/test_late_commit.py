"""Nothing is missed: a slow transaction that changed an after-sale before a faster one commits after
it, while an ERP pages through /after-sales; the ERP still gets the slow change. PostgreSQL only:
SQLite serialises writers, so no change can commit behind another there.
"""

import threading

import pytest
from django.db import connection, transaction
from django.test import Client

from aftersales.models import AfterSale
from api import tokens
from shop import changes
from shop.models import Change
from tests.aftersales.factories import make_after_sale
from tests.shop.factories import make_order, make_shop

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="late commits need concurrent writers"),
]


def _sync(client, secret, cursor=None) -> dict:
    params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
    return client.get("/api/v1/after-sales", params, headers={"Authorization": f"Bearer {secret}"}).json()


def _page_to_the_end(client, secret, cursor, seen: list) -> str:
    while True:
        body = _sync(client, secret, cursor)
        seen.extend((item["after_sale_no"], item["remark"]) for item in body["data"])
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return cursor


def test_a_change_committed_late_by_a_slow_transaction_is_still_synced():
    shop = make_shop("demo-shop")
    slow_one, fast_one, early = (
        make_after_sale(make_order(shop, order_no=f"O-L{i}"), after_sale_no=no)
        for i, no in enumerate(("AS-SLOW", "AS-FAST", "AS-EARLY"))
    )
    _token, secret = tokens.create_api_token(shop=shop, name="ERP", scopes="read")
    changes.record_change(shop_id=shop.pk, event=changes.AFTER_SALE_UPDATED, object_id=early.pk)
    began, release, failures = threading.Event(), threading.Event(), []

    def slow_transaction():
        try:
            with transaction.atomic():
                # The slow transaction changes the after-sale first (it gets the older transaction id)
                AfterSale.objects.filter(pk=slow_one.pk).update(remark="slow change")
                began.set()
                assert release.wait(30)
                # … and writes its feed row last: a higher id than the fast change's row.
                changes.record_change(shop_id=shop.pk, event=changes.AFTER_SALE_UPDATED, object_id=slow_one.pk)
        except BaseException as exc:  # asserted below
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_transaction)
    thread.start()
    assert began.wait(30)
    # Meanwhile a fast transaction changes another after-sale and commits.
    with transaction.atomic():
        AfterSale.objects.filter(pk=fast_one.pk).update(remark="fast change")
        changes.record_change(shop_id=shop.pk, event=changes.AFTER_SALE_UPDATED, object_id=fast_one.pk)

    client, seen = Client(), []
    cursor = _page_to_the_end(client, secret, None, seen)
    # The fast change is committed but waits behind the running slow transaction: handing it out now
    # would move the cursor past the slow change, which would then be lost.
    assert seen == [("AS-EARLY", "")]
    assert Change.objects.filter(object_id=fast_one.pk).exists()

    release.set()
    thread.join(30)
    assert not thread.is_alive() and failures == []
    slow_row, fast_row = (Change.objects.get(object_id=pk) for pk in (slow_one.pk, fast_one.pk))
    assert slow_row.id > fast_row.id and slow_row.txid < fast_row.txid  # an id-ordered poll would lose it

    cursor = _page_to_the_end(client, secret, cursor, seen)
    assert seen == [("AS-EARLY", ""), ("AS-SLOW", "slow change"), ("AS-FAST", "fast change")]
    assert _sync(client, secret, cursor) == {"data": [], "next_cursor": cursor, "has_more": False}


def test_a_rolled_back_change_is_never_synced():
    shop = make_shop("demo-shop")
    after_sale = make_after_sale(make_order(shop, order_no="O-R"), after_sale_no="AS-ROLLBACK")
    _token, secret = tokens.create_api_token(shop=shop, name="ERP", scopes="read")
    with pytest.raises(RuntimeError), transaction.atomic():
        changes.record_change(shop_id=shop.pk, event=changes.AFTER_SALE_UPDATED, object_id=after_sale.pk)
        raise RuntimeError("rolled back")
    assert _sync(Client(), secret)["data"] == []
