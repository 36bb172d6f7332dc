"""Reads for pages, always scoped to the viewer's shop."""

from django.db.models import Count, Exists, OuterRef, Prefetch, QuerySet, Subquery

from .models import Order, OrderLine, Parcel, Shop, TrackingEvent


def orders_for_shop(*, shop: Shop) -> QuerySet[Order]:
    """The shop's orders for the list page: buyer joined, parcels with couriers prefetched."""
    # A correlated count, not JOIN + GROUP BY: the page stays one index-ordered scan of orders.
    line_count = OrderLine.objects.filter(order=OuterRef("pk")).values("order").annotate(n=Count("*")).values("n")
    return (
        Order.objects.filter(shop=shop)
        .select_related("buyer")
        .annotate(line_count=Subquery(line_count))
        .order_by("-paid_at", "-id")
        .prefetch_related(Prefetch("parcels", queryset=Parcel.objects.select_related("courier").order_by("id")))
    )


def order_detail_for_shop(*, shop: Shop) -> QuerySet[Order]:
    """The shop's orders with everything the detail page shows, in a fixed number of queries."""
    return (
        Order.objects.filter(shop=shop)
        .select_related("buyer", "shop")
        .prefetch_related(
            "lines",
            Prefetch(
                "parcels",
                queryset=Parcel.objects.select_related("courier", "outlet")
                .prefetch_related(
                    "lines",
                    Prefetch("tracking_events", queryset=TrackingEvent.objects.order_by("-at", "-id")),
                )
                .order_by("id"),
            ),
        )
    )


def parcel_exists(**filters) -> Exists:
    """An EXISTS over the order's parcels: filtering through a join would repeat orders."""
    return Exists(Parcel.objects.filter(order=OuterRef("pk"), **filters))
