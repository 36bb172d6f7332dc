"""Tables of the claim pages: the merchant's and the outlet's claims, and the claim-window tracker."""

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import rules
from .models import Claim


class ClaimTable(tables.Table):
    number = tables.Column(verbose_name=gettext_lazy("Claim"), accessor="pk", order_by=("id",))
    service_order = tables.Column(
        verbose_name=gettext_lazy("Service order"), accessor="service_order__pk", orderable=False
    )
    tracking = tables.Column(
        verbose_name=gettext_lazy("Tracking no."), accessor="service_order__parcel__tracking_no", orderable=False
    )
    outlet = tables.Column(verbose_name=gettext_lazy("Outlet"), accessor="outlet__code", orderable=False)
    reason = tables.Column(verbose_name=gettext_lazy("What happened"))
    amount = tables.Column(verbose_name=gettext_lazy("Claimed (yuan)"), attrs={"td": {"class": "num"}})
    settled = tables.Column(
        verbose_name=gettext_lazy("Accepted / paid (yuan)"),
        empty_values=(),
        orderable=False,
        attrs={"td": {"class": "num"}},
    )
    status = tables.Column(verbose_name=gettext_lazy("Status"))
    filed_at = tables.Column(verbose_name=gettext_lazy("Filed at"))

    detail_url_name = "settlement:claim-detail"

    class Meta:
        model = Claim
        fields = ("number", "service_order", "tracking", "outlet", "reason", "amount", "settled", "status", "filed_at")
        order_by = ("-filed_at",)

    def render_number(self, record):
        url = reverse(self.detail_url_name, kwargs={"pk": record.pk})
        return format_html('<a href="{}" data-claim="{}">#{}</a>', url, record.pk, record.pk)

    def render_service_order(self, record):
        return record.service_order.number

    def render_amount(self, value):
        return f"{value:.2f}"

    def render_settled(self, record):
        accepted = f"{record.accepted_amount:.2f}" if record.accepted_amount is not None else "—"
        paid = f"{record.compensated_amount:.2f}" if record.compensated_amount is not None else "—"
        return f"{accepted} / {paid}"

    def render_status(self, record):
        return format_html('<span class="badge badge-claim-{}">{}</span>', record.status, record.get_status_display())

    def render_filed_at(self, value):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


class OutletClaimTable(ClaimTable):
    shop = tables.Column(verbose_name=gettext_lazy("Shop"), accessor="shop__name", orderable=False)
    detail_url_name = "outlet:claim-detail"

    class Meta(ClaimTable.Meta):
        fields = ("number", "shop", "service_order", "tracking", "reason", "amount", "settled", "status", "filed_at")
        exclude = ("outlet",)  # always this outlet


class TrackerTable(tables.Table):
    number = tables.Column(verbose_name=gettext_lazy("Service order"), accessor="pk", orderable=False)
    tracking = tables.Column(verbose_name=gettext_lazy("Tracking no."), accessor="parcel__tracking_no", orderable=False)
    outlet = tables.Column(verbose_name=gettext_lazy("Outlet"), accessor="outlet__code", orderable=False)
    status = tables.Column(verbose_name=gettext_lazy("Status"), orderable=False)
    goods_value = tables.Column(
        verbose_name=gettext_lazy("Goods' value (yuan)"),
        accessor="after_sale__line__paid_amount",
        orderable=False,
        attrs={"td": {"class": "num"}},
    )
    succeeded_at = tables.Column(verbose_name=gettext_lazy("Intercepted at"), orderable=False)
    opens = tables.Column(verbose_name=gettext_lazy("Window opens"), empty_values=(), orderable=False)
    closes = tables.Column(verbose_name=gettext_lazy("Window closes"), empty_values=(), orderable=False)
    action = tables.Column(verbose_name="", empty_values=(), orderable=False)

    class Meta:
        fields = ("number", "tracking", "outlet", "status", "goods_value", "succeeded_at", "opens", "closes", "action")
        row_attrs = {"data-service-order": lambda record: record.pk}

    def __init__(self, *args, now, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now

    def _window(self, record):
        if not hasattr(record, "_window"):
            record._window = rules.window_facts(record, self.now)
        return record._window

    def render_number(self, record):
        return record.number

    def render_status(self, record):
        label = record.get_status_display()
        if record.return_failure:
            label = f"{label} ({record.get_return_failure_display()})"
        return format_html('<span class="badge badge-so-{}">{}</span>', record.status, label)

    def render_goods_value(self, value):
        return f"{value:.2f}"

    def render_succeeded_at(self, value):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")

    def render_opens(self, record):
        window = self._window(record)
        when = rules.format_moment(window["opens_at"])
        if window["not_open_yet"]:
            days = _("in %(n)s days") % {"n": window["opens_in"]} if window["opens_in"] else _("today")
            return format_html(
                '{}<br><span class="countdown soon" data-opens-in="{}">{}</span>', when, window["opens_in"], days
            )
        return format_html('{}<br><span class="muted small">{}</span>', when, _("open"))

    def render_closes(self, record):
        window = self._window(record)
        day = rules.format_day(window["closes_at"])
        if window["closed"]:
            return format_html(
                '{}<br><span class="countdown overdue" data-closes-in="{}">{}</span>',
                day,
                window["closes_in"],
                _("closed"),
            )
        left = window["closes_in"]
        text = _("last day today") if left == 0 else _("%(n)s days left") % {"n": left}
        css = "countdown soon" if left <= 3 else "countdown"
        return format_html('{}<br><span class="{}" data-closes-in="{}">{}</span>', day, css, left, text)

    def render_action(self, record):
        window = self._window(record)
        url = reverse("settlement:claim-new", kwargs={"service_order_pk": record.pk})
        if window["is_open"]:
            return format_html(
                '<a class="btn primary" href="{}" id="file-claim-{}">{}</a>', url, record.pk, _("File a claim")
            )
        return format_html('<a href="{}">{}</a>', url, _("Details"))
