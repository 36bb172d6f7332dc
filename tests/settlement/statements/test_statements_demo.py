"""`seed_demo` gives demo-shop × YTO-SH-001 statements in every status and a bill with every kind of difference."""

from collections import Counter
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Sum
from django.test import override_settings
from django.utils import timezone
from django_q.models import Schedule

from settlement import demo_seed
from settlement.models import Reconciliation, ReconciliationRow, Statement, StatementLine, StatementLog
from settlement.statements import reconciliation, selectors, tasks
from settlement.statements import services as statements
from shop.models import Outlet

ST = Statement.Status


def counts() -> dict:
    return {
        "statements": sorted(Statement.objects.values_list("pk", "status", "total")),
        "lines": StatementLine.objects.count(),
        "logs": StatementLog.objects.count(),
        "reconciliations": Reconciliation.objects.count(),
        "rows": ReconciliationRow.objects.count(),
    }


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo seeded twice (bills written to a temporary var/), rolled back at the module's end."""
    var = tmp_path_factory.mktemp("var")
    anchor = timezone.now()  # the demo's moment: the suite may cross midnight (or a month's end) meanwhile
    with django_db_blocker.unblock(), override_settings(VAR_DIR=var), transaction.atomic():
        out = StringIO()
        call_command("seed_demo", orders=80, at=anchor, stdout=out)
        first = counts()
        call_command("seed_demo", orders=80, at=anchor, stdout=StringIO())
        yield {"first": first, "second": counts(), "out": out.getvalue(), "var": var, "at": anchor}
        transaction.set_rollback(True)


def test_the_demo_shop_has_a_statement_in_every_status(seeded, db):
    by_month = dict(
        Statement.objects.filter(shop__code="demo-shop", outlet__code="YTO-SH-001").values_list("month", "status")
    )
    running = statements.current_month(seeded["at"])
    assert by_month == {
        running: ST.OPEN,
        statements.add_months(running, -1): ST.ISSUED,
        statements.add_months(running, -2): ST.DISPUTED,
        statements.add_months(running, -3): ST.CONFIRMED,
        statements.add_months(running, -4): ST.SETTLED,
    }
    assert "Settlement demo: 5 statements" in seeded["out"]


def test_each_statement_holds_its_months_offline_interceptions_and_adds_up(seeded, db):
    for statement in Statement.objects.all():
        lines = statement.lines.select_related("service_order", "fee_charge")
        assert statement.line_count == lines.count() > 0
        assert statement.total == lines.aggregate(total=Sum("amount"))["total"]
        for line in lines:
            assert line.service_order.mode == "offline"
            assert line.amount == line.fee_charge.amount == Decimal("2.50")
            assert statements.month_of(line.succeeded_at) == statement.month


def test_the_history_follows_each_statements_path(seeded, db):
    paths = {
        statement.status: list(statement.logs.values_list("to_status", flat=True))
        for statement in Statement.objects.filter(shop__code="demo-shop")
    }
    assert paths == {
        ST.OPEN: [ST.OPEN],
        ST.ISSUED: [ST.OPEN, ST.ISSUED],
        ST.DISPUTED: [ST.OPEN, ST.ISSUED, ST.DISPUTED],
        ST.CONFIRMED: [ST.OPEN, ST.ISSUED, ST.CONFIRMED],
        ST.SETTLED: [ST.OPEN, ST.ISSUED, ST.CONFIRMED, ST.SETTLED],
    }
    settled = Statement.objects.get(status=ST.SETTLED)
    assert settled.paid_amount == settled.total and settled.payment_reference.startswith("CMB")


def test_outlet_yto_sees_the_closed_months_only(seeded, db):
    outlet = Outlet.objects.get(code="YTO-SH-001")
    assert sorted(selectors.statements_for_outlet(outlet=outlet).values_list("status", flat=True)) == sorted(
        [ST.ISSUED, ST.DISPUTED, ST.CONFIRMED, ST.SETTLED]
    )


def test_the_disputed_months_reconciliation_finds_every_kind_of_difference(seeded, db):
    record = Reconciliation.objects.get()
    assert record.statement.status == ST.DISPUTED
    assert record.file_name == "outlet-bill-YTO-SH-001.csv"
    assert Counter(record.rows.values_list("kind", flat=True)) == {
        "matched": record.statement.line_count - 2,  # the first differs, the last is missing
        "fee_differs": 1,
        "not_ours": 1,
        "not_billed": 1,
        "billed_twice": 1,
    }


@pytest.mark.parametrize("extension", ["csv", "xlsx"])
def test_the_demo_bill_on_disk_reconciles_with_every_kind_of_difference(seeded, db, extension):
    data = (seeded["var"] / "demo" / f"{demo_seed.BILL_NAME}.{extension}").read_bytes()
    statement = Statement.objects.get(status=ST.DISPUTED)
    ours = [reconciliation.OurLine(t, a) for t, a in statement.lines.values_list("tracking_no", "amount")]
    result = reconciliation.match(bill_lines=reconciliation.read_bill(data=data), our_lines=ours)
    assert {kind: totals.count for kind, totals in result.totals().items()} == {
        "matched": statement.line_count - 2,
        "fee_differs": 1,
        "not_ours": 1,
        "not_billed": 1,
        "billed_twice": 1,
    }
    assert result.summary() == Reconciliation.objects.get().summary


def test_seeding_again_changes_nothing_and_the_schedules_exist(seeded, db):
    assert seeded["first"] == seeded["second"]
    names = set(Schedule.objects.values_list("name", flat=True))
    assert {tasks.CLOSE_SCHEDULE, tasks.REFRESH_SCHEDULE} <= names
