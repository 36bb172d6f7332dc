"""Tables of the interception pages, and the columns of the service-order exports (merchant and outlet)."""

from datetime import datetime
from decimal import Decimal

import django_tables2 as tables
from django.db.models import CharField, QuerySet, Value
from django.db.models.functions import Cast, Concat, LPad
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shop import export_columns, permissions, streaming
from shop.export_columns import ExportColumn
from shop.localtime import local_format

from .extensions import links_for
from .models import Partnership, ServiceOrder


def status_badge(record, prefix: str) -> str:
    return format_html('<span class="badge badge-{}-{}">{}</span>', prefix, record.status, record.get_status_display())


class ServiceOrderTable(tables.Table):
    """The merchant's service-order query (服务单查询)."""

    lazy_pager = True  # paginated by LazyPaginator: no COUNT(*) of the shop's service orders
    number = tables.Column(verbose_name=gettext_lazy("Service order"), accessor="pk", order_by=("id",))
    after_sale = tables.Column(verbose_name=gettext_lazy("After-sale"), accessor="after_sale__after_sale_no")
    tracking = tables.Column(verbose_name=gettext_lazy("Tracking no."), accessor="parcel__tracking_no", orderable=False)
    courier = tables.Column(verbose_name=gettext_lazy("Courier"), accessor="courier__name", orderable=False)
    outlet = tables.Column(verbose_name=gettext_lazy("Outlet"), accessor="outlet__code", orderable=False)
    mode = tables.Column(verbose_name=gettext_lazy("Settlement"))
    fee = tables.Column(verbose_name=gettext_lazy("Fee (yuan)"), attrs={"td": {"class": "num"}})
    via = tables.Column(verbose_name=gettext_lazy("Launched via"))
    status = tables.Column(verbose_name=gettext_lazy("Status"))
    # The id breaks ties, so that pages neither repeat nor skip a row; (created_at, id) is the shop's index.
    created_at = tables.Column(verbose_name=gettext_lazy("Launched at"), order_by=("created_at", "id"))
    actions = tables.Column(verbose_name="", empty_values=(), orderable=False)

    class Meta:
        model = ServiceOrder
        fields = (
            "number",
            "after_sale",
            "tracking",
            "courier",
            "outlet",
            "mode",
            "fee",
            "via",
            "status",
            "created_at",
            "actions",
        )
        order_by = ("-created_at",)

    def render_number(self, record):
        return record.number

    def render_after_sale(self, record):
        url = reverse("aftersales:after-sale-detail", kwargs={"after_sale_no": record.after_sale.after_sale_no})
        return format_html('<a href="{}">{}</a>', url, record.after_sale.after_sale_no)

    def render_fee(self, record):
        # Only what the fee ledger charges: a failed or pending interception cost nothing (yet).
        fee = record.charged_fee
        return "—" if fee is None else f"{fee:.2f}"

    def render_status(self, record):
        reason = record.failure_reason or record.get_return_failure_display() if record.return_failure else ""
        return format_html(
            '<span class="badge badge-so-{}" title="{}">{}</span>',
            record.status,
            record.failure_reason or reason,
            record.get_status_display(),
        )

    def render_created_at(self, value):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")

    def render_actions(self, record):
        # What higher layers add (settlement: a succeeded interception whose parcel never came back may
        # be complained about), through the registry: interception names none of their URLs.
        viewer = getattr(getattr(self, "request", None), "user", None)
        parts = []
        for link in links_for(record):
            refused = permissions.blocker(viewer, link.needs) if viewer is not None else None
            if refused:  # the viewer lacks the set the linked page needs: say so on hover
                parts.append(
                    format_html(
                        '<span class="badge disabled" aria-disabled="true" title="{}" data-{}-for="{}">{}</span>',
                        refused,
                        link.key,
                        record.pk,
                        link.label,
                    )
                )
            else:
                parts.append(
                    format_html(
                        '<a class="badge {}" href="{}" data-{}-for="{}">{}</a>',
                        link.css_class,
                        link.url,
                        link.key,
                        record.pk,
                        link.label,
                    )
                )
        return format_html_join(" ", "{}", ((part,) for part in parts))


# The merchant's exports of the service-order query, one row per service order: the one description
# of its headers and cells (shop.export_columns), for the Python writers and a COPY path alike.
# Codes read as their labels; the fee only where it was charged, as the fee ledger has it.
SERVICE_ORDER_EXPORT_COLUMNS = [
    ExportColumn(gettext_lazy("Service order"), "number", annotation=lambda: service_order_number_expression()),
    ExportColumn(gettext_lazy("After-sale"), "after_sale__after_sale_no"),
    ExportColumn(gettext_lazy("Order no."), "after_sale__order__order_no"),
    ExportColumn(gettext_lazy("Tracking no."), "parcel__tracking_no"),
    ExportColumn(gettext_lazy("Courier"), "courier__name"),
    ExportColumn(gettext_lazy("Outlet"), "outlet__code"),
    ExportColumn(gettext_lazy("Settlement"), "mode", labels=ServiceOrder.Mode.choices),
    ExportColumn(gettext_lazy("Fee (yuan)"), "charged_fee", annotation=ServiceOrder.charged_fee_expression),
    ExportColumn(gettext_lazy("Launched via"), "via", labels=ServiceOrder.Via.choices),
    ExportColumn(gettext_lazy("Status"), "status", labels=ServiceOrder.Status.choices),
    ExportColumn(gettext_lazy("Failure reason"), "failure_reason"),
    ExportColumn(gettext_lazy("Return failure"), "return_failure", labels=ServiceOrder.ReturnFailure.choices),
    ExportColumn(gettext_lazy("Launched at"), "created_at"),
    ExportColumn(gettext_lazy("Succeeded at"), "succeeded_at"),
]


def service_order_number_expression():
    """ "SO" and the id on 8 digits (ServiceOrder.number), computed by the database."""
    return Concat(Value("SO"), LPad(Cast("pk", CharField()), 8, Value("0")), output_field=CharField())


def service_order_export_header() -> list:
    return export_columns.header(SERVICE_ORDER_EXPORT_COLUMNS)


def _cell(value):
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def service_order_export_rows(queryset: QuerySet[ServiceOrder]):
    """The rows of the merchant's exports, read in chunks: memory stays flat whatever the count."""
    values = export_columns.values_queryset(queryset, SERVICE_ORDER_EXPORT_COLUMNS)
    for row in streaming.read_all(values, chunk_size=2000):
        yield [_cell(v) for v in row]


class PartnershipTable(tables.Table):
    """The merchant's partnerships."""

    id = tables.Column(
        verbose_name=gettext_lazy("Partnership"),
        linkify=lambda record: reverse("interception:partnership-detail", kwargs={"pk": record.pk}),
    )
    status = tables.Column(verbose_name=gettext_lazy("Status"))
    courier = tables.Column(
        verbose_name=gettext_lazy("Courier"), accessor="outlet__courier__name", order_by=("outlet__courier__code",)
    )
    outlet = tables.Column(verbose_name=gettext_lazy("Outlet"), order_by=("outlet__code",))
    fee = tables.Column(verbose_name=gettext_lazy("Fee per parcel (yuan)"), attrs={"td": {"class": "num"}})
    created_at = tables.Column(verbose_name=gettext_lazy("Applied at"))
    effective_at = tables.Column(verbose_name=gettext_lazy("Effective at"))
    outlet_note = tables.Column(verbose_name=gettext_lazy("Outlet's note"), orderable=False)

    class Meta:
        model = Partnership
        fields = ("id", "status", "courier", "outlet", "fee", "created_at", "effective_at", "outlet_note")
        order_by = ("-created_at",)
        attrs = {"class": "table", "id": "partnerships"}
        row_attrs = {"data-partnership": lambda record: record.pk, "data-status": lambda record: record.status}

    def render_id(self, value):
        return f"#{value}"

    def render_status(self, record):
        return status_badge(record, "pship")

    def render_outlet(self, value):
        return f"{value.code} {value.name}"

    def render_fee(self, value):
        return f"{value:,.2f}"

    def render_created_at(self, value):
        return local_format(value)

    def render_effective_at(self, value):
        return local_format(value)


class OutletServiceOrderTable(tables.Table):
    """The outlet's interception service orders."""

    id = tables.Column(verbose_name=gettext_lazy("Service order"))
    shop = tables.Column(verbose_name=gettext_lazy("Shop"), accessor="shop__name", order_by=("shop__name",))
    tracking_no = tables.Column(
        verbose_name=gettext_lazy("Tracking no."), accessor="parcel__tracking_no", order_by=("parcel__tracking_no",)
    )
    courier = tables.Column(verbose_name=gettext_lazy("Courier"), accessor="courier__name", order_by=("courier__code",))
    mode = tables.Column(verbose_name=gettext_lazy("Settlement mode"))
    fee = tables.Column(verbose_name=gettext_lazy("Fee (yuan)"), attrs={"td": {"class": "num"}})
    status = tables.Column(verbose_name=gettext_lazy("Status"))
    created_at = tables.Column(verbose_name=gettext_lazy("Launched at"))
    succeeded_at = tables.Column(verbose_name=gettext_lazy("Succeeded at"))
    failure_reason = tables.Column(verbose_name=gettext_lazy("Failure reason"), orderable=False)

    class Meta:
        model = ServiceOrder
        fields = (
            "id",
            "shop",
            "tracking_no",
            "courier",
            "mode",
            "fee",
            "status",
            "created_at",
            "succeeded_at",
            "failure_reason",
        )
        order_by = ("-created_at",)
        attrs = {"class": "table", "id": "service-orders"}

    def render_id(self, record):
        return record.number

    def render_mode(self, record):
        return record.get_mode_display()

    def render_status(self, record):
        return status_badge(record, "so")

    def render_fee(self, record):
        fee = record.charged_fee  # what the merchant owes for it: nothing for a failure
        return "—" if fee is None else f"{fee:,.2f}"

    def render_created_at(self, value):
        return local_format(value)

    def render_succeeded_at(self, value):
        return local_format(value)


class ServiceOrderCsv:
    """What reconciliation needs, one row per service order; times in Asia/Shanghai."""

    def header(self) -> list[str]:
        return [
            _("Service order"),
            _("Shop"),
            _("Tracking no."),
            _("Courier"),
            _("Settlement mode"),
            _("Fee (yuan)"),
            _("Status"),
            _("Launched at"),
            _("Succeeded at"),
            _("Failure reason"),
        ]

    def row(self, order: ServiceOrder) -> list[str]:
        return [
            order.number,
            order.shop.name,
            order.parcel.tracking_no,
            order.courier.name,
            order.get_mode_display(),
            "" if order.charged_fee is None else f"{order.charged_fee:.2f}",
            order.get_status_display(),
            local_format(order.created_at, "%Y-%m-%d %H:%M:%S"),
            local_format(order.succeeded_at, "%Y-%m-%d %H:%M:%S"),
            order.failure_reason,
        ]
