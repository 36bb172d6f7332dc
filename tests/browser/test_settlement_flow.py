"""Offline statements in the browser: outlet-yto confirms the issued one; the merchant reconciles the bill.

Selectors are ids, names and data-* attributes only: the pages are Chinese (Accept-Language zh-CN) and
the Chinese catalogue is filled in later.
"""

import re

import pytest
from django.core.management import call_command

from settlement import demo_seed
from settlement.models import Reconciliation, Statement
from tests.browser.steps import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", orders=60, verbosity=0)


def test_outlet_yto_confirms_the_issued_statement(page, live_server, demo, screenshot):
    statement = Statement.objects.get(shop__code="demo-shop", outlet__code="YTO-SH-001", status="issued")
    log_in(page, live_server, "outlet-yto")
    page.wait_for_url(re.compile(r"/outlet/$"))

    page.click("#nav-statements")
    page.wait_for_url(re.compile(r"/outlet/statements/$"))
    assert page.locator("#statements tbody tr").count() == 4  # every closed month; the open one is not shown
    row = page.locator(f"#statements tr[data-statement='{statement.pk}']")
    assert row.get_attribute("data-status") == "issued"
    screenshot("outlet-statements")

    row.locator("a").first.click()
    page.wait_for_url(re.compile(rf"/outlet/statements/{statement.pk}/$"))
    assert page.locator("#statement").get_attribute("data-status") == "issued"
    assert page.locator("#statement-lines tbody tr").count() == statement.line_count
    assert page.locator("#export-csv").count() == 1 and page.locator("#export-xlsx").count() == 1
    screenshot("outlet-statement-issued")

    page.fill("#id_confirm_note", "已核对，金额无误")
    page.click("#confirm-submit")
    page.wait_for_url(re.compile(rf"/outlet/statements/{statement.pk}/$"))
    assert page.locator(".msg-success").count() == 1
    assert page.locator("#statement").get_attribute("data-status") == "confirmed"
    assert page.locator("#confirm-submit").count() == 0
    assert page.locator("#statement-history tr[data-to-status='confirmed']").count() == 1
    screenshot("outlet-statement-confirmed")
    statement.refresh_from_db()
    assert statement.status == "confirmed"


def test_the_merchant_reconciles_the_disputed_statement_with_the_outlets_bill(page, live_server, demo, screenshot):
    statement = Statement.objects.get(shop__code="demo-shop", status="disputed")
    log_in(page, live_server, "merchant")
    page.wait_for_url(re.compile(r"/aftersales/$"))
    page.goto(f"{live_server.url}/settlement/")
    assert page.locator("#count-disputed a").count() == 1
    screenshot("settlement-home")
    page.click("#nav-fees")
    page.wait_for_url(re.compile(r"/settlement/fees/$"))
    assert page.locator("#fee-ledger tr[data-mode='offline']").count() == 5  # one per month with statements
    screenshot("settlement-fees")
    page.click("#nav-statements")
    page.wait_for_url(re.compile(r"/settlement/statements/$"))
    assert page.locator("#statements tbody tr").count() == 5
    screenshot("merchant-statements")

    page.click(f"#statements tr[data-statement='{statement.pk}'] a")
    page.wait_for_url(re.compile(rf"/settlement/statements/{statement.pk}/$"))
    assert page.locator("#statement-dispute-note").count() == 1
    assert page.locator("#reissue-submit").count() == 1
    page.set_input_files("#id_bill_bill", str(demo_seed.bill_dir() / f"{demo_seed.BILL_NAME}.xlsx"))
    screenshot("merchant-statement-disputed")
    page.click("#reconcile-submit")
    page.wait_for_url(re.compile(r"/settlement/reconciliations/\d+/$"))
    for kind in ("fee_differs", "not_ours", "not_billed", "billed_twice"):
        assert page.locator(f"#reconciliation-summary tr[data-kind='{kind}'] .count").inner_text() == "1"
    assert page.locator("#reconciliation-rows tbody tr").count() == 4
    assert page.locator("#export-differences").count() == 1
    screenshot("merchant-reconciliation")
    assert Reconciliation.objects.filter(statement=statement).count() == 2  # the seed's and this one
