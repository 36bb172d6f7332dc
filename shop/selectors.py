"""Reads for pages, always scoped to the viewer's shop."""

from django.db.models import Count, Exists, OuterRef, Prefetch, QuerySet

from .models import Order, Parcel, Shop, TrackingEvent


def orders_for_shop(*, shop: Shop) -> QuerySet[Order]:
    """The shop's orders for the list page: buyer joined, parcels with couriers prefetched."""
    return (
        Order.objects.filter(shop=shop)
        .select_related("buyer")
        .annotate(line_count=Count("lines", distinct=True))
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
