"""Platform operators' view of statements and reconciliations, and the online fees payable to each courier.

Statuses and history change only through the services (the admin actions call them), never by
editing a row.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shop.admin import ReadOnlyAdminMixin
from shop.errors import DomainError, NotFound

from .. import selectors as fee_selectors
from ..filters import FeeFilterForm
from . import services as statements
from .models import Reconciliation, ReconciliationRow, Statement, StatementLine, StatementLog

# --- statements ------------------------------------------------------------------------------------


class StatementLogInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = StatementLog
    extra = 0
    fields = ("at", "from_status", "to_status", "user", "note")
    readonly_fields = fields


@admin.action(description=_("Issue the selected open statements (their month is over)"), permissions=["change"])
def issue_statements(modeladmin, request, queryset):
    done = 0
    for statement in queryset.select_related("shop", "outlet"):
        try:
            statements.issue_statement(statement_id=statement.pk, user=request.user)
        except (DomainError, NotFound) as error:
            modeladmin.message_user(request, f"{statement}: {error.message}", messages.WARNING)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, gettext("%(count)d statement(s) issued.") % {"count": done}, messages.SUCCESS)


@admin.register(Statement)
class StatementAdmin(admin.ModelAdmin):
    """Statements are gathered and closed by the services; operators look, and may close a month early."""

    list_display = ("__str__", "shop", "outlet", "status", "line_count", "total", "issued_at", "settled_at")
    list_filter = ("status",)
    date_hierarchy = "month"
    list_select_related = ("shop", "outlet")
    search_fields = ("shop__code", "shop__name", "outlet__code", "outlet__name", "payment_reference")
    fields = (
        "shop",
        "outlet",
        "month",
        "status",
        "line_count",
        "total",
        "lines_link",
        "dispute_note",
        "payment_reference",
        "paid_amount",
        "issued_at",
        "answered_at",
        "settled_at",
        "created_at",
    )
    readonly_fields = fields  # every change goes through a service, so that the history stays complete
    inlines = [StatementLogInline]
    actions = [issue_statements]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("lines"))
    def lines_link(self, obj):
        url = reverse("admin:settlement_statementline_changelist") + f"?statement__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, gettext("%(count)s lines") % {"count": obj.line_count})

    def get_urls(self):
        payable = path("payable/", self.admin_site.admin_view(self.payable_view), name="settlement_statement_payable")
        return [payable, *super().get_urls()]

    def payable_view(self, request):
        """Online fees (deducted by the platform) payable to each courier, per month, platform-wide."""
        from interception.models import FeeCharge

        if not request.user.has_perm(f"{FeeCharge._meta.app_label}.view_feecharge"):
            raise PermissionDenied
        form = FeeFilterForm(request.GET or None, with_mode=False)
        ledger = fee_selectors.online_payable_per_courier(filters=form.filters())
        if form.is_bound and not form.is_valid():
            ledger = fee_selectors.FeeLedger()
        per_courier: dict[str, dict] = {}
        for row in ledger.rows:
            entry = per_courier.setdefault(
                row["courier__code"],
                {"code": row["courier__code"], "name": row["courier__name"], "count": 0, "total": 0},
            )
            entry["count"] += row["count"]
            entry["total"] += row["total"]
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Online interception fees payable per courier"),
            "opts": self.model._meta,
            "form": form,
            "ledger": ledger,
            "per_courier": sorted(per_courier.values(), key=lambda entry: entry["code"]),
        }
        return TemplateResponse(request, "admin/settlement/payable.html", context)


@admin.register(StatementLine)
class StatementLineAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("tracking_no", "statement", "service_order", "amount", "succeeded_at")
    list_select_related = ("statement__shop", "statement__outlet", "service_order")
    search_fields = ("tracking_no",)
    raw_id_fields = ("statement", "fee_charge", "service_order")


@admin.register(StatementLog)
class StatementLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("statement", "from_status", "to_status", "user", "note", "at")
    list_filter = ("to_status",)
    list_select_related = ("statement__shop", "statement__outlet", "user")
    search_fields = ("statement__shop__code", "statement__outlet__code", "note")


# --- reconciliations -------------------------------------------------------------------------------


@admin.register(Reconciliation)
class ReconciliationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "statement", "file_name", "uploaded_by", "created_at")
    list_select_related = ("statement__shop", "statement__outlet", "uploaded_by")
    search_fields = ("statement__shop__code", "statement__outlet__code", "file_name")
    fields = ("statement", "file_name", "uploaded_by", "summary", "rows_link", "created_at")
    readonly_fields = fields

    @admin.display(description=_("rows"))
    def rows_link(self, obj):
        url = reverse("admin:settlement_reconciliationrow_changelist") + f"?reconciliation__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, gettext("rows"))


@admin.register(ReconciliationRow)
class ReconciliationRowAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("tracking_no", "kind", "billed_fee", "our_fee", "bill_line", "reconciliation")
    list_filter = ("kind",)
    list_select_related = ("reconciliation__statement__shop", "reconciliation__statement__outlet")
    search_fields = ("tracking_no",)
