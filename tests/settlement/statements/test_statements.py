"""Offline statements: gathering lines, closing months, the outlet's answer, payment; every refusal changes nothing."""

from datetime import date, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_q.models import Schedule

from settlement.models import Statement, StatementLine, StatementLog
from settlement.statements import services as statements
from settlement.statements import tasks
from shop.errors import DomainError, NotFound
from shop.localtime import SHANGHAI
from tests.settlement.factories import AFTER_OCTOBER, OCTOBER, issued_statement, make_charge, snapshot, statement_in
from tests.shop.factories import at, make_outlet, make_outlet_user

ST = Statement.Status
NOVEMBER = date(2026, 11, 1)


@pytest.fixture
def outlet_user(yto_outlet):
    return make_outlet_user(yto_outlet, "outlet-yto")


@pytest.fixture
def other_outlet(yto):
    return make_outlet(yto, code="YTO-HZ-002")


# --- months ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment, month",
    [
        ("2026-10-31 23:59", date(2026, 10, 1)),
        ("2026-11-01 00:00", date(2026, 11, 1)),
        ("2026-12-31 23:59", date(2026, 12, 1)),
        ("2027-01-01 00:00", date(2027, 1, 1)),
    ],
)
def test_months_are_calendar_months_in_shanghai(moment, month):
    assert statements.month_of(at(moment)) == month


def test_month_bounds_are_shanghai_midnights():
    start, end = statements.month_bounds(date(2026, 12, 1))
    assert (start, end) == (datetime(2026, 12, 1, tzinfo=SHANGHAI), datetime(2027, 1, 1, tzinfo=SHANGHAI))


# --- gathering -------------------------------------------------------------------------------------


def test_refresh_gathers_the_months_offline_fees_of_the_shop_and_outlet_only(
    shop, other_shop, yto_outlet, other_outlet
):
    first = make_charge(shop, yto_outlet, when=at("2026-10-01 00:00"), amount="2.50", tracking_no="YT-A")
    second = make_charge(shop, yto_outlet, when=at("2026-10-31 23:59"), amount="3.00", tracking_no="YT-B")
    make_charge(shop, yto_outlet, when=at("2026-09-30 23:59"))  # September
    make_charge(shop, yto_outlet, when=at("2026-11-01 00:00"))  # November
    make_charge(shop, yto_outlet, when=at("2026-10-10 10:00"), amount="3.00", mode="online")
    make_charge(shop, other_outlet, when=at("2026-10-10 10:00"))
    make_charge(other_shop, yto_outlet, when=at("2026-10-10 10:00"))

    statement = statements.refresh_open_statement(shop=shop, outlet=yto_outlet, month=OCTOBER)

    assert (statement.status, statement.line_count, statement.total) == (ST.OPEN, 2, Decimal("5.50"))
    lines = list(
        statement.lines.order_by("succeeded_at").values_list(
            "fee_charge_id", "service_order_id", "tracking_no", "amount", "succeeded_at"
        )
    )
    assert lines == [
        (first.pk, first.service_order_id, "YT-A", Decimal("2.50"), at("2026-10-01 00:00")),
        (second.pk, second.service_order_id, "YT-B", Decimal("3.00"), at("2026-10-31 23:59")),
    ]
    assert list(statement.logs.values_list("from_status", "to_status", "user")) == [("", ST.OPEN, None)]


def test_refreshing_again_adds_only_new_fees(shop, yto_outlet):
    make_charge(shop, yto_outlet, when=at("2026-10-02 10:00"))
    statement = statements.refresh_open_statement(shop=shop, outlet=yto_outlet, month=OCTOBER)
    statements.refresh_open_statement(shop=shop, outlet=yto_outlet, month=OCTOBER)
    assert StatementLine.objects.count() == 1

    make_charge(shop, yto_outlet, when=at("2026-10-20 10:00"), amount="4.00")
    statements.refresh_open_statement(shop=shop, outlet=yto_outlet, month=date(2026, 10, 17))  # any day of it

    statement.refresh_from_db()
    assert (statement.line_count, statement.total) == (2, Decimal("6.50"))
    assert Statement.objects.count() == 1
    assert StatementLog.objects.count() == 1


def test_a_month_without_offline_fees_opens_no_statement(shop, yto_outlet):
    make_charge(shop, yto_outlet, when=at("2026-10-02 10:00"), mode="online", amount="3.00")
    assert statements.refresh_open_statement(shop=shop, outlet=yto_outlet, month=OCTOBER) is None
    assert Statement.objects.count() == 0


def test_building_a_month_opens_one_statement_per_shop_and_outlet(shop, other_shop, yto_outlet, other_outlet):
    make_charge(shop, yto_outlet, when=at("2026-10-02 10:00"))
    make_charge(shop, yto_outlet, when=at("2026-10-03 10:00"))
    make_charge(shop, other_outlet, when=at("2026-10-04 10:00"))
    make_charge(other_shop, yto_outlet, when=at("2026-10-05 10:00"), amount="2.70")

    built = statements.build_statements_for_month(month=OCTOBER)

    assert sorted((s.shop.code, s.outlet.code, s.line_count, s.total) for s in built) == [
        ("demo-global", "YTO-SH-001", 1, Decimal("2.70")),
        ("demo-shop", "YTO-HZ-002", 1, Decimal("2.50")),
        ("demo-shop", "YTO-SH-001", 2, Decimal("5.00")),
    ]
    assert len(statements.build_statements_for_month(month=OCTOBER, shop=other_shop)) == 1


# --- closing ---------------------------------------------------------------------------------------


def test_closing_a_month_gathers_the_last_lines_then_issues(shop, yto_outlet):
    make_charge(shop, yto_outlet, when=at("2026-10-02 10:00"))
    statement = statements.refresh_open_statement(
        shop=shop, outlet=yto_outlet, month=OCTOBER, at=at("2026-10-02 10:05")
    )
    make_charge(shop, yto_outlet, when=at("2026-10-31 23:59"), amount="3.00")  # after the last refresh

    assert statements.close_month(month=OCTOBER, now=AFTER_OCTOBER) == 1

    statement.refresh_from_db()
    assert (statement.status, statement.line_count, statement.total) == (ST.ISSUED, 2, Decimal("5.50"))
    assert statement.issued_at == AFTER_OCTOBER
    assert list(statement.logs.values_list("from_status", "to_status", "note")) == [
        ("", ST.OPEN, "Opened with the month's first offline interception"),
        (ST.OPEN, ST.ISSUED, "Month closed"),
    ]


def test_closing_a_month_again_issues_nothing_more(shop, yto_outlet):
    issued_statement(shop, yto_outlet)
    before = snapshot()
    assert statements.close_month(month=OCTOBER, now=at("2026-11-02 00:30")) == 0
    assert snapshot() == before


def test_the_running_month_cannot_be_closed_and_nothing_changes(shop, yto_outlet):
    make_charge(shop, yto_outlet, when=at("2026-11-02 10:00"))
    statements.refresh_open_statement(shop=shop, outlet=yto_outlet, month=NOVEMBER)
    before = snapshot()
    with pytest.raises(DomainError, match="2026-11 is not over yet"):
        statements.close_month(month=NOVEMBER, now=at("2026-11-30 23:59"))
    with pytest.raises(DomainError, match="only once its month is over"):
        statements.issue_statement(statement_id=Statement.objects.get().pk, now=at("2026-11-30 23:59"))
    assert snapshot() == before


def test_only_an_open_statement_can_be_issued(shop, yto_outlet):
    statement = issued_statement(shop, yto_outlet)
    before = snapshot()
    with pytest.raises(DomainError, match="Only an open statement can be issued"):
        statements.issue_statement(statement_id=statement.pk, now=at("2026-12-01 00:30"))
    assert snapshot() == before


def test_a_fee_reported_after_its_month_closed_goes_to_the_next_open_statement(shop, yto_outlet):
    october = issued_statement(shop, yto_outlet, fees=("2.50",))
    late = make_charge(shop, yto_outlet, when=at("2026-10-31 23:58"), tracking_no="YT-LATE")
    make_charge(shop, yto_outlet, when=at("2026-11-03 10:00"))

    november = statements.refresh_open_statement(shop=shop, outlet=yto_outlet, month=NOVEMBER)

    october.refresh_from_db()
    assert (october.line_count, october.total) == (1, Decimal("2.50"))
    assert (november.line_count, november.total) == (2, Decimal("5.00"))
    assert late.statement_line.statement == november


def test_an_earlier_fee_stays_for_its_own_month_while_that_month_is_open(shop, yto_outlet):
    make_charge(shop, yto_outlet, when=at("2026-10-05 10:00"))
    statements.refresh_open_statement(shop=shop, outlet=yto_outlet, month=OCTOBER)
    pending = make_charge(shop, yto_outlet, when=at("2026-10-30 10:00"))  # not gathered yet
    make_charge(shop, yto_outlet, when=at("2026-11-03 10:00"))

    november = statements.refresh_open_statement(shop=shop, outlet=yto_outlet, month=NOVEMBER)
    statements.close_month(month=OCTOBER, now=AFTER_OCTOBER)

    assert november.line_count == 1
    assert pending.statement_line.statement.month == OCTOBER


# --- the outlet's answer ---------------------------------------------------------------------------


def test_the_outlet_confirms_an_issued_statement(shop, yto_outlet, outlet_user):
    statement = issued_statement(shop, yto_outlet)
    statements.confirm_statement(statement_id=statement.pk, outlet=yto_outlet, user=outlet_user, note="ok")
    statement.refresh_from_db()
    assert statement.status == ST.CONFIRMED
    assert statement.answered_at is not None
    assert list(statement.logs.values_list("from_status", "to_status", "user", "note"))[-1] == (
        ST.ISSUED,
        ST.CONFIRMED,
        outlet_user.pk,
        "ok",
    )


def test_the_outlet_disputes_an_issued_statement_with_a_note(shop, yto_outlet, outlet_user):
    statement = issued_statement(shop, yto_outlet)
    statements.dispute_statement(
        statement_id=statement.pk, outlet=yto_outlet, user=outlet_user, note="  YT1 was never intercepted  "
    )
    statement.refresh_from_db()
    assert (statement.status, statement.dispute_note) == (ST.DISPUTED, "YT1 was never intercepted")
    assert statement.logs.last().note == "YT1 was never intercepted"


def test_a_dispute_without_a_note_is_refused_and_nothing_changes(shop, yto_outlet, outlet_user):
    statement = issued_statement(shop, yto_outlet)
    before = snapshot()
    with pytest.raises(DomainError, match="Say what is wrong"):
        statements.dispute_statement(statement_id=statement.pk, outlet=yto_outlet, user=outlet_user, note="  ")
    assert snapshot() == before


@pytest.mark.parametrize("status", [ST.OPEN, ST.CONFIRMED, ST.DISPUTED, ST.SETTLED])
@pytest.mark.parametrize("answer", ["confirm", "dispute"])
def test_only_an_issued_statement_can_be_answered(shop, yto_outlet, outlet_user, merchant, status, answer):
    statement = statement_in(status, shop, yto_outlet, user=merchant)
    before = snapshot()
    with pytest.raises(DomainError, match="cannot become"):
        if answer == "confirm":
            statements.confirm_statement(statement_id=statement.pk, outlet=yto_outlet, user=outlet_user)
        else:
            statements.dispute_statement(statement_id=statement.pk, outlet=yto_outlet, user=outlet_user, note="no")
    assert snapshot() == before


def test_another_outlet_cannot_answer_the_statement(shop, yto_outlet, other_outlet):
    statement = issued_statement(shop, yto_outlet)
    before = snapshot()
    with pytest.raises(NotFound):
        statements.confirm_statement(statement_id=statement.pk, outlet=other_outlet, user=None)
    with pytest.raises(NotFound):
        statements.dispute_statement(statement_id=statement.pk, outlet=other_outlet, user=None, note="mine?")
    assert snapshot() == before


# --- the merchant: reissue and payment -------------------------------------------------------------


def test_the_merchant_sends_a_disputed_statement_back_and_the_outlet_can_confirm_it(
    shop, yto_outlet, merchant, outlet_user
):
    statement = statement_in(ST.DISPUTED, shop, yto_outlet, user=outlet_user)
    statements.reissue_statement(statement_id=statement.pk, shop=shop, user=merchant, note="checked: YT1 is ours")
    statement.refresh_from_db()
    assert (statement.status, statement.answered_at) == (ST.ISSUED, None)
    statements.confirm_statement(statement_id=statement.pk, outlet=yto_outlet, user=outlet_user)
    assert list(statement.logs.values_list("to_status", flat=True)) == [
        ST.OPEN,
        ST.ISSUED,
        ST.DISPUTED,
        ST.ISSUED,
        ST.CONFIRMED,
    ]


@pytest.mark.parametrize("status", [ST.OPEN, ST.ISSUED, ST.CONFIRMED, ST.SETTLED])
def test_only_a_disputed_statement_can_be_sent_back(shop, yto_outlet, merchant, status):
    statement = statement_in(status, shop, yto_outlet, user=merchant)
    before = snapshot()
    with pytest.raises(DomainError, match="Only a disputed statement"):
        statements.reissue_statement(statement_id=statement.pk, shop=shop, user=merchant, note="again")
    assert snapshot() == before


def test_sending_back_needs_a_note_and_the_own_shop(shop, other_shop, yto_outlet, merchant):
    statement = statement_in(ST.DISPUTED, shop, yto_outlet, user=merchant)
    before = snapshot()
    with pytest.raises(DomainError, match="Say how the dispute was sorted out"):
        statements.reissue_statement(statement_id=statement.pk, shop=shop, user=merchant, note="")
    with pytest.raises(NotFound):
        statements.reissue_statement(statement_id=statement.pk, shop=other_shop, user=merchant, note="mine")
    assert snapshot() == before


def test_the_merchant_records_the_payment_of_a_confirmed_statement(shop, yto_outlet, merchant):
    statement = statement_in(ST.CONFIRMED, shop, yto_outlet, user=merchant)
    statements.record_payment(
        statement_id=statement.pk, shop=shop, user=merchant, reference=" ICBC-0042 ", amount=Decimal("8.00")
    )
    statement.refresh_from_db()
    assert (statement.status, statement.payment_reference, statement.paid_amount) == (
        ST.SETTLED,
        "ICBC-0042",
        Decimal("8.00"),
    )
    assert statement.settled_at is not None
    assert statement.logs.last().note == "Paid 8.00 yuan, reference ICBC-0042"


@pytest.mark.parametrize("status", [ST.OPEN, ST.ISSUED, ST.DISPUTED, ST.SETTLED])
def test_only_a_confirmed_statement_can_be_settled(shop, yto_outlet, merchant, status):
    statement = statement_in(status, shop, yto_outlet, user=merchant)
    before = snapshot()
    with pytest.raises(DomainError, match="Only a statement the outlet has confirmed"):
        statements.record_payment(
            statement_id=statement.pk, shop=shop, user=merchant, reference="X", amount=statement.total
        )
    assert snapshot() == before


@pytest.mark.parametrize(
    "reference, amount, message",
    [
        ("BANK-1", "7.99", "must be the confirmed total, 8.00 yuan"),
        ("BANK-1", "8.01", "must be the confirmed total, 8.00 yuan"),
        ("   ", "8.00", "Enter the payment reference"),
    ],
)
def test_a_wrong_payment_is_refused_and_nothing_changes(shop, yto_outlet, merchant, reference, amount, message):
    statement = statement_in(ST.CONFIRMED, shop, yto_outlet, user=merchant)
    before = snapshot()
    with pytest.raises(DomainError, match=message):
        statements.record_payment(
            statement_id=statement.pk, shop=shop, user=merchant, reference=reference, amount=Decimal(amount)
        )
    assert snapshot() == before


def test_another_shop_cannot_record_a_payment(shop, other_shop, yto_outlet, merchant, other_merchant):
    statement = statement_in(ST.CONFIRMED, shop, yto_outlet, user=merchant)
    before = snapshot()
    with pytest.raises(NotFound):
        statements.record_payment(
            statement_id=statement.pk, shop=other_shop, user=other_merchant, reference="X", amount=statement.total
        )
    assert snapshot() == before


# --- tasks, schedules, command ---------------------------------------------------------------------


def test_the_monthly_task_closes_the_previous_month_and_any_earlier_one_left_open(shop, yto_outlet):
    make_charge(shop, yto_outlet, when=at("2026-09-10 10:00"))
    statements.refresh_open_statement(shop=shop, outlet=yto_outlet, month=date(2026, 9, 1))  # September missed
    make_charge(shop, yto_outlet, when=at("2026-10-10 10:00"))
    make_charge(shop, yto_outlet, when=at("2026-11-01 00:10"))

    assert tasks.close_past_months(now=AFTER_OCTOBER) == 2

    assert dict(Statement.objects.values_list("month", "status")) == {
        date(2026, 9, 1): ST.ISSUED,
        date(2026, 10, 1): ST.ISSUED,
    }
    assert tasks.refresh_running_month(now=AFTER_OCTOBER) == 1
    assert Statement.objects.get(month=NOVEMBER).status == ST.OPEN


def test_the_schedules_are_created_once_and_kept(db):
    Schedule.objects.all().delete()  # migrate made them at today's times: start from none
    tasks.ensure_statement_schedules(now=at("2026-11-23 10:15"))
    tasks.ensure_statement_schedules(now=at("2026-11-24 10:15"))
    schedules = {s.name: s for s in Schedule.objects.all()}
    close = schedules[tasks.CLOSE_SCHEDULE]
    refresh = schedules[tasks.REFRESH_SCHEDULE]
    assert (close.func, close.schedule_type, close.repeats) == (tasks.CLOSE_FUNC, Schedule.DAILY, -1)
    assert close.next_run == at("2026-11-24 00:30")
    assert (refresh.func, refresh.schedule_type) == (tasks.REFRESH_FUNC, Schedule.HOURLY)
    assert refresh.next_run == at("2026-11-23 11:00")


def test_the_command_closes_a_given_month_and_makes_the_schedules(shop, yto_outlet):
    make_charge(shop, yto_outlet, when=at("2026-10-10 10:00"))
    out = StringIO()
    call_command("close_statements", month=date(2026, 10, 1), stdout=out)
    assert Statement.objects.get().status == ST.ISSUED
    assert "1 statement(s) issued." in out.getvalue()
    assert Schedule.objects.filter(name__in=[tasks.CLOSE_SCHEDULE, tasks.REFRESH_SCHEDULE]).count() == 2


def test_the_command_refuses_the_running_month_and_a_bad_month(db):
    running = statements.current_month()
    with pytest.raises(CommandError, match="is not over yet"):
        call_command("close_statements", "--month", f"{running:%Y-%m}", stdout=StringIO())
    with pytest.raises(CommandError, match="--month expects YYYY-MM"):
        call_command("close_statements", "--month", "October", stdout=StringIO())


def test_the_command_can_only_make_the_schedules(shop, yto_outlet):
    make_charge(shop, yto_outlet, when=at("2026-10-10 10:00"))
    statements.refresh_open_statement(shop=shop, outlet=yto_outlet, month=OCTOBER)
    call_command("close_statements", "--schedule-only", stdout=StringIO())
    assert Statement.objects.get().status == ST.OPEN
    assert Schedule.objects.filter(name__in=[tasks.CLOSE_SCHEDULE, tasks.REFRESH_SCHEDULE]).count() == 2


def test_two_shops_statements_never_mix(shop, other_shop, yto_outlet):
    make_charge(shop, yto_outlet, when=at("2026-10-10 10:00"))
    make_charge(other_shop, yto_outlet, when=at("2026-10-11 10:00"), amount="2.70")
    statements.close_month(month=OCTOBER, now=AFTER_OCTOBER)
    assert sorted(Statement.objects.values_list("shop__code", "total")) == [
        ("demo-global", Decimal("2.70")),
        ("demo-shop", Decimal("2.50")),
    ]


def test_a_late_fee_of_a_month_without_a_statement_gets_that_months_statement_at_the_next_close(shop, yto_outlet):
    late = make_charge(shop, yto_outlet, when=at("2026-10-31 23:58"))  # reported after the October close
    make_charge(shop, yto_outlet, when=at("2026-11-05 10:00"))
    november = statements.refresh_open_statement(shop=shop, outlet=yto_outlet, month=NOVEMBER)
    assert november.line_count == 1

    assert tasks.close_past_months(now=at("2026-12-01 00:30")) == 2

    assert late.statement_line.statement.month == OCTOBER
    assert dict(Statement.objects.values_list("month", "status")) == {OCTOBER: ST.ISSUED, NOVEMBER: ST.ISSUED}
