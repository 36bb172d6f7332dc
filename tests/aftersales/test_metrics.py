"""Service metrics: exact figures for a small history, the pause rule, and the page."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from aftersales import metrics
from aftersales.models import Actor, AfterSale, AfterSaleLog
from shop.models import Order, Parcel, TrackingEvent
from tests.shop.factories import at, make_merchant, make_order, make_parcel, make_shop

S = AfterSale.Status
NOW = at("2026-11-30 12:00")


def after_sale(order, *, no, applied, type=AfterSale.Type.REFUND_ONLY, status=S.PENDING_MERCHANT, parcel=None):
    line = order.lines.get()
    return AfterSale.objects.create(
        shop=order.shop,
        order=order,
        line=line,
        buyer=order.buyer,
        parcel=parcel,
        after_sale_no=no,
        type=type,
        reason=AfterSale.Reason.NOT_RECEIVED,
        amount=line.paid_amount,
        status=status,
        sequence=AfterSale.objects.filter(order=order).count() + 1,
        deadline=None,
        applied_at=at(applied),
    )


def status(after_sale, when, to_status, actor=Actor.MERCHANT, from_status=""):
    AfterSaleLog.objects.create(
        after_sale=after_sale,
        action=AfterSaleLog.Action.STATUS,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        at=at(when),
    )


def deadline_changed(after_sale, when):
    AfterSaleLog.objects.create(
        after_sale=after_sale, action=AfterSaleLog.Action.DEADLINE, actor=Actor.PLATFORM, at=at(when)
    )


def tracking(parcel, when, parcel_status):
    TrackingEvent.objects.create(parcel=parcel, status=parcel_status, at=at(when))


@pytest.fixture
def history(shop, other_shop, yto_outlet):
    """Nine after-sales of `shop` in the window, two outside it, one of another shop."""

    def order():
        return make_order(shop, status=Order.Status.SHIPPED, lines=[{"paid_amount": "100.00"}])

    # 11-28: refunded by the merchant 4 h after applying.
    a1 = after_sale(order(), no="A1", applied="2026-11-28 09:00")
    status(a1, "2026-11-28 13:00", S.REFUNDED)
    # Refund after refusal; the parcel was signed a day later (the 48-hour rule wrote a deadline
    # row) and the merchant rejected on 11-28: 54 h elapsed, 24 h paused → 30 h.
    o2 = order()
    p2 = make_parcel(o2, outlet=yto_outlet, shipped_at=at("2026-11-25 18:00"))
    a2 = after_sale(o2, no="A2", applied="2026-11-26 10:00", parcel=p2)
    status(a2, "2026-11-26 10:00", S.REFUND_AFTER_REFUSAL, actor=Actor.PLATFORM)
    tracking(p2, "2026-11-27 10:00", Parcel.Status.SIGNED)
    deadline_changed(a2, "2026-11-27 10:00")
    status(a2, "2026-11-28 16:00", S.REJECTED)
    # Refund after refusal; the refusal came with less than 48 h left, so no deadline row: the
    # tracking event ends the pause. An exception on the way does not. 168 h − 158 h paused → 10 h.
    o3 = order()
    p3 = make_parcel(o3, outlet=yto_outlet, shipped_at=at("2026-11-20 18:00"))
    a3 = after_sale(o3, no="A3", applied="2026-11-21 08:00", parcel=p3)
    status(a3, "2026-11-21 08:00", S.REFUND_AFTER_REFUSAL, actor=Actor.PLATFORM)
    tracking(p3, "2026-11-24 08:00", Parcel.Status.EXCEPTION)
    tracking(p3, "2026-11-27 22:00", Parcel.Status.REFUSED)
    status(a3, "2026-11-28 08:00", S.REFUNDED, actor=Actor.TIMEOUT)
    # A return and refund the buyer withdrew on 11-28: closed, not a refund-only decision.
    a4 = after_sale(order(), no="A4", applied="2026-11-27 15:00", type=AfterSale.Type.RETURN_REFUND)
    status(a4, "2026-11-28 09:00", S.CANCELLED, actor=Actor.BUYER)
    # 11-29: refunded after 2 h; rejected after 8 h, escalated, then refunded by an operator on 11-30.
    a5 = after_sale(order(), no="A5", applied="2026-11-29 10:00")
    status(a5, "2026-11-29 12:00", S.REFUNDED)
    a6 = after_sale(order(), no="A6", applied="2026-11-29 09:00")
    status(a6, "2026-11-29 17:00", S.REJECTED)
    status(a6, "2026-11-29 18:00", S.ARBITRATION, actor=Actor.OPERATOR)
    status(a6, "2026-11-30 10:00", S.REFUNDED, actor=Actor.OPERATOR)
    # Still open: 11-27 (a day with no closure) and 11-30.
    after_sale(order(), no="A7", applied="2026-11-30 08:00")
    after_sale(order(), no="A8", applied="2026-11-27 11:00")
    # The window starts at Shanghai midnight of 11-01 (16:00 UTC the day before).
    after_sale(order(), no="A9", applied="2026-11-01 00:30")
    a10 = after_sale(order(), no="A10", applied="2026-10-31 20:00")
    status(a10, "2026-10-31 23:30", S.REFUNDED)
    # Another shop's rejection on 11-28 counts nowhere here.
    theirs = make_order(other_shop, status=Order.Status.SHIPPED, lines=[{"paid_amount": "50.00"}])
    b1 = after_sale(theirs, no="B1", applied="2026-11-28 08:00")
    status(b1, "2026-11-28 10:00", S.REJECTED)


def by_day(result):
    return {figures.day.isoformat(): figures for figures in result.days}


def test_daily_figures_follow_the_definitions(shop, history):
    result = metrics.service_metrics(shop=shop, now=NOW)

    days = by_day(result)
    assert len(result.days) == 30
    assert (result.days[0].day.isoformat(), result.days[-1].day.isoformat()) == ("2026-11-01", "2026-11-30")
    assert {day: figures.applied for day, figures in days.items() if figures.applied} == {
        "2026-11-01": 1,
        "2026-11-21": 1,
        "2026-11-26": 1,
        "2026-11-27": 2,
        "2026-11-28": 1,
        "2026-11-29": 2,
        "2026-11-30": 1,
    }
    closures = {
        day: (f.closed, f.rejected, f.rejection_rate, f.timeouts) for day, f in days.items() if f.closed or f.timeouts
    }
    assert closures == {
        "2026-11-28": (4, 1, Decimal("25.0"), 1),
        "2026-11-29": (2, 1, Decimal("50.0"), 0),
        "2026-11-30": (1, 0, Decimal("0.0"), 0),
    }
    handling = {day: (f.handled, f.median_handling_hours) for day, f in days.items() if f.handled}
    assert handling == {"2026-11-28": (3, Decimal("10.0")), "2026-11-29": (2, Decimal("5.0"))}


def test_a_day_without_closures_has_no_rate_and_no_median(shop, history):
    day = by_day(metrics.service_metrics(shop=shop, now=NOW))["2026-11-27"]

    assert (day.applied, day.closed, day.rejected, day.rejection_rate) == (2, 0, 0, None)
    assert (day.handled, day.median_handling, day.median_handling_hours) == (0, None, None)


def test_the_pause_ends_at_the_deadline_row_or_the_parcels_resolution(shop, history):
    rows = metrics.refund_only_decisions(shop=shop, start=at("2026-11-01 00:00"), end=at("2026-12-01 00:00"))

    handling = {row.after_sale.after_sale_no: row.handling for row in rows.select_related("after_sale")}
    assert handling == {
        "A1": timedelta(hours=4),
        "A2": timedelta(hours=30),  # paused 24 h, ended by the deadline row
        "A3": timedelta(hours=10),  # paused 158 h, ended by the refused tracking event
        "A5": timedelta(hours=2),
        "A6": timedelta(hours=8),  # its later arbitration refund is not a second decision
    }


def test_totals_count_each_after_sale_once_over_the_window(shop, history):
    totals = metrics.service_metrics(shop=shop, now=NOW).totals

    assert (totals.applied, totals.closed, totals.rejected, totals.timeouts) == (9, 6, 2, 1)
    assert totals.rejection_rate == Decimal("33.3")
    assert (totals.handled, totals.median_handling_hours) == (5, Decimal("8.0"))


def test_metrics_take_five_queries_whatever_the_history(shop, history, django_assert_num_queries):
    with django_assert_num_queries(5):
        metrics.service_metrics(shop=shop, now=NOW)


def test_a_shop_without_after_sales_has_empty_figures(db):
    result = metrics.service_metrics(shop=make_shop(), now=NOW)

    assert len(result.days) == 30
    assert all(f.applied == f.closed == f.handled == 0 for f in result.days)
    assert (result.totals.rejection_rate, result.totals.median_handling) == (None, None)


def test_the_metrics_page_shows_the_definitions_the_chart_and_no_script(client, shop, history, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    client.force_login(make_merchant(shop))

    response = client.get(reverse("aftersales:metrics"))

    body = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in body and "<script" not in body
    assert "33.3%" in body  # the 30-day rejection rate
    assert "2 / 6" in body
    assert "8.0" in body  # the 30-day median handling time, hours
    assert 'data-testid="definitions"' in body
