"""Claim pages: the merchant's claims, claim form, claim detail and claim-window tracker; the outlet's
claims to answer. Each POST view is one form and one service call; a refusal becomes a message."""

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import DetailView
from django_filters.views import FilterView

from shop.access import MerchantRequiredMixin, OutletStaffRequiredMixin
from shop.errors import DomainError, NotFound
from shop.evidence import EVIDENCE_UPLOAD, IMAGE_SIGNATURES
from shop.pagination import PagedTableMixin
from shop.permissions import PermissionSet

from . import rules, selectors, services
from .filters import ClaimFilter, TrackerFilter
from .forms import AcceptClaimForm, ClaimForm, CompensationForm, DisputeClaimForm
from .models import Claim
from .tables import ClaimTable, OutletClaimTable, TrackerTable

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


# --- the merchant ------------------------------------------------------------------------------------


class ClaimListView(MerchantRequiredMixin, RuleFiguresMixin, PagedTableMixin, FilterView):
    permission_set = PermissionSet.SETTLEMENT
    template_name = "settlement/claim_list.html"
    table_class = ClaimTable
    filterset_class = ClaimFilter
    table_pagination = {"per_page": 25}

    def get_queryset(self):
        return selectors.claims_for_shop(shop=self.shop)


class ClaimNewView(MerchantRequiredMixin, View):
    """The claim form of one service order: the window, the cap and the goods' value; disabled with the reason."""

    permission_set = PermissionSet.SETTLEMENT

    template_name = "settlement/claim_new.html"
    upload_limit = EVIDENCE_UPLOAD

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
                claim = services.file_claim(
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
            "window": rules.window_facts(service_order, now),
            "blocker": blocker,
            "live_claim": live_claim,
            "form": form,
        }
        return render(request, self.template_name, context)


class ClaimDetailView(MerchantRequiredMixin, DetailView):
    permission_set = PermissionSet.SETTLEMENT
    template_name = "settlement/claim_detail.html"
    context_object_name = "claim"

    def get_queryset(self):
        return selectors.claim_detail_for_shop(shop=self.shop)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.object.status in Claim.PAYMENT_DUE_STATUSES:
            context["compensation_form"] = CompensationForm(initial={"amount": self.object.accepted_amount})
        context["window"] = rules.window_facts(self.object.service_order, timezone.now())
        return context


class ClaimCompensateView(MerchantRequiredMixin, View):
    """POST only: the merchant records the outlet's offline payment of an accepted claim."""

    permission_set = PermissionSet.SETTLEMENT

    http_method_names = ["post", "options"]

    def post(self, request, pk):
        claim = get_object_or_404(selectors.claims_for_shop(shop=self.shop), pk=pk)
        form = CompensationForm(request.POST)
        if not form.is_valid():
            messages.error(request, _errors_message(form))
            return redirect("settlement:claim-detail", pk=claim.pk)
        try:
            services.record_compensation(claim_id=claim.pk, shop=self.shop, user=request.user, **form.cleaned_data)
        except NotFound:
            raise Http404 from None
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("The payment was recorded: the claim is compensated."))
        return redirect("settlement:claim-detail", pk=claim.pk)


class ClaimEvidenceView(MerchantRequiredMixin, View):
    permission_set = PermissionSet.SETTLEMENT
    http_method_names = ["get", "head", "options"]

    def get(self, request, pk, evidence_pk):
        return serve_evidence(
            get_object_or_404(selectors.claim_evidence_for_shop(shop=self.shop, claim_id=pk), pk=evidence_pk)
        )


class ClaimTrackerView(MerchantRequiredMixin, RuleFiguresMixin, PagedTableMixin, FilterView):
    """Intercepted parcels not back, with days until their claim window opens and closes, so none is missed."""

    permission_set = PermissionSet.SETTLEMENT

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


class OutletClaimListView(OutletStaffRequiredMixin, RuleFiguresMixin, PagedTableMixin, FilterView):
    permission_set = PermissionSet.OUTLET_SETTLEMENT
    template_name = "settlement/claim_outlet_list.html"
    table_class = OutletClaimTable
    filterset_class = ClaimFilter
    table_pagination = {"per_page": 25}

    def get_queryset(self):
        return selectors.claims_for_outlet(outlet=self.outlet)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["unpaid_reminded"] = selectors.unpaid_reminded_for_outlet(outlet=self.outlet).count()
        return context


class OutletClaimDetailView(OutletStaffRequiredMixin, DetailView):
    permission_set = PermissionSet.OUTLET_SETTLEMENT
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
        if self.object.status == Claim.Status.ACCEPTED and self.object.answered_at is not None:
            context["pay_by"] = rules.payment_escalation_at(self.object.answered_at)
        return context


class OutletClaimAnswerView(OutletStaffRequiredMixin, View):
    """POST only: the outlet accepts or disputes one of its claims; another outlet's is a 404."""

    permission_set = PermissionSet.OUTLET_SETTLEMENT

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
    service = staticmethod(services.outlet_accept)
    success_message = gettext_lazy("Accepted: pay the merchant offline; the merchant records the payment.")


class OutletClaimDisputeView(OutletClaimAnswerView):
    form_class = DisputeClaimForm
    service = staticmethod(services.outlet_dispute)
    success_message = gettext_lazy("Disputed: the platform will arbitrate the claim.")


class OutletClaimEvidenceView(OutletStaffRequiredMixin, View):
    permission_set = PermissionSet.OUTLET_SETTLEMENT
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
