import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from .models import Order


class OrderTable(tables.Table):
    order_no = tables.Column(
        verbose_name=_("Order no."),
        linkify=lambda record: reverse("shop:order-detail", kwargs={"order_no": record.order_no}),
    )
    paid_at = tables.Column(verbose_name=_("Paid at"))
    buyer = tables.Column(verbose_name=_("Buyer"), accessor="buyer__nickname", order_by=("buyer__nickname",))
    status = tables.Column(verbose_name=_("Status"))
    line_count = tables.Column(verbose_name=_("Lines"), orderable=False, attrs={"td": {"class": "num"}})
    paid_amount = tables.Column(verbose_name=_("Paid (yuan)"), attrs={"td": {"class": "num"}})
    parcels = tables.Column(verbose_name=_("Parcels"), empty_values=(), orderable=False)

    class Meta:
        model = Order
        fields = ("order_no", "paid_at", "buyer", "status", "line_count", "paid_amount", "parcels")
        order_by = ("-paid_at",)

    def render_paid_at(self, value):
        from django.utils import timezone

        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")

    def render_status(self, record):
        return format_html('<span class="badge badge-{}">{}</span>', record.status, record.get_status_display())

    def render_paid_amount(self, value):
        return f"{value:,.2f}"

    def render_parcels(self, record):
        parcels = list(record.parcels.all())  # prefetched by the selector
        if not parcels:
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            '{} {} <span class="badge badge-{}">{}</span>',
            ((p.courier.name, p.tracking_no, p.status, p.get_status_display()) for p in parcels),
        )
