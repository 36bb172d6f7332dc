"""The API's reads: the pages' own selectors, with what the contract's objects show preloaded."""

from django.db.models import Prefetch, QuerySet

from aftersales import selectors as aftersales_selectors
from aftersales.models import AfterSale, RefundEntry
from interception.models import ServiceOrder
from interception.selectors import service_orders_for_shop
from settlement.models import Statement, StatementLine
from settlement.statements import selectors as settlement_selectors
from shop.models import Order, Shop

from . import serializers

_REFUNDS = Prefetch("refunds", queryset=RefundEntry.objects.order_by("created_at", "id"))


def after_sales(*, shop: Shop) -> QuerySet[AfterSale]:
    """The shop's after-sales with order, line, buyer, parcel and courier joined and refunds prefetched."""
    return aftersales_selectors.after_sales_for_shop(shop=shop).prefetch_related(_REFUNDS)


def after_sale_rows(*, shop: Shop, ids) -> dict[int, tuple[dict, list[dict]]]:
    """{id: (row, its refunds' rows oldest first)} of the shop's after-sales among `ids`, as plain rows
    (serializers.AFTER_SALE_FIELDS, REFUND_FIELDS) for serializers.after_sale_row_json: two queries."""
    rows = (
        aftersales_selectors.after_sales_for_shop(shop=shop)
        .filter(pk__in=ids)
        .order_by()
        .values(*serializers.AFTER_SALE_FIELDS)
    )
    found = {row["id"]: (row, []) for row in rows}
    if found:
        refunds = RefundEntry.objects.filter(after_sale_id__in=list(found)).order_by("created_at", "id")
        for refund in refunds.values(*serializers.REFUND_FIELDS):
            found[refund["after_sale_id"]][1].append(refund)
    return found


def orders(*, shop: Shop) -> QuerySet[Order]:
    return Order.objects.filter(shop=shop).prefetch_related("lines")


def refunds_of_order(*, shop: Shop, order: Order) -> QuerySet[RefundEntry]:
    """The order's whole refund history, oldest first."""
    return (
        aftersales_selectors.order_refunds(shop=shop, order_id=order.pk)
        .select_related("order", "line", "after_sale")
        .order_by("created_at", "id")
    )


def service_orders(*, shop: Shop) -> QuerySet[ServiceOrder]:
    return service_orders_for_shop(shop=shop).select_related("after_sale__order")


def statements(*, shop: Shop) -> QuerySet[Statement]:
    """The shop's offline statements, newest month first."""
    return settlement_selectors.statements_for_shop(shop=shop)


def statement_lines(*, statement: Statement) -> QuerySet[StatementLine]:
    return settlement_selectors.statement_lines(statement=statement)
