"""Tables of the interception pages, and the columns of the outlet's reconciliation CSV."""

from datetime import datetime
from zoneinfo import ZoneInfo

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import Partnership, ServiceOrder

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An aware datetime as Asia/Shanghai wall-clock text ("" for None), whatever the active time zone."""
    return timezone.localtime(value, SHANGHAI).strftime(fmt) if value else ""


def status_badge(record, prefix: str) -> str:
    return format_html('<span class="badge badge-{}-{}">{}</span>', prefix, record.status, record.get_status_display())


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
        return shanghai(value)

    def render_effective_at(self, value):
        return shanghai(value)


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

    def render_fee(self, value):
        return f"{value:,.2f}"

    def render_created_at(self, value):
        return shanghai(value)

    def render_succeeded_at(self, value):
        return shanghai(value)


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
            f"{order.fee:.2f}",
            order.get_status_display(),
            shanghai(order.created_at, "%Y-%m-%d %H:%M:%S"),
            shanghai(order.succeeded_at, "%Y-%m-%d %H:%M:%S"),
            order.failure_reason,
        ]
