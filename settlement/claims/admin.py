"""Platform operators' view of claims: read-only, with arbitration decided through `services.decide_arbitration`.

A "Decide arbitration…" action and a link on the claim's page open a small form (compensate with an
amount up to the claim, or reject, with a note); the form calls the same service as everything else,
so the history row is written and the rules are checked on the locked claim.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shop.admin import ReadOnlyAdminMixin
from shop.errors import DomainError, NotFound

from . import services
from .forms import ArbitrationForm
from .models import Claim, ClaimEvidence, ClaimLog


class ClaimArbitrationAdminMixin:
    claim_actions = ["decide_arbitration_action"]

    def has_arbitrate_permission(self, request) -> bool:
        """Arbitration is for platform operators who may change claims."""
        user = request.user
        return user.is_active and user.is_operator and user.has_perm("settlement.change_claim")

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "arbitration")

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return fields if "arbitration" in fields else (*fields, "arbitration")

    @staticmethod
    def decide_url(claim_id: int) -> str:
        return reverse("admin:settlement_claim_decide", args=[claim_id])

    @admin.display(description=_("arbitration"))
    def arbitration(self, obj):
        if obj is None or obj.status != Claim.Status.ARBITRATION:
            return "—"
        return format_html(
            '<a class="button" href="{}" id="decide-arbitration">{}</a>',
            self.decide_url(obj.pk),
            gettext("Decide arbitration…"),
        )

    @admin.action(description=_("Decide arbitration…"), permissions=["arbitrate"])
    def decide_arbitration_action(self, request, queryset):
        claim_ids = list(queryset.values_list("pk", flat=True)[:2])
        if len(claim_ids) != 1:
            self.message_user(request, gettext("Select exactly one claim to decide."), messages.WARNING)
            return None
        return redirect(self.decide_url(claim_ids[0]))

    def get_urls(self):
        decide = path(
            "<int:claim_id>/decide/", self.admin_site.admin_view(self.decide_view), name="settlement_claim_decide"
        )
        return [decide, *super().get_urls()]

    def decide_view(self, request, claim_id):
        if not self.has_arbitrate_permission(request):
            raise PermissionDenied
        claim = get_object_or_404(Claim.objects.select_related("shop", "outlet", "service_order__parcel"), pk=claim_id)
        form = ArbitrationForm(request.POST or None, initial={"decision": "compensate", "amount": claim.amount})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                services.decide_arbitration(
                    claim_id=claim.pk,
                    user=request.user,
                    compensate=data["decision"] == "compensate",
                    amount=data["amount"],
                    note=data["note"],
                    payment_reference=data["payment_reference"],
                )
            except NotFound:
                raise PermissionDenied from None
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                claim.refresh_from_db()
                self.message_user(
                    request,
                    gettext("%(claim)s: %(status)s.") % {"claim": claim, "status": claim.get_status_display()},
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:settlement_claim_change", args=[claim.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Decide arbitration of %(claim)s") % {"claim": claim},
            "opts": self.model._meta,
            "claim": claim,
            "form": form,
            "in_arbitration": claim.status == Claim.Status.ARBITRATION,
        }
        return TemplateResponse(request, "admin/settlement/claim_decide.html", context)


class ClaimLogInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ClaimLog
    extra = 0
    fields = ("at", "from_status", "to_status", "user", "note")
    readonly_fields = fields


class ClaimEvidenceInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ClaimEvidence
    extra = 0
    fields = ("file_name", "content_type", "size", "uploaded_at")
    readonly_fields = fields

    @admin.display(description=_("image"))
    def file_name(self, obj):
        return obj.image.name  # the stored name only: uploads are served through views that check the viewer


@admin.register(Claim)
class ClaimAdmin(ClaimArbitrationAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "shop", "outlet", "reason", "amount", "status", "filed_at", "closed_at")
    list_filter = ("status", "reason")
    list_select_related = ("shop", "outlet", "service_order")
    search_fields = ("shop__code", "outlet__code", "service_order__parcel__tracking_no", "payment_reference")
    date_hierarchy = "filed_at"
    fields = (
        "shop",
        "outlet",
        "service_order",
        "status",
        "reason",
        "description",
        "goods_value",
        "amount",
        "accepted_amount",
        "compensated_amount",
        "payment_reference",
        "outlet_note",
        "decision_note",
        "filed_by",
        "filed_at",
        "answered_at",
        "closed_at",
    )
    readonly_fields = fields  # every change goes through the services, so that the history stays complete
    inlines = [ClaimLogInline, ClaimEvidenceInline]
    actions = ClaimArbitrationAdminMixin.claim_actions  # "Decide arbitration…" (the mixin above)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ClaimLog)
class ClaimLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("claim", "from_status", "to_status", "user", "note", "at")
    list_filter = ("to_status",)
    list_select_related = ("claim", "user")
    search_fields = ("note",)


@admin.register(ClaimEvidence)
class ClaimEvidenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("file_name", "claim", "content_type", "size", "uploaded_at")
    list_select_related = ("claim",)
    fields = ("claim", "file_name", "content_type", "size", "uploaded_at")
    readonly_fields = fields

    @admin.display(description=_("image"))
    def file_name(self, obj):
        return obj.image.name
