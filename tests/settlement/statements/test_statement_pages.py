"""The statement pages of the merchant and of the outlet portal, their exports, and the admin."""

import io
from datetime import date
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from settlement.models import Reconciliation, Statement
from tests.settlement.factories import issued_statement, make_charge, snapshot, statement_in
from tests.shop.factories import at, make_operator, make_outlet, make_outlet_user

ST = Statement.Status


@pytest.fixture
def outlet_user(yto_outlet):
    return make_outlet_user(yto_outlet, "outlet-yto")


@pytest.fixture
def other_outlet(yto):
    return make_outlet(yto, code="YTO-HZ-002")


@pytest.fixture
def merchant_client(client, merchant):
    client.force_login(merchant)
    return client


@pytest.fixture
def outlet_client(client, outlet_user):
    client.force_login(outlet_user)
    return client


@pytest.fixture
def statement(shop, yto_outlet):
    make_charge(shop, yto_outlet, when=at("2026-10-02 09:05"), amount="2.50", tracking_no="YT100")
    make_charge(shop, yto_outlet, when=at("2026-10-15 18:30"), amount="3.00", tracking_no="YT200")
    return issued_statement(shop, yto_outlet, fees=())


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- merchant: home, list, detail ------------------------------------------------------------------


def test_the_settlement_home_links_fees_statements_and_counts_them(merchant_client, statement):
    page = merchant_client.get(reverse("settlement:home")).content.decode()
    assert f'href="{reverse("settlement:fees")}"' in page
    assert f'href="{reverse("settlement:statements")}"' in page
    assert '<dd id="count-issued">1</dd>' in page


def test_the_list_shows_the_shops_statements_with_their_figures(merchant_client, statement, other_shop, yto_outlet):
    make_charge(other_shop, yto_outlet, when=at("2026-10-03 10:00"), amount="9.99")
    issued_statement(other_shop, yto_outlet, fees=())
    response = merchant_client.get(reverse("settlement:statements"))
    rows = list(response.context["table"].rows)
    assert [(row.record.pk, row.record.status) for row in rows] == [(statement.pk, ST.ISSUED)]
    page = response.content.decode()
    assert "2026-10" in page and "5.50" in page and "9.99" not in page


def test_the_list_filters_by_status_outlet_and_month(merchant_client, shop, statement, other_outlet):
    make_charge(shop, other_outlet, when=at("2026-09-03 10:00"))
    issued_statement(shop, other_outlet, fees=(), month=date(2026, 9, 1))
    url = reverse("settlement:statements")

    def shown(query):
        return [row.record.outlet.code for row in merchant_client.get(url, query).context["table"].rows]

    assert shown({}) == ["YTO-SH-001", "YTO-HZ-002"]
    assert shown({"outlet": "YTO-HZ-002"}) == ["YTO-HZ-002"]
    assert shown({"month_from": "2026-10"}) == ["YTO-SH-001"]
    assert shown({"month_to": "2026-09", "status": "issued"}) == ["YTO-HZ-002"]
    assert shown({"status": "settled"}) == []


def test_the_outlet_filter_offers_only_outlets_the_shop_has_statements_with(merchant_client, statement, other_outlet):
    choices = merchant_client.get(reverse("settlement:statements")).context["filter"].form.fields["outlet"].queryset
    assert [outlet.code for outlet in choices] == ["YTO-SH-001"]


def test_the_refresh_button_gathers_the_running_month(merchant_client, shop, yto_outlet):
    from settlement.statements.rules import current_month, month_start

    make_charge(shop, yto_outlet, when=month_start(current_month()))
    response = merchant_client.post(reverse("settlement:statements-refresh"), follow=True)
    assert messages_of(response) == ["1 statement of this month is up to date."]
    assert Statement.objects.get().status == ST.OPEN


def test_the_detail_shows_lines_history_and_no_action_while_issued(merchant_client, statement):
    response = merchant_client.get(reverse("settlement:statement-detail", kwargs={"pk": statement.pk}))
    page = response.content.decode()
    assert [line.tracking_no for line in response.context["lines"].page.object_list.data] == ["YT100", "YT200"]
    assert '<dd id="statement-total">5.50</dd>' in page
    assert page.count('data-to-status="') == 2
    assert response.context["pay_form"] is None and response.context["reissue_form"] is None
    assert 'id="reconcile-submit"' in page


def test_the_payment_form_appears_once_confirmed_with_the_total(merchant_client, shop, yto_outlet, merchant):
    statement = statement_in(ST.CONFIRMED, shop, yto_outlet, user=merchant)
    response = merchant_client.get(reverse("settlement:statement-detail", kwargs={"pk": statement.pk}))
    assert response.context["pay_form"].initial == {"amount": Decimal("8.00")}
    assert 'id="pay-submit"' in response.content.decode()


def test_the_merchant_records_a_payment(merchant_client, shop, yto_outlet, merchant):
    statement = statement_in(ST.CONFIRMED, shop, yto_outlet, user=merchant)
    url = reverse("settlement:statement-pay", kwargs={"pk": statement.pk})
    response = merchant_client.post(url, {"reference": "CMB-77", "amount": "8.00"}, follow=True)
    assert messages_of(response) == ["The payment was recorded: the statement is settled."]
    statement.refresh_from_db()
    assert (statement.status, statement.payment_reference, statement.paid_amount) == (
        ST.SETTLED,
        "CMB-77",
        Decimal("8.00"),
    )
    assert "CMB-77" in response.content.decode()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"reference": "CMB-77", "amount": "7.00"}, "The amount paid must be the confirmed total, 8.00 yuan."),
        ({"reference": "", "amount": "8.00"}, "Nothing was done: Payment reference: This field is required."),
        ({"reference": "CMB-77", "amount": "lots"}, "Nothing was done: Amount paid (yuan): Enter a number."),
    ],
)
def test_a_wrong_payment_gets_a_message_and_nothing_changes(merchant_client, shop, yto_outlet, merchant, data, message):
    statement = statement_in(ST.CONFIRMED, shop, yto_outlet, user=merchant)
    before = snapshot()
    response = merchant_client.post(reverse("settlement:statement-pay", kwargs={"pk": statement.pk}), data, follow=True)
    assert messages_of(response) == [message]
    assert snapshot() == before


def test_paying_an_issued_statement_is_refused(merchant_client, statement):
    before = snapshot()
    url = reverse("settlement:statement-pay", kwargs={"pk": statement.pk})
    response = merchant_client.post(url, {"reference": "X", "amount": "5.50"}, follow=True)
    assert messages_of(response) == ["Only a statement the outlet has confirmed can be settled."]
    assert snapshot() == before


def test_the_merchant_sends_a_disputed_statement_back(merchant_client, shop, yto_outlet, merchant):
    statement = statement_in(ST.DISPUTED, shop, yto_outlet, user=merchant)
    page = merchant_client.get(reverse("settlement:statement-detail", kwargs={"pk": statement.pk})).content.decode()
    assert "two lines are wrong" in page and 'id="reissue-submit"' in page
    url = reverse("settlement:statement-reissue", kwargs={"pk": statement.pk})
    response = merchant_client.post(url, {"note": "YT1 was ours, see the reconciliation"}, follow=True)
    assert messages_of(response) == ["The statement was sent back to the outlet to confirm."]
    statement.refresh_from_db()
    assert statement.status == ST.ISSUED


# --- exports ---------------------------------------------------------------------------------------


def test_the_merchant_exports_the_lines_as_csv(merchant_client, statement):
    response = merchant_client.get(reverse("settlement:statement-csv", kwargs={"pk": statement.pk}))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="statement-demo-shop-YTO-SH-001-2026-10.csv"'
    so1, so2 = statement.lines.order_by("succeeded_at").values_list("service_order_id", flat=True)
    assert body(response).decode() == (
        "\ufeffService order,Tracking no.,Intercepted at,Fee (yuan)\r\n"
        f"SO{so1:08d},YT100,2026-10-02 09:05:00,2.50\r\n"
        f"SO{so2:08d},YT200,2026-10-15 18:30:00,3.00\r\n"
    )


def test_the_merchant_exports_the_lines_as_xlsx_with_fees_as_numbers(merchant_client, statement):
    response = merchant_client.get(reverse("settlement:statement-xlsx", kwargs={"pk": statement.pk}))
    assert response["Content-Disposition"] == 'attachment; filename="statement-demo-shop-YTO-SH-001-2026-10.xlsx"'
    sheet = load_workbook(io.BytesIO(body(response))).active
    so1, so2 = statement.lines.order_by("succeeded_at").values_list("service_order_id", flat=True)
    assert sheet.title == "2026-10"
    assert [list(row) for row in sheet.iter_rows(values_only=True)] == [
        ["Service order", "Tracking no.", "Intercepted at", "Fee (yuan)"],
        [f"SO{so1:08d}", "YT100", "2026-10-02 09:05:00", 2.5],
        [f"SO{so2:08d}", "YT200", "2026-10-15 18:30:00", 3],
    ]


def test_the_outlet_exports_the_same_lines(outlet_client, merchant, statement):
    merchant_client = Client()
    merchant_client.force_login(merchant)
    merchant_csv = body(merchant_client.get(reverse("settlement:statement-csv", kwargs={"pk": statement.pk})))
    outlet_csv = outlet_client.get(reverse("outlet:statement-csv", kwargs={"pk": statement.pk}))
    assert outlet_csv["Content-Disposition"] == 'attachment; filename="statement-demo-shop-YTO-SH-001-2026-10.csv"'
    assert body(outlet_csv) == merchant_csv
    xlsx = outlet_client.get(reverse("outlet:statement-xlsx", kwargs={"pk": statement.pk}))
    rows = list(load_workbook(io.BytesIO(body(xlsx))).active.iter_rows(values_only=True))
    assert [row[1] for row in rows] == ["Tracking no.", "YT100", "YT200"]


def test_a_reconciliations_differences_are_exported(merchant_client, statement):
    from django.core.files.uploadedfile import SimpleUploadedFile

    bill = b"tracking_no,fee\nYT100,2.50\nYT999,1.00\nYT100,2.50\n"
    merchant_client.post(
        reverse("settlement:statement-reconcile", kwargs={"pk": statement.pk}),
        {"bill": SimpleUploadedFile("b.csv", bill)},
    )
    record = Reconciliation.objects.get()
    response = merchant_client.get(reverse("settlement:reconciliation-csv", kwargs={"pk": record.pk}))
    assert body(response).decode() == (
        "\ufeffResult,Tracking no.,Bill line,Billed fee,Our fee,Difference\r\n"
        "billed twice,YT100,4,2.50,,2.50\r\n"
        "ours but not billed,YT200,,,3.00,-3.00\r\n"
        "billed but not ours / not intercepted,YT999,3,1.00,,1.00\r\n"
    )
    page = merchant_client.get(reverse("settlement:reconciliation-detail", kwargs={"pk": record.pk}))
    assert [(k["kind"], k["count"]) for k in page.context["kinds"]] == [
        ("matched", 1),
        ("fee_differs", 0),
        ("not_ours", 1),
        ("not_billed", 1),
        ("billed_twice", 1),
    ]
    matched = merchant_client.get(
        reverse("settlement:reconciliation-detail", kwargs={"pk": record.pk}), {"kind": "matched"}
    )
    assert [row.record.tracking_no for row in matched.context["rows"].page.object_list] == ["YT100"]


# --- other tenants ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, method",
    [
        ("settlement:statement-detail", "get"),
        ("settlement:statement-csv", "get"),
        ("settlement:statement-xlsx", "get"),
        ("settlement:statement-pay", "post"),
        ("settlement:statement-reissue", "post"),
        ("settlement:statement-reconcile", "post"),
    ],
)
def test_another_shops_statement_is_a_404_and_nothing_changes(client, statement, other_merchant, name, method):
    client.force_login(other_merchant)
    before = snapshot()
    url = reverse(name, kwargs={"pk": statement.pk})
    response = (
        client.post(url, {"reference": "X", "amount": "5.50", "note": "x"}) if method == "post" else client.get(url)
    )
    assert response.status_code == 404
    assert snapshot() == before


def test_another_shops_reconciliation_is_a_404(client, merchant, statement, other_merchant):
    record = Reconciliation.objects.create(statement=statement, uploaded_by=merchant, file_name="a.csv")
    client.force_login(other_merchant)
    assert client.get(reverse("settlement:reconciliation-detail", kwargs={"pk": record.pk})).status_code == 404
    assert client.get(reverse("settlement:reconciliation-csv", kwargs={"pk": record.pk})).status_code == 404


# --- outlet portal ---------------------------------------------------------------------------------


def test_the_outlet_lists_its_issued_statements_only(
    outlet_client, shop, other_shop, statement, yto_outlet, other_outlet
):
    make_charge(shop, other_outlet, when=at("2026-09-03 10:00"))
    issued_statement(shop, other_outlet, fees=(), month=date(2026, 9, 1))  # another outlet's
    statement_in(ST.OPEN, other_shop, yto_outlet)  # October, still open: the merchant's draft

    response = outlet_client.get(reverse("outlet:statements"))
    assert [row.record.pk for row in response.context["table"].rows] == [statement.pk]
    assert [s.code for s in response.context["filter"].form.fields["shop"].queryset] == ["demo-shop"]
    assert 'id="nav-statements"' in response.content.decode()


@pytest.mark.parametrize("status", [ST.OPEN, None])
def test_an_open_or_another_outlets_statement_is_a_404_in_the_portal(
    outlet_client, shop, yto_outlet, other_outlet, status
):
    statement = statement_in(ST.OPEN, shop, yto_outlet) if status else issued_statement(shop, other_outlet)
    before = snapshot()
    for name in ("outlet:statement-detail", "outlet:statement-csv", "outlet:statement-xlsx"):
        assert outlet_client.get(reverse(name, kwargs={"pk": statement.pk})).status_code == 404
    for name in ("outlet:statement-confirm", "outlet:statement-dispute"):
        assert outlet_client.post(reverse(name, kwargs={"pk": statement.pk}), {"note": "x"}).status_code == 404
    assert snapshot() == before


def test_the_outlet_confirms_an_issued_statement(outlet_client, statement, outlet_user):
    page = outlet_client.get(reverse("outlet:statement-detail", kwargs={"pk": statement.pk})).content.decode()
    assert 'id="confirm-submit"' in page and 'id="dispute-submit"' in page and "YT200" in page
    response = outlet_client.post(
        reverse("outlet:statement-confirm", kwargs={"pk": statement.pk}), {"note": "对账无误"}, follow=True
    )
    assert messages_of(response) == ["Confirmed: the shop can now settle the statement."]
    statement.refresh_from_db()
    assert statement.status == ST.CONFIRMED
    assert statement.logs.last().user == outlet_user
    assert 'id="confirm-submit"' not in response.content.decode()


def test_the_outlet_disputes_with_a_note(outlet_client, statement):
    url = reverse("outlet:statement-dispute", kwargs={"pk": statement.pk})
    response = outlet_client.post(url, {"note": "YT200 was never intercepted"}, follow=True)
    assert messages_of(response) == ["Disputed: the shop sees your note."]
    statement.refresh_from_db()
    assert (statement.status, statement.dispute_note) == (ST.DISPUTED, "YT200 was never intercepted")


def test_a_dispute_without_a_note_gets_a_message_and_nothing_changes(outlet_client, statement):
    before = snapshot()
    response = outlet_client.post(reverse("outlet:statement-dispute", kwargs={"pk": statement.pk}), {}, follow=True)
    assert messages_of(response) == ["Nothing was done: What is wrong: Say what is wrong with the statement."]
    assert snapshot() == before


def test_answering_twice_is_refused_and_nothing_changes(outlet_client, statement):
    outlet_client.post(reverse("outlet:statement-confirm", kwargs={"pk": statement.pk}), follow=True)
    before = snapshot()
    response = outlet_client.post(
        reverse("outlet:statement-dispute", kwargs={"pk": statement.pk}), {"note": "changed my mind"}, follow=True
    )
    assert messages_of(response) == [
        "A statement that is confirmed by the outlet cannot become disputed by the outlet."
    ]
    assert snapshot() == before


# --- admin -----------------------------------------------------------------------------------------


@pytest.fixture
def operator_client(client, db):
    client.force_login(make_operator("operator"))
    return client


def test_every_settlement_changelist_and_the_statement_page_open_for_operators(operator_client, statement):
    for model in ("statement", "statementline", "statementlog", "reconciliation", "reconciliationrow"):
        assert operator_client.get(reverse(f"admin:settlement_{model}_changelist")).status_code == 200
    for model in ("claim", "claimlog", "claimevidence"):
        assert operator_client.get(reverse(f"admin:settlement_{model}_changelist")).status_code == 200
    page = operator_client.get(reverse("admin:settlement_statement_change", args=[statement.pk])).content.decode()
    assert "5.50" in page
    assert (
        reverse("admin:settlement_statement_payable")
        in operator_client.get(reverse("admin:settlement_statement_changelist")).content.decode()
    )


def test_operators_cannot_add_or_delete_statements(operator_client, statement):
    assert operator_client.get(reverse("admin:settlement_statement_add")).status_code == 403
    assert operator_client.get(reverse("admin:settlement_statement_delete", args=[statement.pk])).status_code == 403


def test_the_issue_action_closes_a_past_months_open_statement(operator_client, shop, yto_outlet):
    statement = statement_in(ST.OPEN, shop, yto_outlet)
    response = operator_client.post(
        reverse("admin:settlement_statement_changelist"),
        {"action": "issue_statements", "_selected_action": [statement.pk]},
        follow=True,
    )
    statement.refresh_from_db()
    assert statement.status == ST.ISSUED
    assert "1 statement(s) issued." in response.content.decode()
    operator_client.post(
        reverse("admin:settlement_statement_changelist"),
        {"action": "issue_statements", "_selected_action": [statement.pk]},
    )
    assert statement.logs.count() == 2  # the second time was refused
