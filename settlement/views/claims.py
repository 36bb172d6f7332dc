"""Claim pages: the merchant's claims, claim form, claim detail and claim-window tracker; the outlet's
claims to answer. Each POST view is one form and one service call; a refusal becomes a message."""

import django_filters
import django_tables2 as tables
from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views import View
from django.views.generic import DetailView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from aftersales.forms import IMAGE_SIGNATURES
from shop.access import MerchantRequiredMixin, OutletStaffRequiredMixin
from shop.errors import DomainError, NotFound

from .. import claim_selectors as selectors
from .. import claims, rules
from ..forms_claims import AcceptClaimForm, ClaimForm, CompensationForm, DisputeClaimForm
from ..models import Claim

IMAGE_TYPES = {content_type for content_type, _ext, _test in IMAGE_SIGNATURES}


def _errors_message(form) -> str:
    return " ".join(
        f"{form.fields[name].label}: {' '.join(errors)}" if name in form.fields else " ".join(errors)
        for name, errors in form.errors.items()
    )


class RuleFiguresMixin:
    """The claim figures the pages explain (never literals in templates)."""

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "opens_days": rules.CLAIM_WINDOW_OPENS.days,
            "closes_days": rules.CLAIM_WINDOW_CLOSES.days,
            "cap": rules.CLAIM_CAP,
            "answer_days": rules.answer_days(),
        }


def serve_evidence(evidence) -> FileResponse:
    """An evidence image, inline only when its type was checked on upload; never from a public URL."""
    try:
        handle = evidence.image.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    if evidence.content_type in IMAGE_TYPES:
        response = FileResponse(handle, content_type=evidence.content_type)
    else:
        response = FileResponse(handle, as_attachment=True, content_type="application/octet-stream")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class ClaimFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(label=_lazy("Status"), choices=Claim.Status.choices)

    class Meta:
        model = Claim
        fields = ["status"]


class ClaimTable(tables.Table):
    number = tables.Column(verbose_name=_lazy("Claim"), accessor="pk", order_by=("id",))
    service_order = tables.Column(verbose_name=_lazy("Service order"), accessor="service_order__pk", orderable=False)
    tracking = tables.Column(
        verbose_name=_lazy("Tracking no."), accessor="service_order__parcel__tracking_no", orderable=False
    )
    outlet = tables.Column(verbose_name=_lazy("Outlet"), accessor="outlet__code", orderable=False)
    reason = tables.Column(verbose_name=_lazy("What happened"))
    amount = tables.Column(verbose_name=_lazy("Claimed (yuan)"), attrs={"td": {"class": "num"}})
    settled = tables.Column(
        verbose_name=_lazy("Accepted / paid (yuan)"), empty_values=(), orderable=False, attrs={"td": {"class": "num"}}
    )
    status = tables.Column(verbose_name=_lazy("Status"))
    filed_at = tables.Column(verbose_name=_lazy("Filed at"))

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
    shop = tables.Column(verbose_name=_lazy("Shop"), accessor="shop__name", orderable=False)
    detail_url_name = "outlet:claim-detail"

    class Meta(ClaimTable.Meta):
        fields = ("number", "shop", "service_order", "tracking", "reason", "amount", "settled", "status", "filed_at")
        exclude = ("outlet",)  # always this outlet


# --- the merchant ------------------------------------------------------------------------------------


class ClaimListView(MerchantRequiredMixin, RuleFiguresMixin, SingleTableMixin, FilterView):
    template_name = "settlement/claim_list.html"
    table_class = ClaimTable
    filterset_class = ClaimFilter
    table_pagination = {"per_page": 25}

    def get_queryset(self):
        return selectors.claims_for_shop(shop=self.shop)


def window_facts(service_order, now) -> dict:
    """The claim window of a service order as the pages show it (empty when it never succeeded)."""
    if service_order.succeeded_at is None:
        return {}
    window = rules.claim_window(service_order.succeeded_at)
    return {
        "opens_at": window.opens_at,
        "closes_at": window.closes_at,
        "opens_in": rules.days_between(now, window.opens_at),
        "closes_in": rules.days_between(now, window.closes_at),
        "is_open": window.opens_at <= now <= window.closes_at,
        "not_open_yet": now < window.opens_at,
        "closed": now > window.closes_at,
    }


class ClaimNewView(MerchantRequiredMixin, View):
    """The claim form of one service order: the window, the cap and the goods' value; disabled with the reason."""

    template_name = "settlement/claim_new.html"

    def get(self, request, service_order_pk):
        service_order = self._service_order(service_order_pk)
        form = ClaimForm(goods_value=self._goods_value(service_order), initial=self._initial(service_order))
        return self._render(request, service_order, form)

    def post(self, request, service_order_pk):
        service_order = self._service_order(service_order_pk)
        form = ClaimForm(request.POST, request.FILES, goods_value=self._goods_value(service_order))
        if form.is_valid():
            data = form.cleaned_data
            try:
                claim = claims.file_claim(
                    service_order_id=service_order.pk,
                    shop=self.shop,
                    user=request.user,
                    reason=data["reason"],
                    amount=data["amount"],
                    description=data["description"],
                    evidence=data["evidence"],
                )
            except NotFound:
                raise Http404 from None
            except DomainError as error:
                messages.error(request, error.message)
            else:
                messages.success(
                    request, _("Claim #%(pk)s was filed; the outlet is asked to answer.") % {"pk": claim.pk}
                )
                return redirect("settlement:claim-detail", pk=claim.pk)
        return self._render(request, service_order, form)

    def _service_order(self, pk):
        return get_object_or_404(selectors.service_orders_for_claims(shop=self.shop), pk=pk)

    @staticmethod
    def _goods_value(service_order):
        return service_order.after_sale.line.paid_amount

    @staticmethod
    def _initial(service_order):
        failure = service_order.return_failure
        reason = (
            Claim.Reason.DAMAGED if failure == "damaged" else Claim.Reason.LOST if failure else Claim.Reason.NOT_BACK
        )
        return {"reason": reason}

    def _render(self, request, service_order, form):
        now = timezone.now()
        live_claim = selectors.live_claim_of(service_order)
        blocker = rules.claim_blocker(now, service_order.succeeded_at, service_order.status, live_claim is not None)
        context = {
            "service_order": service_order,
            "goods_value": self._goods_value(service_order),
            "cap": rules.CLAIM_CAP,
            "window": window_facts(service_order, now),
            "blocker": blocker,
            "live_claim": live_claim,
            "form": form,
        }
        return render(request, self.template_name, context)


class ClaimDetailView(MerchantRequiredMixin, DetailView):
    template_name = "settlement/claim_detail.html"
    context_object_name = "claim"

    def get_queryset(self):
        return selectors.claim_detail_for_shop(shop=self.shop)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.object.status == Claim.Status.ACCEPTED:
            context["compensation_form"] = CompensationForm(initial={"amount": self.object.accepted_amount})
        context["window"] = window_facts(self.object.service_order, timezone.now())
        return context


class ClaimCompensateView(MerchantRequiredMixin, View):
    """POST only: the merchant records the outlet's offline payment of an accepted claim."""

    http_method_names = ["post", "options"]

    def post(self, request, pk):
        claim = get_object_or_404(selectors.claims_for_shop(shop=self.shop), pk=pk)
        form = CompensationForm(request.POST)
        if not form.is_valid():
            messages.error(request, _errors_message(form))
            return redirect("settlement:claim-detail", pk=claim.pk)
        try:
            claims.record_compensation(claim_id=claim.pk, shop=self.shop, user=request.user, **form.cleaned_data)
        except NotFound:
            raise Http404 from None
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("The payment was recorded: the claim is compensated."))
        return redirect("settlement:claim-detail", pk=claim.pk)


class ClaimEvidenceView(MerchantRequiredMixin, View):
    http_method_names = ["get", "head", "options"]

    def get(self, request, pk, evidence_pk):
        return serve_evidence(
            get_object_or_404(selectors.claim_evidence_for_shop(shop=self.shop, claim_id=pk), pk=evidence_pk)
        )


class TrackerFilter(django_filters.FilterSet):
    WINDOWS = (
        ("upcoming", _lazy("not open yet")),
        ("open", _lazy("open now")),
        ("closed", _lazy("closed")),
    )
    window = django_filters.ChoiceFilter(label=_lazy("Claim window"), choices=WINDOWS, method="filter_window")

    def filter_window(self, queryset, name, value):
        return queryset  # applied by the selector (it knows the window's bounds)


class TrackerTable(tables.Table):
    number = tables.Column(verbose_name=_lazy("Service order"), accessor="pk", orderable=False)
    tracking = tables.Column(verbose_name=_lazy("Tracking no."), accessor="parcel__tracking_no", orderable=False)
    outlet = tables.Column(verbose_name=_lazy("Outlet"), accessor="outlet__code", orderable=False)
    status = tables.Column(verbose_name=_lazy("Status"), orderable=False)
    goods_value = tables.Column(
        verbose_name=_lazy("Goods' value (yuan)"),
        accessor="after_sale__line__paid_amount",
        orderable=False,
        attrs={"td": {"class": "num"}},
    )
    succeeded_at = tables.Column(verbose_name=_lazy("Intercepted at"), orderable=False)
    opens = tables.Column(verbose_name=_lazy("Window opens"), empty_values=(), orderable=False)
    closes = tables.Column(verbose_name=_lazy("Window closes"), empty_values=(), orderable=False)
    action = tables.Column(verbose_name="", empty_values=(), orderable=False)

    class Meta:
        fields = ("number", "tracking", "outlet", "status", "goods_value", "succeeded_at", "opens", "closes", "action")
        row_attrs = {"data-service-order": lambda record: record.pk}

    def __init__(self, *args, now, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now

    def _window(self, record):
        if not hasattr(record, "_window"):
            record._window = window_facts(record, self.now)
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


class ClaimTrackerView(MerchantRequiredMixin, RuleFiguresMixin, SingleTableMixin, FilterView):
    """Intercepted parcels not back, with days until their claim window opens and closes, so none is missed."""

    template_name = "settlement/claim_tracker.html"
    table_class = TrackerTable
    filterset_class = TrackerFilter
    table_pagination = {"per_page": 50}

    def get_queryset(self):
        self.now = timezone.now()
        window = self.request.GET.get("window", "")
        window = window if window in dict(TrackerFilter.WINDOWS) else ""
        return selectors.claim_tracker_for_shop(shop=self.shop, now=self.now, window=window)

    def get_table_kwargs(self):
        return {"now": self.now}


# --- the outlet --------------------------------------------------------------------------------------


class OutletClaimListView(OutletStaffRequiredMixin, RuleFiguresMixin, SingleTableMixin, FilterView):
    template_name = "settlement/claim_outlet_list.html"
    table_class = OutletClaimTable
    filterset_class = ClaimFilter
    table_pagination = {"per_page": 25}

    def get_queryset(self):
        return selectors.claims_for_outlet(outlet=self.outlet)


class OutletClaimDetailView(OutletStaffRequiredMixin, DetailView):
    template_name = "settlement/claim_outlet_detail.html"
    context_object_name = "claim"

    def get_queryset(self):
        return selectors.claim_detail_for_outlet(outlet=self.outlet)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.object.status == Claim.Status.SUBMITTED:
            context["accept_form"] = AcceptClaimForm(initial={"amount": self.object.amount})
            context["dispute_form"] = DisputeClaimForm()
            context["answer_by"] = rules.answer_deadline(self.object.filed_at)
        return context


class OutletClaimAnswerView(OutletStaffRequiredMixin, View):
    """POST only: the outlet accepts or disputes one of its claims; another outlet's is a 404."""

    http_method_names = ["post", "options"]
    form_class: type
    service: staticmethod
    success_message = ""

    def post(self, request, pk):
        claim = get_object_or_404(selectors.claims_for_outlet(outlet=self.outlet), pk=pk)
        form = self.form_class(request.POST)
        if not form.is_valid():
            messages.error(request, _errors_message(form))
            return redirect("outlet:claim-detail", pk=claim.pk)
        try:
            self.service(claim_id=claim.pk, outlet=self.outlet, user=request.user, **form.cleaned_data)
        except NotFound:
            raise Http404 from None
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, self.success_message)
        return redirect("outlet:claim-detail", pk=claim.pk)


class OutletClaimAcceptView(OutletClaimAnswerView):
    form_class = AcceptClaimForm
    service = staticmethod(claims.outlet_accept)
    success_message = _lazy("Accepted: pay the merchant offline; the merchant records the payment.")


class OutletClaimDisputeView(OutletClaimAnswerView):
    form_class = DisputeClaimForm
    service = staticmethod(claims.outlet_dispute)
    success_message = _lazy("Disputed: the platform will arbitrate the claim.")


class OutletClaimEvidenceView(OutletStaffRequiredMixin, View):
    http_method_names = ["get", "head", "options"]

    def get(self, request, pk, evidence_pk):
        return serve_evidence(
            get_object_or_404(selectors.claim_evidence_for_outlet(outlet=self.outlet, claim_id=pk), pk=evidence_pk)
        )


__all__ = [
    "ClaimCompensateView",
    "ClaimDetailView",
    "ClaimEvidenceView",
    "ClaimListView",
    "ClaimNewView",
    "ClaimTrackerView",
    "OutletClaimAcceptView",
    "OutletClaimDetailView",
    "OutletClaimDisputeView",
    "OutletClaimEvidenceView",
    "OutletClaimListView",
]
