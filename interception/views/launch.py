"""Launching interceptions: from the after-sale detail, the IM card, in bulk and by pasting numbers.

Every launch goes through a preview of the pre-check and the fee, then a batch page where the
results arrive live (a small script polls the batch's status; without it, reload the page).
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import DetailView

from aftersales.filters import QUICK_VIEWS, filtered_after_sales
from aftersales.selectors import after_sales_for_shop
from shop.access import MerchantRequiredMixin
from shop.errors import DomainError
from shop.permissions import PermissionSet

from .. import rules, selectors, services
from ..models import ServiceOrder

MAX_BULK = 5000  # one batch; the workbench's "all filtered" beyond this asks to narrow the filters
MAX_PASTE = 1000
BATCH_PAGE_SIZE = 50  # rows of a batch page: a batch of thousands is not one 8 000-pixel list


def _ids(values) -> list[int]:
    return sorted({int(v) for v in values if str(v).isdigit()})


def preview_context(candidates, *, preview=None) -> dict:
    """What a preview page shows: per courier and settlement mode the parcels, fees and refunds that
    success pays, the totals, the warnings (when computed: services.preview_launch) and the refused."""
    preview = preview or services.preview_of(candidates)
    return {
        "groups": preview.groups,
        "refused": preview.refused,
        "left_out": preview.left_out,
        "warnings": preview.warnings,
        "leave_out": sorted(preview.leave_out),
        "eligible_ids": [c.after_sale.pk for c in preview.kept],
        "total_fee": preview.total_fee,
        "total_refund": preview.total_refund,
        "total_count": len(preview.kept),
    }


def _leave_out(request) -> frozenset[str]:
    """The warning codes left out, from the posted form: its list, and the one button pressed (toggle)."""
    leave_out = rules.parse_leave_out(request.POST.getlist("leave_out"))
    toggle = request.POST.get("toggle", "")
    if toggle in rules.LEAVABLE_WARNING_CODES:
        leave_out = leave_out ^ {toggle}
    return leave_out


def _workbench_url(query: str) -> str:
    """The workbench with the filters the merchant came from (a query string of its own filter form)."""
    query = QueryDict(query).urlencode()  # re-encoded: only a query string, never an address
    url = reverse("aftersales:workbench")
    return f"{url}?{query}" if query else url


class InterceptView(MerchantRequiredMixin, View):
    """The interception page of one after-sale: every parcel of the order that has an open
    refund-only after-sale, with courier, goods, fee and pre-check; tick and launch.
    """

    permission_set = PermissionSet.AFTERSALES

    template_name = "interception/intercept.html"
    via = ServiceOrder.Via.DETAIL

    def get(self, request, after_sale_no):
        after_sale = get_object_or_404(after_sales_for_shop(shop=self.shop), after_sale_no=after_sale_no)
        siblings = selectors.open_refund_only_siblings(shop=self.shop, after_sale=after_sale)
        candidates = services.candidates_for(shop=self.shop, after_sale_ids=sorted({after_sale.pk, *siblings}))
        context = {"after_sale": after_sale, "candidates": candidates, "via": self.via, **preview_context(candidates)}
        return render(request, self.template_name, context)


class ImCardView(InterceptView):
    """The compact after-sale card of the IM workbench (飞鸽), with the same interception action."""

    template_name = "interception/im_card.html"
    via = ServiceOrder.Via.IM_CARD


class LaunchView(MerchantRequiredMixin, View):
    """Confirm: create a batch of service orders for the ticked after-sales and follow it."""

    permission_set = PermissionSet.AFTERSALES

    def post(self, request):
        via = request.POST.get("via", ServiceOrder.Via.DETAIL)
        if via not in ServiceOrder.Via.values:
            via = ServiceOrder.Via.DETAIL
        ids = _ids(request.POST.getlist("after_sale"))
        if not ids:
            messages.error(request, _("Tick at least one parcel to intercept."))
            back = request.POST.get("back", "")
            # Only a path of this site: a posted address must never send the merchant elsewhere.
            safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})
            return redirect(back if back and safe else "interception:home")
        # Pasted numbers that matched nothing travel from the preview to the batch in the session.
        pasted = request.session.pop("interception_skipped", [])
        skipped = pasted if via == ServiceOrder.Via.PASTE else []
        leave_out = rules.parse_leave_out(request.POST.getlist("leave_out"))
        batch = services.create_batch(
            shop=self.shop, user=request.user, via=via, after_sale_ids=ids, skipped=skipped, leave_out=leave_out
        )
        launched = batch.service_orders.count()
        messages.success(request, _("%(n)s interception(s) sent to the couriers.") % {"n": launched})
        return redirect("interception:batch", pk=batch.pk)


class BulkPreviewView(MerchantRequiredMixin, View):
    """From the workbench: the selected rows, or every row of the current filters; posted again by the
    preview's "leave these out" / "put them back" buttons, with the same rows and filters."""

    permission_set = PermissionSet.AFTERSALES

    def post(self, request):
        query = request.POST.get("query", "")
        back = _workbench_url(query)
        all_filtered = bool(request.POST.get("all_filtered"))
        if all_filtered:
            queryset = filtered_after_sales(after_sales_for_shop(shop=self.shop), QueryDict(query), now=timezone.now())
            ids = list(queryset.order_by("deadline", "pk").values_list("pk", flat=True)[: MAX_BULK + 1])
        else:
            ids = _ids(request.POST.getlist("ids"))
        if not ids:
            messages.error(request, _("Select at least one after-sale to intercept."))
            return redirect(back)
        if len(ids) > MAX_BULK:
            messages.error(request, _("More than %(n)s after-sales: narrow the filters.") % {"n": MAX_BULK})
            return redirect(back)
        preview = services.preview_launch(shop=self.shop, after_sale_ids=ids, leave_out=_leave_out(request))
        fields = [("query", query)] + ([("all_filtered", "1")] if all_filtered else [("ids", pk) for pk in ids])
        context = {
            "via": ServiceOrder.Via.BULK,
            "skipped": [],
            "back": back,
            "repost_url": reverse("interception:bulk-preview"),
            "repost_fields": fields,
            **preview_context(preview.candidates, preview=preview),
        }
        return render(request, "interception/preview.html", context)


class PasteView(MerchantRequiredMixin, View):
    """Paste tracking numbers (one per line, or separated by spaces or commas): the same preview."""

    permission_set = PermissionSet.AFTERSALES

    template_name = "interception/paste.html"

    def get(self, request):
        return render(request, self.template_name, {"text": ""})

    def post(self, request):
        text = request.POST.get("tracking_numbers", "")
        numbers = list(dict.fromkeys(n.strip() for n in text.replace(",", " ").split() if n.strip()))
        if not numbers:
            messages.error(request, _("Paste at least one tracking number."))
            return render(request, self.template_name, {"text": text})
        if len(numbers) > MAX_PASTE:
            messages.error(request, _("At most %(n)s tracking numbers at once.") % {"n": MAX_PASTE})
            return render(request, self.template_name, {"text": text})
        found = selectors.open_refund_only_by_tracking(shop=self.shop, tracking_numbers=numbers)
        skipped = [
            {"ref": number, "reason": _("no open refund-only after-sale of your shop has this tracking number")}
            for number in numbers
            if number not in found
        ]
        preview = services.preview_launch(
            shop=self.shop, after_sale_ids=list(found.values()), leave_out=_leave_out(request)
        )
        request.session["interception_skipped"] = skipped
        context = {
            "via": ServiceOrder.Via.PASTE,
            "skipped": skipped,
            "back": reverse("interception:paste"),
            "repost_url": reverse("interception:paste"),
            "repost_fields": [("tracking_numbers", text)],
            **preview_context(preview.candidates, preview=preview),
        }
        return render(request, "interception/preview.html", context)


class BatchView(MerchantRequiredMixin, DetailView):
    template_name = "interception/batch.html"
    context_object_name = "batch"

    def get_queryset(self):
        return selectors.batches_for_shop(shop=self.shop)

    paginate_by = BATCH_PAGE_SIZE

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        latest = selectors.batch_latest(batch=self.object)
        context["progress"] = selectors.batch_progress_of(batch=self.object, statuses=[s for _pk, s in latest])
        failures_only = self.request.GET.get("show") == "failed"
        if failures_only:
            latest = [(pk, status) for pk, status in latest if status == ServiceOrder.Status.FAILED]
        page = Paginator(latest, self.paginate_by).get_page(self.request.GET.get("page"))
        context["orders"] = selectors.batch_page_orders(ids=[pk for pk, _status in page.object_list])
        context["page_obj"], context["failures_only"] = page, failures_only
        about_to_time_out = next(view for view in QUICK_VIEWS if view.key == "about_to_time_out")
        context["about_to_time_out_query"] = about_to_time_out.query
        return context


class BatchStatusView(MerchantRequiredMixin, View):
    """JSON for the live progress of a batch page."""

    def get(self, request, pk):
        batch = selectors.batches_for_shop(shop=self.shop).filter(pk=pk).first()
        if batch is None:
            raise Http404
        orders = selectors.batch_service_orders(batch=batch)
        return JsonResponse(
            {
                "progress": selectors.batch_progress(batch=batch, orders=orders),
                "orders": [
                    {
                        "id": order.pk,
                        "status": order.status,
                        "status_label": str(order.get_status_display()),
                        "reason": order.failure_reason,
                        "fee": None if order.charged_fee is None else f"{order.charged_fee:.2f}",
                    }
                    for order in orders
                ],
            }
        )


class BatchRetryView(MerchantRequiredMixin, View):
    permission_set = PermissionSet.AFTERSALES

    def post(self, request, pk):
        batch = get_object_or_404(selectors.batches_for_shop(shop=self.shop), pk=pk)
        try:
            services.retry_failed(batch=batch, user=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The failed interceptions were sent again where still possible."))
        return redirect(reverse("interception:batch", kwargs={"pk": batch.pk}))
