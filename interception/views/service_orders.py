"""The merchant's service-order query (服务单查询) with its exports, and the assistant rule settings."""

from datetime import datetime, time, timedelta

import django_filters
import django_tables2 as tables
from django import forms
from django.contrib import messages
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views import View
from django_filters.views import FilterView
from django_tables2.paginators import LazyPaginator

from shop import streaming
from shop.access import MerchantRequiredMixin
from shop.models import Courier, Outlet
from shop.pagination import PagedTableMixin

from .. import assistant
from ..models import ServiceOrder

EXPORT_COLUMNS = [
    (_lazy("Service order"), "pk"),
    (_lazy("After-sale"), "after_sale__after_sale_no"),
    (_lazy("Order"), "after_sale__order__order_no"),
    (_lazy("Tracking no."), "parcel__tracking_no"),
    (_lazy("Courier"), "courier__code"),
    (_lazy("Outlet"), "outlet__code"),
    (_lazy("Settlement"), "mode"),
    (_lazy("Fee (yuan)"), "fee"),
    (_lazy("Launched via"), "via"),
    (_lazy("Status"), "status"),
    (_lazy("Failure reason"), "failure_reason"),
    (_lazy("Return failure"), "return_failure"),
    (_lazy("Launched at"), "created_at"),
    (_lazy("Succeeded at"), "succeeded_at"),
]


def service_orders_for_shop(*, shop):
    """The shop's service orders with what a row of the list shows joined in (no per-row queries)."""
    return ServiceOrder.objects.filter(shop=shop).select_related("after_sale", "parcel", "courier", "outlet")


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class ServiceOrderFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_lazy("Tracking or after-sale no."),
        method="filter_search",
        widget=forms.TextInput(attrs={"placeholder": _lazy("Tracking or after-sale no.")}),
    )
    mode = django_filters.ChoiceFilter(label=_lazy("Settlement"), choices=ServiceOrder.Mode.choices)
    courier = django_filters.ModelChoiceFilter(
        label=_lazy("Courier"), queryset=Courier.objects.all(), to_field_name="code", field_name="courier"
    )
    outlet = django_filters.ModelChoiceFilter(
        label=_lazy("Outlet"), queryset=Outlet.objects.all(), to_field_name="code", field_name="outlet"
    )
    status = django_filters.ChoiceFilter(label=_lazy("Status"), choices=ServiceOrder.Status.choices)
    via = django_filters.ChoiceFilter(label=_lazy("Launched via"), choices=ServiceOrder.Via.choices)
    launched_from = django_filters.DateFilter(
        label=_lazy("Launched from"), method="filter_from", widget=forms.DateInput(attrs={"type": "date"})
    )
    launched_to = django_filters.DateFilter(
        label=_lazy("Launched to"), method="filter_to", widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = ServiceOrder
        fields = ["q", "mode", "courier", "outlet", "status", "via", "launched_from", "launched_to"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        # A union of two index lookups: an OR across the joins would read every parcel and after-sale.
        by_tracking_no = ServiceOrder.objects.filter(parcel__tracking_no=value).order_by().values("pk")
        by_after_sale_no = ServiceOrder.objects.filter(after_sale__after_sale_no=value).order_by().values("pk")
        return queryset.filter(pk__in=by_tracking_no.union(by_after_sale_no))

    def filter_from(self, queryset, name, value):
        return queryset.filter(created_at__gte=_day_start(value))

    def filter_to(self, queryset, name, value):
        return queryset.filter(created_at__lt=_day_start(value + timedelta(days=1)))


class ServiceOrderTable(tables.Table):
    lazy_pager = True  # paginated by LazyPaginator: no COUNT(*) of the shop's service orders
    number = tables.Column(verbose_name=_lazy("Service order"), accessor="pk", order_by=("id",))
    after_sale = tables.Column(verbose_name=_lazy("After-sale"), accessor="after_sale__after_sale_no")
    tracking = tables.Column(verbose_name=_lazy("Tracking no."), accessor="parcel__tracking_no", orderable=False)
    courier = tables.Column(verbose_name=_lazy("Courier"), accessor="courier__name", orderable=False)
    outlet = tables.Column(verbose_name=_lazy("Outlet"), accessor="outlet__code", orderable=False)
    mode = tables.Column(verbose_name=_lazy("Settlement"))
    fee = tables.Column(verbose_name=_lazy("Fee (yuan)"), attrs={"td": {"class": "num"}})
    via = tables.Column(verbose_name=_lazy("Launched via"))
    status = tables.Column(verbose_name=_lazy("Status"))
    # The id breaks ties, so that pages neither repeat nor skip a row; (created_at, id) is the shop's index.
    created_at = tables.Column(verbose_name=_lazy("Launched at"), order_by=("created_at", "id"))
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

    def render_fee(self, value):
        return f"{value:.2f}"

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
        # A succeeded interception whose parcel never came back: the merchant may complain (claims).
        if record.status in (
            ServiceOrder.Status.SUCCEEDED,
            ServiceOrder.Status.RETURNING,
            ServiceOrder.Status.RETURN_FAILED,
        ):
            # Settlement's claim form, by URL name only: interception never imports settlement.
            url = reverse("settlement:claim-new", kwargs={"service_order_pk": record.pk})
            return format_html(
                '<a class="badge badge-complain" href="{}" data-claim-for="{}">{}</a>',
                url,
                record.pk,
                _("not back yet: may complain"),
            )
        return ""


class ServiceOrderListView(MerchantRequiredMixin, PagedTableMixin, FilterView):
    table_class = ServiceOrderTable
    filterset_class = ServiceOrderFilter
    template_name = "interception/service_order_list.html"
    table_pagination = {"per_page": 50, "paginator_class": LazyPaginator}

    def get_queryset(self):
        return service_orders_for_shop(shop=self.shop).order_by("-created_at", "-id")


def _filtered(view, request):
    filterset = ServiceOrderFilter(request.GET, queryset=service_orders_for_shop(shop=view.shop))
    return filterset.qs.order_by("-created_at", "-id") if filterset.is_valid() else filterset.queryset.none()


def _cell(value):
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    if value is None:
        return ""
    return str(value)


def _rows(queryset):
    fields = [field for _label, field in EXPORT_COLUMNS]
    for row in streaming.read_all(queryset.values_list(*fields), chunk_size=2000):
        values = [_cell(v) for v in row]
        values[0] = f"SO{int(values[0]):08d}"
        yield values


class ServiceOrderCsvView(MerchantRequiredMixin, View):
    """Exactly the filtered rows, streamed: memory stays flat whatever the count."""

    def get(self, request):
        header = [label for label, _field in EXPORT_COLUMNS]
        return streaming.csv_response(
            filename="service-orders.csv", header=header, rows=_rows(_filtered(self, request))
        )


class ServiceOrderXlsxView(MerchantRequiredMixin, View):
    """XLSX of exactly the filtered rows, written row by row to a temporary file (shop.streaming)."""

    def get(self, request):
        import tempfile

        header = [label for label, _field in EXPORT_COLUMNS]
        handle = tempfile.TemporaryFile()
        streaming.write_xlsx(handle, title="service orders", header=header, rows=_rows(_filtered(self, request)))
        handle.seek(0)
        return FileResponse(handle, as_attachment=True, filename="service-orders.xlsx")


class AssistantRuleForm(forms.Form):
    enabled = forms.BooleanField(label=_lazy("Intercept and refund automatically"), required=False)
    min_amount = forms.DecimalField(label=_lazy("From amount (yuan)"), min_value=0, max_digits=12, decimal_places=2)
    max_amount = forms.DecimalField(label=_lazy("Up to amount (yuan)"), min_value=0, max_digits=12, decimal_places=2)
    couriers = forms.ModelMultipleChoiceField(
        label=_lazy("Couriers (none: all)"),
        queryset=Courier.objects.filter(supports_online_interception=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def clean(self):
        data = super().clean()
        if data.get("min_amount") is not None and data.get("max_amount") is not None:
            if data["min_amount"] > data["max_amount"]:
                raise forms.ValidationError(_("The lower amount must not be above the upper amount."))
        return data


class AssistantRuleView(MerchantRequiredMixin, View):
    """售后小助手 "快递拦截自动退": the per-shop rule and a dry run over the last 30 days."""

    template_name = "interception/assistant.html"

    def get(self, request):
        rule = assistant.rule_for(self.shop)
        form = AssistantRuleForm(
            initial={
                "enabled": rule.enabled,
                "min_amount": rule.min_amount,
                "max_amount": rule.max_amount,
                "couriers": list(rule.couriers.all()),
            }
        )
        return self._render(request, rule, form)

    def post(self, request):
        rule = assistant.rule_for(self.shop)
        form = AssistantRuleForm(request.POST)
        if not form.is_valid():
            return self._render(request, rule, form)
        assistant.update_rule(rule=rule, **form.cleaned_data)
        messages.success(request, _("The assistant rule was saved."))
        return redirect("interception:assistant")

    def _render(self, request, rule, form):
        courier_ids = set(rule.couriers.values_list("pk", flat=True))
        dry_run = assistant.dry_run(rule=rule, courier_ids=courier_ids, now=timezone.now())
        return render(request, self.template_name, {"form": form, "rule": rule, "dry_run": dry_run})
