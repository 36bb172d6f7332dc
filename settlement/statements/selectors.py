"""Reads for the statement and reconciliation pages, always scoped to the viewer: a merchant's shop or an outlet.

Detail views look objects up inside these querysets: another shop's or outlet's is a 404, exactly
like a missing one.
"""

from django.db.models import Count, Prefetch, QuerySet

from shop.models import Outlet, Shop

from .models import Reconciliation, ReconciliationRow, Statement, StatementLine, StatementLog

_LOGS = Prefetch("logs", queryset=StatementLog.objects.select_related("user").order_by("at", "id"))


def statements_for_shop(*, shop: Shop) -> QuerySet[Statement]:
    """The shop's statements, newest month first, with the outlet joined."""
    return Statement.objects.filter(shop=shop).select_related("outlet__courier").order_by("-month", "outlet__code")


def statement_detail_for_shop(*, shop: Shop) -> QuerySet[Statement]:
    return statements_for_shop(shop=shop).select_related("shop").prefetch_related(_LOGS)


def statements_for_outlet(*, outlet: Outlet) -> QuerySet[Statement]:
    """The outlet's statements of closed months (an open one is still the merchant's draft)."""
    return (
        Statement.objects.filter(outlet=outlet, status__in=Statement.OUTLET_VISIBLE_STATUSES)
        .select_related("shop", "outlet__courier")
        .order_by("-month", "shop__name", "id")
    )


def statement_detail_for_outlet(*, outlet: Outlet) -> QuerySet[Statement]:
    return statements_for_outlet(outlet=outlet).prefetch_related(_LOGS)


def statement_lines(*, statement: Statement) -> QuerySet[StatementLine]:
    """The statement's lines in the order they happened (the caller already holds a scoped statement)."""
    return StatementLine.objects.filter(statement=statement).order_by("succeeded_at", "id")


def outlets_of_shop_statements(*, shop: Shop) -> QuerySet[Outlet]:
    """Outlets the shop has statements with: its filter's choices reveal no other outlet."""
    return Outlet.objects.filter(statements__shop=shop).distinct().order_by("code")


def shops_of_outlet_statements(*, outlet: Outlet) -> QuerySet[Shop]:
    """Shops with a statement the outlet sees: its filter's choices reveal no other shop."""
    return (
        Shop.objects.filter(statements__outlet=outlet, statements__status__in=Statement.OUTLET_VISIBLE_STATUSES)
        .distinct()
        .order_by("name")
    )


def statement_counts_for_shop(*, shop: Shop) -> dict[str, int]:
    """How many of the shop's statements are in each status (every status present)."""
    counts = dict.fromkeys(Statement.Status.values, 0)
    counts.update(
        Statement.objects.filter(shop=shop).values("status").annotate(n=Count("id")).values_list("status", "n")
    )
    return counts


# --- reconciliations -------------------------------------------------------------------------------


def reconciliations_for_shop(*, shop: Shop) -> QuerySet[Reconciliation]:
    return (
        Reconciliation.objects.filter(statement__shop=shop)
        .select_related("statement__outlet", "uploaded_by")
        .order_by("-created_at", "-id")
    )


def reconciliation_rows(*, reconciliation: Reconciliation, differences_only: bool = False):
    rows = ReconciliationRow.objects.filter(reconciliation=reconciliation)
    if differences_only:
        rows = rows.exclude(kind=ReconciliationRow.Kind.MATCHED)
    return rows.order_by("kind", "bill_line", "tracking_no", "id")
