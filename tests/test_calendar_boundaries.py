"""The calendar boundaries the money rules depend on, each named by the test that protects it.

Shanghai is UTC+8, so its midnight is 16:00 UTC of the day before: a rule that counts days or
months in UTC (or in the server's zone) is wrong for eight hours of every day. These tests pin
each boundary with explicit moments, at the four moments `.ci/run` also moves the whole suite to
(the 1st at 00:10, a month's last day at 23:50, 29 February 2028, 31 December at 23:59), and the
`running clock` tests check what the code does when it reads the clock itself.
"""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_q.models import Schedule

from aftersales import metrics, rules
from aftersales.models import AfterSale
from settlement.claims import rules as claim_rules
from settlement.models import Statement, StatementLine
from settlement.statements import services as statements
from settlement.statements import tasks
from shop.localtime import SHANGHAI
from tests.aftersales.factories import make_after_sale
from tests.settlement.factories import make_charge
from tests.shop.factories import at, make_order

ST = Statement.Status
LAST_INSTANT = timedelta(microseconds=1)


# --- statements: the monthly close -----------------------------------------------------------------


@pytest.mark.parametrize(
    "new_month",
    [
        date(2027, 3, 1),  # after a 28-day February
        date(2028, 3, 1),  # after 29 February 2028
        date(2027, 1, 1),  # after December: a new year
        date(2027, 2, 1),  # after a 31-day month
    ],
)
def test_a_statement_closed_at_00_30_on_the_first_takes_the_previous_months_interceptions_and_none_of_the_new_months(
    shop, yto_outlet, new_month
):
    previous = statements.add_months(new_month, -1)
    midnight = datetime.combine(new_month, datetime.min.time(), tzinfo=SHANGHAI)
    last_of_old = make_charge(shop, yto_outlet, when=midnight - LAST_INSTANT, amount="2.50", tracking_no="YT-OLD")
    first_of_new = make_charge(shop, yto_outlet, when=midnight, amount="3.00", tracking_no="YT-NEW")

    issued = tasks.close_past_months(now=midnight + timedelta(minutes=30))

    statement = Statement.objects.get(shop=shop, outlet=yto_outlet, month=previous)
    assert issued == 1
    assert (statement.status, statement.line_count, statement.total) == (ST.ISSUED, 1, Decimal("2.50"))
    assert list(statement.lines.values_list("fee_charge_id", flat=True)) == [last_of_old.pk]
    assert not StatementLine.objects.filter(fee_charge=first_of_new).exists()
    assert not Statement.objects.filter(month=new_month).exclude(status=ST.OPEN).exists()


@pytest.mark.parametrize(
    "now, month",
    [
        ("2027-03-01 00:10", date(2027, 3, 1)),
        ("2027-01-31 23:50", date(2027, 1, 1)),
        ("2028-02-29 12:00", date(2028, 2, 1)),
        ("2026-12-31 23:59", date(2026, 12, 1)),
        ("2027-01-01 00:00", date(2027, 1, 1)),
    ],
)
def test_the_running_month_is_the_shanghai_calendar_month_at_every_boundary(now, month):
    assert statements.current_month(at(now)) == month


@pytest.mark.parametrize(
    "month, days",
    [(date(2028, 2, 1), 29), (date(2027, 2, 1), 28), (date(2026, 12, 1), 31), (date(2027, 4, 1), 30)],
)
def test_a_months_bounds_span_its_days_from_shanghai_midnight_to_shanghai_midnight(month, days):
    start, end = statements.month_bounds(month)
    assert start == datetime.combine(month, datetime.min.time(), tzinfo=SHANGHAI)
    assert end - start == timedelta(days=days)
    assert start.astimezone(UTC).hour == 16  # the day before, in UTC


def test_an_interception_on_29_february_2028_is_on_februarys_statement(shop, yto_outlet):
    leap = make_charge(shop, yto_outlet, when=at("2028-02-29 23:59"))
    make_charge(shop, yto_outlet, when=at("2028-03-01 00:00"))

    tasks.close_past_months(now=at("2028-03-01 00:30"))

    february = Statement.objects.get(month=date(2028, 2, 1))
    assert list(february.lines.values_list("fee_charge_id", flat=True)) == [leap.pk]


@pytest.mark.parametrize(
    "now, first_close",
    [
        ("2027-01-31 23:50", "2027-02-01 00:30"),
        ("2027-03-01 00:10", "2027-03-01 00:30"),  # the close of February is 20 minutes away
        ("2028-02-29 12:00", "2028-03-01 00:30"),
        ("2026-12-31 23:59", "2027-01-01 00:30"),
        ("2027-02-14 09:00", "2027-02-15 00:30"),  # a run with nothing to close but catching up
        ("2027-02-15 00:30", "2027-02-16 00:30"),
    ],
)
def test_the_close_schedule_first_runs_at_the_next_00_30_in_shanghai(db, now, first_close):
    Schedule.objects.all().delete()

    tasks.ensure_statement_schedules(now=at(now))

    schedule = Schedule.objects.get(name=tasks.CLOSE_SCHEDULE)
    assert schedule.next_run == at(first_close)


def test_the_close_schedule_runs_at_00_30_shanghai_on_every_first_of_the_month_for_years(db):
    """django-q2 computes the next run from the last one in UTC: a monthly step from 31 Jan 16:30 UTC
    lands on 28 Feb 16:30 UTC, and from there on the 28th of every month — no longer the 1st in Shanghai."""
    Schedule.objects.all().delete()
    tasks.ensure_statement_schedules(now=at("2026-12-15 12:00"))
    schedule = Schedule.objects.get(name=tasks.CLOSE_SCHEDULE)  # as the scheduler reads it: in UTC
    runs, run = [], schedule.next_run
    while run < at("2029-01-02 00:00"):
        runs.append(timezone.localtime(run, SHANGHAI))
        run = schedule.calculate_next_run(run).astimezone(UTC)  # saved, and read back in UTC

    firsts = {(moment.year, moment.month) for moment in runs if moment.day == 1 and moment.time() == time(0, 30)}
    assert firsts == {(year, month) for year in (2027, 2028) for month in range(1, 13)} | {(2029, 1)}
    assert {moment.time() for moment in runs} == {time(0, 30)}


# --- claims: the 7–30 day window ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "succeeded, opens, closes",
    [
        # the last day of a month, late at night: day 30 is counted from the Shanghai date
        ("2027-01-31 23:50", "2027-02-07 23:50", "2027-03-02"),
        # 29 February: a leap year's extra day counts
        ("2028-02-29 12:00", "2028-03-07 12:00", "2028-03-30"),
        # New Year's Eve
        ("2026-12-31 23:59", "2027-01-07 23:59", "2027-01-30"),
        # ten minutes into a month: in UTC this is still the previous day
        ("2027-03-01 00:10", "2027-03-08 00:10", "2027-03-31"),
    ],
)
def test_the_claim_window_opens_seven_days_after_success_and_closes_at_the_end_of_shanghai_day_thirty(
    succeeded, opens, closes
):
    window = claim_rules.claim_window(at(succeeded))

    assert window.opens_at == at(opens)
    assert window.closes_at == at(f"{closes} 00:00") + timedelta(days=1) - LAST_INSTANT


def test_a_claim_is_refused_a_microsecond_before_the_window_opens_and_after_it_closes():
    succeeded = at("2027-01-31 23:50")
    window = claim_rules.claim_window(succeeded)

    assert claim_rules.window_blocker(window.opens_at - LAST_INSTANT, succeeded) is not None
    assert claim_rules.window_blocker(window.opens_at, succeeded) is None
    assert claim_rules.window_blocker(window.closes_at, succeeded) is None
    assert claim_rules.window_blocker(window.closes_at + LAST_INSTANT, succeeded) is not None


# --- after-sales deadlines -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "applied, deadline",
    [
        ("2026-12-31 23:59", "2027-01-02 23:59"),  # across the year's end
        ("2028-02-28 12:00", "2028-03-01 12:00"),  # across 29 February
        ("2027-02-28 12:00", "2027-03-02 12:00"),  # no 29 February in 2027
        ("2027-01-31 23:50", "2027-02-02 23:50"),
    ],
)
def test_a_new_applications_deadline_is_48_hours_later_across_month_and_year_ends(applied, deadline):
    assert rules.initial_deadline(AfterSale.Status.PENDING_MERCHANT, at(applied)) == at(deadline)


@pytest.mark.parametrize(
    "agreed, deadline",
    [("2028-02-25 10:00", "2028-03-03 10:00"), ("2027-02-25 10:00", "2027-03-04 10:00")],
)
def test_refund_after_refusal_gives_seven_days_counting_29_february(agreed, deadline):
    assert rules.initial_deadline(AfterSale.Status.REFUND_AFTER_REFUSAL, at(agreed)) == at(deadline)


# --- metrics: Shanghai days ------------------------------------------------------------------------------


def test_an_application_ten_minutes_into_the_first_counts_on_the_first_not_on_the_utc_day_before(shop):
    order = make_order(shop, status="shipped")
    make_after_sale(order, after_sale_no="LATE-FEB", applied_at=at("2027-02-28 23:50"))
    make_after_sale(make_order(shop, status="shipped"), after_sale_no="EARLY-MAR", applied_at=at("2027-03-01 00:05"))

    result = metrics.service_metrics(shop=shop, days=2, now=at("2027-03-01 00:10"))

    assert [(figures.day.isoformat(), figures.applied) for figures in result.days] == [
        ("2027-02-28", 1),
        ("2027-03-01", 1),
    ]


# --- the running clock ------------------------------------------------------------------------------------
# These read the clock themselves: under BACKOFFICE_TEST_NOW they run at the moment CI chose.


def test_running_clock_the_monthly_task_never_closes_the_running_month(shop, yto_outlet):
    now = timezone.now()
    make_charge(shop, yto_outlet, when=now - timedelta(seconds=1))

    tasks.close_past_months()
    tasks.refresh_running_month()

    running = Statement.objects.get(month=statements.current_month())
    assert running.status == ST.OPEN
    assert running.line_count == 1


def test_running_clock_a_new_application_gets_48_hours_from_now(shop):
    before = timezone.now()
    after_sale = make_after_sale(make_order(shop, status="shipped"), after_sale_no="NOW", applied_at=before)

    deadline = rules.initial_deadline(after_sale.status, after_sale.applied_at)

    assert deadline == before + timedelta(hours=48)
    assert not rules.is_about_to_time_out(deadline, before + timedelta(hours=36))
    assert rules.is_about_to_time_out(deadline, before + timedelta(hours=36, seconds=1))
