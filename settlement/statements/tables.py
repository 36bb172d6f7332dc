"""Tables of the statement pages: the merchant's and the outlet's statements, a statement's lines,
and a reconciliation's rows."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy

from shop.localtime import local_format

from .models import ReconciliationRow, Statement, StatementLine


def statement_badge(status: str, label) -> str:
    return format_html('<span class="badge badge-stmt-{}">{}</span>', status, label)


class StatementTable(tables.Table):
    """The merchant's statements (the outlet's table drops the outlet and adds the shop)."""

    month = tables.Column(verbose_name=gettext_lazy("Month"))
    outlet = tables.Column(verbose_name=gettext_lazy("Outlet"), order_by=("outlet__code",))
    line_count = tables.Column(verbose_name=gettext_lazy("Interceptions"), attrs={"td": {"class": "num"}})
    total = tables.Column(verbose_name=gettext_lazy("Total (yuan)"), attrs={"td": {"class": "num"}})
    status = tables.Column(verbose_name=gettext_lazy("Status"))
    issued_at = tables.Column(verbose_name=gettext_lazy("Issued at"))
    detail_url_name = "settlement:statement-detail"

    class Meta:
        model = Statement
        fields = ("month", "outlet", "line_count", "total", "status", "issued_at")
        order_by = ("-month",)
        attrs = {"class": "table", "id": "statements"}
        row_attrs = {"data-statement": lambda record: record.pk, "data-status": lambda record: record.status}

    def render_month(self, record):
        url = reverse(self.detail_url_name, kwargs={"pk": record.pk})
        return format_html('<a href="{}">{}</a>', url, f"{record.month:%Y-%m}")

    def render_outlet(self, value):
        return f"{value.code} {value.name}"

    def render_total(self, value):
        return f"{value:,.2f}"

    def render_status(self, record):
        return statement_badge(record.status, record.get_status_display())

    def render_issued_at(self, value):
        return local_format(value)


class StatementLineTable(tables.Table):
    service_order = tables.Column(verbose_name=gettext_lazy("Service order"), orderable=False)
    tracking_no = tables.Column(verbose_name=gettext_lazy("Tracking no."), orderable=False)
    succeeded_at = tables.Column(verbose_name=gettext_lazy("Intercepted at"), orderable=False)
    amount = tables.Column(verbose_name=gettext_lazy("Fee (yuan)"), attrs={"td": {"class": "num"}}, orderable=False)

    class Meta:
        model = StatementLine
        fields = ("service_order", "tracking_no", "succeeded_at", "amount")
        attrs = {"class": "table", "id": "statement-lines"}

    def render_service_order(self, record):
        return f"SO{record.service_order_id:08d}"

    def render_succeeded_at(self, value):
        return local_format(value)

    def render_amount(self, value):
        return f"{value:,.2f}"


class OutletStatementTable(StatementTable):
    shop = tables.Column(verbose_name=gettext_lazy("Shop"), accessor="shop__name", order_by=("shop__name",))
    answered_at = tables.Column(verbose_name=gettext_lazy("Answered at"))
    detail_url_name = "outlet:statement-detail"

    class Meta(StatementTable.Meta):
        fields = ("month", "shop", "line_count", "total", "status", "issued_at", "answered_at")
        exclude = ("outlet",)
        sequence = ("month", "shop", "line_count", "total", "status", "issued_at", "answered_at")

    def render_answered_at(self, value):
        return self.render_issued_at(value)


class ReconciliationRowTable(tables.Table):
    kind = tables.Column(verbose_name=gettext_lazy("Result"), orderable=False)
    tracking_no = tables.Column(verbose_name=gettext_lazy("Tracking no."), orderable=False)
    bill_line = tables.Column(verbose_name=gettext_lazy("Bill line"), orderable=False)
    billed_fee = tables.Column(verbose_name=gettext_lazy("Billed fee"), attrs={"td": {"class": "num"}}, orderable=False)
    our_fee = tables.Column(verbose_name=gettext_lazy("Our fee"), attrs={"td": {"class": "num"}}, orderable=False)

    class Meta:
        model = ReconciliationRow
        fields = ("kind", "tracking_no", "bill_line", "billed_fee", "our_fee")
        attrs = {"class": "table", "id": "reconciliation-rows"}
        row_attrs = {"data-kind": lambda record: record.kind}

    def render_kind(self, record):
        return format_html('<span class="badge badge-recon-{}">{}</span>', record.kind, record.get_kind_display())

    def render_billed_fee(self, value):
        return f"{value:,.2f}"

    def render_our_fee(self, value):
        return f"{value:,.2f}"
