"""Platform operators' view of after-sales: read-only records, and actions that call the services.

Nothing here writes a row directly. An edit through a change form would skip the history row and
the version bump that every service write makes, so after-sales, their history and the refund
ledger are read-only; operators act through the admin actions, which call the same services as
the merchant pages and the events API.
"""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from shop.admin import ReadOnlyAdminMixin
from shop.errors import DomainError, NotFound

from . import notifications, services
from .models import (
    AfterSale,
    AfterSaleLog,
    BulkJob,
    BulkJobRow,
    BuyerNotification,
    EvidenceImage,
    ExportJob,
    RefundEntry,
)

DONE_REFUNDED = ngettext_lazy(
    "%(n)d after-sale refunded by platform arbitration.", "%(n)d after-sales refunded by platform arbitration.", "n"
)
DONE_REJECTED = ngettext_lazy(
    "%(n)d after-sale rejected by platform arbitration.", "%(n)d after-sales rejected by platform arbitration.", "n"
)
DONE_ESCALATED = ngettext_lazy(
    "%(n)d after-sale escalated to platform arbitration.",
    "%(n)d after-sales escalated to platform arbitration.",
    "n",
)


class AfterSaleLogInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = AfterSaleLog
    extra = 0
    fields = ("at", "action", "from_status", "to_status", "actor", "user", "message")
    readonly_fields = fields
    ordering = ("at", "id")
    verbose_name_plural = _("history")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


class RefundEntryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = RefundEntry
    extra = 0
    fields = ("created_at", "kind", "amount", "actor", "user", "reason", "idempotency_key")
    readonly_fields = fields
    ordering = ("created_at", "id")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


@admin.register(AfterSale)
class AfterSaleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "after_sale_no",
        "shop",
        "order",
        "type",
        "status",
        "amount",
        "refunded_amount",
        "deadline",
        "flag",
        "last_actor",
    )
    # Static choices only: a filter built from related rows would scan them on every page.
    list_filter = ("status", "type", "reason", "flag", "multi_refund")
    search_fields = ("=after_sale_no", "=order__order_no")
    search_help_text = _("Exact after-sale or order number.")
    list_select_related = ("shop", "order")
    show_full_result_count = False  # no COUNT(*) of the whole table on every page
    fieldsets = (
        (None, {"fields": ("after_sale_no", "shop", "order", "line", "buyer", "parcel")}),
        (
            _("Request"),
            {"fields": ("type", "reason", "buyer_note", "amount", "refunded_amount", "sequence", "multi_refund")},
        ),
        (
            _("State"),
            {
                "fields": (
                    "status",
                    "deadline",
                    "last_actor",
                    "version",
                    "applied_at",
                    "closed_at",
                    "updated_at",
                )
            },
        ),
        (_("Merchant"), {"fields": ("flag", "remark", "reject_reason", "reject_note")}),
        (_("Return"), {"fields": ("return_courier", "return_tracking_no")}),
    )
    readonly_fields = (
        "status",
        "amount",
        "refunded_amount",
        "version",
        "sequence",
        "multi_refund",
        "last_actor",
        "applied_at",
        "closed_at",
        "updated_at",
    )
    raw_id_fields = ("shop", "order", "line", "buyer", "parcel")
    inlines = [AfterSaleLogInline, RefundEntryInline]
    actions = ["decide_for_buyer", "decide_for_merchant", "escalate"]

    def has_arbitrate_permission(self, request) -> bool:
        """Arbitration is for platform operators who may change after-sales."""
        user = request.user
        return user.is_active and user.is_operator and user.has_perm("aftersales.change_aftersale")

    def _run(self, request, queryset, service, done_message, **kwargs):
        """Call the service for each selected after-sale; report each refusal and the count done."""
        done = 0
        for after_sale_id, after_sale_no in queryset.order_by("pk").values_list("pk", "after_sale_no"):
            try:
                service(after_sale_id=after_sale_id, user=request.user, **kwargs)
            except (DomainError, NotFound) as exc:
                self.message_user(request, f"{after_sale_no}: {exc.message}", level=messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, done_message % {"n": done}, level=messages.SUCCESS)

    @admin.action(description=_("Arbitration: decide for the buyer (refund)"), permissions=["arbitrate"])
    def decide_for_buyer(self, request, queryset):
        self._run(
            request,
            queryset,
            services.decide_arbitration,
            DONE_REFUNDED,
            refund=True,
            note=str(_("Platform arbitration decided for the buyer: refund")),
        )

    @admin.action(description=_("Arbitration: decide for the merchant (reject)"), permissions=["arbitrate"])
    def decide_for_merchant(self, request, queryset):
        self._run(
            request,
            queryset,
            services.decide_arbitration,
            DONE_REJECTED,
            refund=False,
            note=str(_("Platform arbitration decided for the merchant: rejected")),
        )

    @admin.action(description=_("Escalate to platform arbitration"), permissions=["arbitrate"])
    def escalate(self, request, queryset):
        self._run(
            request,
            queryset,
            services.escalate_to_arbitration,
            DONE_ESCALATED,
            note=str(_("Escalated to platform arbitration by an operator")),
        )


@admin.register(AfterSaleLog)
class AfterSaleLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("at", "after_sale", "action", "from_status", "to_status", "actor", "user", "message")
    list_filter = ("action", "actor", "to_status")
    search_fields = ("=after_sale__after_sale_no",)
    search_help_text = _("Exact after-sale number.")
    list_select_related = ("after_sale", "user")
    show_full_result_count = False
    ordering = ("-at", "-id")


@admin.register(RefundEntry)
class RefundEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The refund ledger is append-only: only the ledger service writes it."""

    list_display = ("created_at", "shop", "order", "line", "after_sale", "kind", "amount", "actor", "user", "reason")
    list_filter = ("kind", "actor")
    search_fields = ("=order__order_no", "=after_sale__after_sale_no", "=idempotency_key")
    search_help_text = _("Exact order number, after-sale number or idempotency key.")
    list_select_related = ("shop", "order", "line__order", "after_sale", "user")
    show_full_result_count = False
    ordering = ("-created_at", "-id")


@admin.register(BuyerNotification)
class BuyerNotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "shop", "order", "after_sale", "kind", "status", "attempts", "next_attempt_at")
    list_filter = ("status", "kind")
    search_fields = ("=order__order_no", "=after_sale__after_sale_no")
    search_help_text = _("Exact order or after-sale number.")
    list_select_related = ("shop", "order", "after_sale")
    show_full_result_count = False
    actions = ["retry_delivery_now"]

    def has_deliver_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_operator

    @admin.action(description=_("Retry delivery now"), permissions=["deliver"])
    def retry_delivery_now(self, request, queryset):
        """Deliver each selected notification now (outside any transaction, like the worker does)."""
        outcomes: dict[str, int] = {}
        for notification_id in queryset.order_by("pk").values_list("pk", flat=True):
            outcome = notifications.deliver(notification_id)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        labels = {
            "delivered": _("delivered"),
            "retry": _("failed, will be retried"),
            "skipped": _("skipped: no webhook configured"),
            "nothing to do": _("already delivered, failed for good or skipped: nothing to do"),
        }
        summary = ", ".join(f"{labels.get(outcome, outcome)}: {count}" for outcome, count in sorted(outcomes.items()))
        level = messages.WARNING if outcomes.get("retry") else messages.INFO
        self.message_user(request, _("Delivery attempted. %(summary)s") % {"summary": summary}, level=level)


@admin.register(ExportJob)
class ExportJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "shop", "user", "format", "status", "rows_done", "rows_total", "finished_at")
    list_filter = ("status", "format")
    list_select_related = ("shop", "user")
    show_full_result_count = False


@admin.register(EvidenceImage)
class EvidenceImageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("uploaded_at", "after_sale", "image", "content_type", "size", "uploaded_by")
    list_filter = ("content_type",)
    search_fields = ("=after_sale__after_sale_no",)
    search_help_text = _("Exact after-sale number.")
    list_select_related = ("after_sale", "uploaded_by")
    show_full_result_count = False


class BulkJobRowInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = BulkJobRow
    fields = ("after_sale", "ok", "reason", "at")
    readonly_fields = fields
    extra = 0


@admin.register(BulkJob)
class BulkJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A merchant's bulk decision (the signed-for rejection) and the outcome of each after-sale."""

    list_display = ("created_at", "shop", "user", "kind", "send_card", "status", "finished_at")
    list_filter = ("status", "kind")
    list_select_related = ("shop", "user")
    show_full_result_count = False
    inlines = [BulkJobRowInline]
