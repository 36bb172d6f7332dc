from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import (
    Buyer,
    Courier,
    Order,
    OrderLine,
    Outlet,
    Parcel,
    PlatformEvent,
    Shop,
    StaffChange,
    TrackingEvent,
    User,
)


class ReadOnlyAdminMixin:
    """Rows written by the services only: operators look, they never add, edit or delete them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "kind", "shop", "shop_role", "outlet", "outlet_role", "is_active", "last_login")
    list_filter = ("kind", "shop_role", "outlet_role", "groups", "is_active", "is_staff")
    list_select_related = ("shop", "outlet")
    search_fields = ("username", "first_name", "last_name", "email")
    # The permission sets are the groups of the "Permissions" section (shop.permissions).
    fieldsets = BaseUserAdmin.fieldsets + (
        (_("Role"), {"fields": ("kind", "shop", "shop_role", "outlet", "outlet_role")}),
    )
    add_fieldsets = BaseUserAdmin.add_fieldsets + (
        (_("Role"), {"fields": ("kind", "shop", "shop_role", "outlet", "outlet_role")}),
    )


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "cross_border", "hainan_duty_free", "created_at")
    list_filter = ("cross_border", "hainan_duty_free")
    search_fields = ("code", "name")


@admin.register(Courier)
class CourierAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "supports_online_interception",
        "supports_offline_settlement",
        "outlet_approval_required",
    )
    list_filter = ("supports_online_interception", "supports_offline_settlement", "outlet_approval_required")
    search_fields = ("code", "name")


@admin.register(Outlet)
class OutletAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "courier", "region", "uses_platform_ewaybill")
    list_filter = ("uses_platform_ewaybill", "courier")
    list_select_related = ("courier",)
    search_fields = ("code", "name", "region")


@admin.register(Buyer)
class BuyerAdmin(admin.ModelAdmin):
    list_display = ("external_id", "nickname", "trusted")
    list_filter = ("trusted",)
    search_fields = ("external_id", "nickname")


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    readonly_fields = ("line_no", "sku", "title", "category", "quantity", "paid_amount", "domestic_physical")
    can_delete = False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("order_no", "shop", "buyer", "status", "paid_amount", "paid_at")
    list_filter = ("status", "shop")
    list_select_related = ("shop", "buyer")
    search_fields = ("order_no", "buyer__external_id", "buyer__nickname")
    readonly_fields = ("status", "paid_amount", "created_at")
    raw_id_fields = ("buyer",)
    date_hierarchy = "paid_at"
    inlines = [OrderLineInline]


class TrackingEventInline(admin.TabularInline):
    model = TrackingEvent
    extra = 0
    readonly_fields = ("status", "at", "note", "applied", "recorded_at")
    can_delete = False


@admin.register(Parcel)
class ParcelAdmin(admin.ModelAdmin):
    list_display = ("tracking_no", "courier", "outlet", "order", "status", "status_at", "shipped_at")
    list_filter = ("status", "courier")
    list_select_related = ("courier", "outlet", "order")
    search_fields = ("tracking_no", "order__order_no")
    readonly_fields = ("status", "status_at")
    raw_id_fields = ("order", "lines", "outlet")
    inlines = [TrackingEventInline]


@admin.register(TrackingEvent)
class TrackingEventAdmin(admin.ModelAdmin):
    list_display = ("parcel", "status", "at", "applied", "note", "recorded_at")
    list_filter = ("status", "applied")
    list_select_related = ("parcel__courier",)
    search_fields = ("parcel__tracking_no",)
    readonly_fields = ("parcel", "status", "at", "note", "applied", "recorded_at")


@admin.register(PlatformEvent)
class PlatformEventAdmin(admin.ModelAdmin):
    list_display = ("event_id", "type", "occurred_at", "received_at")
    list_filter = ("type",)
    search_fields = ("event_id",)
    readonly_fields = ("event_id", "type", "occurred_at", "payload", "outcome", "received_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StaffChange)
class StaffChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("at", "shop", "outlet", "member", "kind", "detail", "user")
    list_filter = ("kind",)
    list_select_related = ("shop", "outlet", "member", "user")
    search_fields = ("member__username", "user__username")
