"""Interception service orders: one by number, and launching interceptions."""

import re
from datetime import datetime
from typing import Annotated, Literal

from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status
from pydantic import StringConstraints

from aftersales.models import AfterSale
from interception import rules as interception_rules
from interception import selectors as interception_selectors
from interception import services as interception_services
from interception.models import ServiceOrder
from shop.models import Change

from .. import feed, selectors, serializers
from ..schemas import InterceptionIn, InterceptionOut, ServiceOrderOut, ServiceOrderPage, Text
from . import READ_ERRORS, WRITE_ERRORS, aware, invalid, not_found, token_of

router = Router(tags=["service orders"])

ServiceOrderNo = Annotated[Text, StringConstraints(min_length=1, max_length=30)]
NUMBER = re.compile(r"^SO(\d{1,18})$")


def service_order_id(number: str) -> int | None:
    match = NUMBER.match(number)
    return int(match.group(1)) if match else None


@router.get("/service-orders", response={200: ServiceOrderPage, **READ_ERRORS})
def sync_service_orders(
    request,
    cursor: Text | None = Query(None, max_length=200),
    updated_since: datetime | None = Query(None),
    limit: int = Query(50, ge=1, le=100),
    status: Text | None = Query(None, max_length=500, description="comma-separated statuses"),
    mode: Literal["online", "offline"] | None = Query(None),
    courier: Text | None = Query(None, max_length=20),
    outlet: Text | None = Query(None, max_length=30),
):
    """Incremental sync: the shop's service orders in the order of their last change, oldest first."""
    token = token_of(request)
    objects = None
    if status or mode or courier or outlet:
        objects = ServiceOrder.objects.filter(shop=token.shop)
        if status:
            statuses = [value.strip() for value in status.split(",") if value.strip()]
            if not statuses or set(statuses) - set(ServiceOrder.Status.values):
                raise invalid("status", _("Unknown status."))
            objects = objects.filter(status__in=statuses)
        if mode:
            objects = objects.filter(mode=mode)
        if courier:
            objects = objects.filter(courier__code=courier)
        if outlet:
            objects = objects.filter(outlet__code=outlet)
    kind = Change.Kind.SERVICE_ORDER
    after = feed.start_of(shop=token.shop, kind=kind, cursor=cursor, updated_since=aware(updated_since))
    page = feed.page(shop=token.shop, kind=kind, after=after, limit=limit, objects=objects)
    found = selectors.service_orders(shop=token.shop).in_bulk(page.object_ids)
    return {
        "data": [serializers.service_order_json(found[pk]) for pk in page.object_ids if pk in found],
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
    }


@router.get("/service-orders/{service_order_no}", response={200: ServiceOrderOut, **READ_ERRORS})
def get_service_order(request, service_order_no: Path[ServiceOrderNo]):
    """One interception service order."""
    token = token_of(request)
    pk = service_order_id(service_order_no)
    service_order = selectors.service_orders(shop=token.shop).filter(pk=pk).first() if pk else None
    if service_order is None:
        raise not_found(_("Service order %(no)s not found.") % {"no": service_order_no})
    return serializers.service_order_json(service_order)


@router.post("/interceptions", response={202: InterceptionOut, **WRITE_ERRORS})
def launch_interceptions(request, payload: InterceptionIn):
    """Intercept parcels, by after-sale or tracking number (1–1000): the back office's own launch."""
    token = token_of(request)
    if (payload.after_sale_nos is None) == (payload.tracking_nos is None):
        raise invalid("after_sale_nos", _("Send either after_sale_nos or tracking_nos."))
    refused, tracking_of = [], {}
    if payload.after_sale_nos is not None:
        numbers = list(dict.fromkeys(payload.after_sale_nos))
        found = dict(
            AfterSale.objects.filter(shop=token.shop, after_sale_no__in=numbers).values_list("after_sale_no", "pk")
        )
        refused += [
            {"after_sale_no": no, "code": "not_found", "message": str(_("No after-sale of your shop has this number."))}
            for no in numbers
            if no not in found
        ]
        ids, via, key = list(found.values()), ServiceOrder.Via.BULK, "after_sale_no"
    else:
        numbers = list(dict.fromkeys(payload.tracking_nos))
        by_tracking = interception_selectors.open_refund_only_by_tracking(shop=token.shop, tracking_numbers=numbers)
        refused += [
            {
                "tracking_no": no,
                "code": "not_found",
                "message": str(_("No open refund-only after-sale of your shop has this tracking number.")),
            }
            for no in numbers
            if no not in by_tracking
        ]
        tracking_of = {pk: no for no, pk in by_tracking.items()}
        ids, via, key = list(by_tracking.values()), ServiceOrder.Via.PASTE, "tracking_no"
    created, skipped, warnings = [], [], []
    if ids:
        leave_out = interception_rules.parse_leave_out(payload.leave_out or [])
        launched = interception_services.launch_with_warnings(
            shop=token.shop, user=token.user, after_sale_ids=ids, via=via, leave_out=leave_out
        )
        created, skipped = launched.created, launched.skipped
        preview = interception_services.preview_of(launched.candidates, leave_out=leave_out)
        warnings = [
            {
                "code": group.code,
                "count": group.count,
                "after_sale_nos": group.after_sale_nos,
                "left_out": group.left_out,
                "message": str(group.label),
            }
            for group in preview.warnings
        ]
    for after_sale, reason in skipped:
        ref = tracking_of.get(after_sale.pk) if key == "tracking_no" else after_sale.after_sale_no
        refused.append({key: ref, "code": "not_interceptable", "message": str(reason)})
    fresh = selectors.service_orders(shop=token.shop).filter(pk__in=[so.pk for so in created]).order_by("pk")
    return Status(
        202,
        {
            "service_orders": [serializers.service_order_json(so) for so in fresh],
            "refused": refused,
            "warnings": warnings,
        },
    )
