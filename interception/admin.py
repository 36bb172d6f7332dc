"""Platform operators' view of interception: partnerships, service orders, callbacks, fees, rules.

Status, fees and history change only through the services (the admin actions call them), never by
editing a row: the history and the fee ledger stay complete.
"""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shop.admin import ReadOnlyAdminMixin
from shop.errors import DomainError, NotFound

from . import services
from .models import (
    AssistantRule,
    AssistantRuleLog,
    CarrierAlert,
    CarrierCallback,
    FeeCharge,
    InterceptionBatch,
    Partnership,
    PartnershipLog,
    ServiceOrder,
    ServiceOrderLog,
)


class PartnershipLogInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PartnershipLog
    extra = 0
    fields = ("at", "from_status", "to_status", "user", "note")
    readonly_fields = fields


def _run_on_each(modeladmin, request, queryset, call, done_message):
    """Call a service for each selected partnership; a refusal is reported and the others go on."""
    done = 0
    for partnership in queryset.select_related("shop", "outlet"):
        try:
            call(partnership)
        except (DomainError, NotFound) as error:
            modeladmin.message_user(request, f"#{partnership.pk} {partnership}: {error.message}", messages.WARNING)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, done_message % {"count": done}, messages.SUCCESS)


@admin.action(description=_("Approve the selected applications (on the outlet's behalf)"), permissions=["change"])
def approve_partnerships(modeladmin, request, queryset):
    _run_on_each(
        modeladmin,
        request,
        queryset,
        lambda p: services.approve_partnership(
            partnership_id=p.pk, outlet=p.outlet, user=request.user, note=gettext("Approved by a platform operator.")
        ),
        gettext("%(count)d partnership(s) approved."),
    )


@admin.action(description=_("Reject the selected applications (on the outlet's behalf)"), permissions=["change"])
def reject_partnerships(modeladmin, request, queryset):
    _run_on_each(
        modeladmin,
        request,
        queryset,
        lambda p: services.reject_partnership(
            partnership_id=p.pk, outlet=p.outlet, user=request.user, note=gettext("Rejected by a platform operator.")
        ),
        gettext("%(count)d application(s) rejected."),
    )


@admin.action(description=_("End the selected partnerships"), permissions=["change"])
def end_partnerships(modeladmin, request, queryset):
    _run_on_each(
        modeladmin,
        request,
        queryset,
        lambda p: services.end_partnership(
            partnership_id=p.pk, shop=p.shop, user=request.user, note=gettext("Ended by a platform operator.")
        ),
        gettext("%(count)d partnership(s) ended."),
    )


@admin.register(Partnership)
class PartnershipAdmin(admin.ModelAdmin):
    """Partnerships are opened by merchants; operators answer or end them with the actions below."""

    list_display = ("id", "shop", "outlet", "courier", "fee", "status", "created_at", "effective_at", "ended_at")
    list_filter = ("status", "outlet__courier")
    list_select_related = ("shop", "outlet__courier")
    search_fields = ("shop__code", "shop__name", "outlet__code", "outlet__name")
    date_hierarchy = "created_at"
    fields = (
        "shop",
        "outlet",
        "fee",
        "status",
        "outlet_note",
        "proposed_by",
        "created_at",
        "effective_at",
        "ended_at",
    )
    readonly_fields = fields  # every change goes through a service, so that the history stays complete
    inlines = [PartnershipLogInline]
    actions = [approve_partnerships, reject_partnerships, end_partnerships]

    @admin.display(description=_("courier"), ordering="outlet__courier__code")
    def courier(self, obj):
        return obj.outlet.courier

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PartnershipLog)
class PartnershipLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("partnership", "from_status", "to_status", "user", "note", "at")
    list_filter = ("to_status",)
    list_select_related = ("partnership__shop", "partnership__outlet", "user")
    search_fields = ("partnership__shop__code", "partnership__outlet__code", "note")


class ServiceOrderLogInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ServiceOrderLog
    extra = 0
    fields = ("at", "from_status", "to_status", "actor", "user", "message")
    readonly_fields = fields


class CarrierCallbackInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CarrierCallback
    extra = 0
    fields = ("callback_id", "status", "occurred_at", "applied", "received_at")
    readonly_fields = fields


@admin.register(ServiceOrder)
class ServiceOrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Launched by merchants, the assistant rule or a batch; moved by carrier results. Operators look."""

    list_display = (
        "number",
        "shop",
        "tracking_no",
        "courier",
        "outlet",
        "mode",
        "fee",
        "via",
        "status",
        "created_at",
        "succeeded_at",
    )
    list_filter = ("status", "mode", "via", "courier")
    list_select_related = ("shop", "parcel", "courier", "outlet")
    search_fields = ("parcel__tracking_no", "after_sale__after_sale_no")
    date_hierarchy = "created_at"
    readonly_fields = (
        "shop",
        "after_sale",
        "parcel",
        "courier",
        "outlet",
        "partnership",
        "batch",
        "mode",
        "fee",
        "via",
        "status",
        "failure_reason",
        "return_failure",
        "carrier_ref",
        "result_at",
        "succeeded_at",
        "attempts",
        "carrier_checked_at",
        "waiting_reason",
        "created_by",
        "created_at",
        "updated_at",
    )
    inlines = [ServiceOrderLogInline, CarrierCallbackInline]

    @admin.display(description=_("service order"), ordering="id")
    def number(self, obj):
        return obj.number

    @admin.display(description=_("tracking number"), ordering="parcel__tracking_no")
    def tracking_no(self, obj):
        return obj.parcel.tracking_no


@admin.register(ServiceOrderLog)
class ServiceOrderLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("service_order", "from_status", "to_status", "actor", "user", "message", "at")
    list_filter = ("to_status", "actor")
    list_select_related = ("service_order", "user")
    search_fields = ("service_order__parcel__tracking_no", "message")


@admin.register(CarrierCallback)
class CarrierCallbackAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("callback_id", "service_order", "status", "occurred_at", "applied", "received_at")
    list_filter = ("applied", "status")
    search_fields = ("callback_id", "service_order__parcel__tracking_no")


@admin.register(FeeCharge)
class FeeChargeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The fee ledger is append-only: no add, change or delete, not even for operators."""

    list_display = ("service_order", "shop", "courier", "outlet", "mode", "amount", "charged_at")
    list_filter = ("mode", "courier")
    list_select_related = ("service_order", "shop", "courier", "outlet")
    search_fields = ("service_order__parcel__tracking_no", "shop__code", "outlet__code")
    date_hierarchy = "charged_at"


@admin.register(InterceptionBatch)
class InterceptionBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "shop", "via", "created_by", "created_at")
    list_filter = ("via",)
    list_select_related = ("shop", "created_by")
    search_fields = ("shop__code",)


class AssistantRuleLogInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = AssistantRuleLog
    extra = 0
    fields = ("at", "user", "enabled", "min_amount", "max_amount", "couriers")
    readonly_fields = fields


@admin.register(AssistantRule)
class AssistantRuleAdmin(admin.ModelAdmin):
    list_display = ("shop", "enabled", "min_amount", "max_amount", "updated_at")
    list_filter = ("enabled",)
    list_select_related = ("shop",)
    search_fields = ("shop__code", "shop__name")
    filter_horizontal = ("couriers",)
    inlines = [AssistantRuleLogInline]


@admin.action(description=_("Close the selected alerts: the configuration is fixed"), permissions=["change"])
def close_carrier_alerts(modeladmin, request, queryset):
    closed = 0
    for alert in queryset:
        try:
            services.close_carrier_alert(
                alert_id=alert.pk, user=request.user, note=gettext("Closed by a platform operator."), at=timezone.now()
            )
        except (DomainError, NotFound) as error:
            modeladmin.message_user(request, f"#{alert.pk}: {error.message}", messages.WARNING)
        else:
            closed += 1
    if closed:
        modeladmin.message_user(
            request,
            gettext("%(count)d alert(s) closed: the waiting service orders are sent again by the next sweep.")
            % {"count": closed},
            messages.SUCCESS,
        )


@admin.register(CarrierAlert)
class CarrierAlertAdmin(admin.ModelAdmin):
    """Opened by the carrier calls; operators fix the configuration, then close the alert with the action."""

    list_display = (
        "courier",
        "status",
        "http_status",
        "message",
        "occurrences",
        "opened_at",
        "last_seen_at",
        "closed_at",
    )
    list_filter = ("status", "courier")
    list_select_related = ("courier",)
    fields = (
        "courier",
        "status",
        "http_status",
        "message",
        "occurrences",
        "opened_at",
        "last_seen_at",
        "closed_at",
        "closed_by",
        "close_note",
    )
    readonly_fields = fields  # opened by the carrier task, closed by the action (a service)
    actions = [close_carrier_alerts]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
