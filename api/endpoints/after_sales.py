"""After-sales: one with its refunds, the merchant's decisions, flag and remark."""

from datetime import datetime
from typing import Annotated, Literal

from django.utils.translation import gettext as _
from ninja import Path, Query, Router
from pydantic import StringConstraints

from aftersales import services
from aftersales.models import AfterSale
from shop.models import Change

from .. import feed, selectors, serializers
from ..evidence import decode_evidence
from ..schemas import ActionIn, AfterSaleOut, AfterSalePage, PatchIn, Text
from . import READ_ERRORS, WRITE_ERRORS, aware, invalid, not_found, token_of

router = Router(tags=["after-sales"])

AfterSaleNo = Annotated[Text, StringConstraints(min_length=1, max_length=64)]


def _after_sale(token, after_sale_no: str):
    after_sale = selectors.after_sales(shop=token.shop).filter(after_sale_no=after_sale_no).first()
    if after_sale is None:
        raise not_found(_("After-sale %(no)s not found.") % {"no": after_sale_no})
    return after_sale


def _fresh(token, after_sale_id: int) -> dict:
    return serializers.after_sale_json(selectors.after_sales(shop=token.shop).get(pk=after_sale_id))


@router.get("/after-sales", response={200: AfterSalePage, **READ_ERRORS})
def sync_after_sales(
    request,
    cursor: Text | None = Query(None, max_length=200),
    updated_since: datetime | None = Query(None),
    limit: int = Query(50, ge=1, le=100),
    status: Text | None = Query(None, max_length=500, description="comma-separated statuses"),
    type: Literal["refund_only", "return_refund", "price_protection"] | None = Query(None),
    multi_refund: bool | None = Query(None),
):
    """Incremental sync: the shop's after-sales in the order of their last change, oldest first.

    Store `next_cursor` and poll with it for ever: nothing is missed, also changes committed late.
    """
    token = token_of(request)
    objects = None
    if status or type or multi_refund is not None:
        objects = AfterSale.objects.filter(shop=token.shop)
        if status:
            statuses = [value.strip() for value in status.split(",") if value.strip()]
            if not statuses or set(statuses) - set(AfterSale.Status.values):
                raise invalid("status", _("Unknown status."))
            objects = objects.filter(status__in=statuses)
        if type:
            objects = objects.filter(type=type)
        if multi_refund is not None:
            objects = objects.filter(multi_refund=multi_refund)
    after = feed.start_of(
        shop=token.shop, kind=Change.Kind.AFTER_SALE, cursor=cursor, updated_since=aware(updated_since)
    )
    page = feed.page(shop=token.shop, kind=Change.Kind.AFTER_SALE, after=after, limit=limit, objects=objects)
    found = selectors.after_sale_rows(shop=token.shop, ids=page.object_ids)
    body = {
        "data": [serializers.after_sale_row_json(*found[pk]) for pk in page.object_ids if pk in found],
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
    }
    # Rendered as it is, not validated against AfterSalePage on the way out: a full sync reads this
    # page thousands of times and the check cost a quarter of it. The shape comes from the one
    # serializer, and the contract tests and schemathesis check it against the schema.
    from ..main import api  # the API object that includes this router (imported when it is built)

    return api.create_response(request, body, status=200)


@router.get("/after-sales/{after_sale_no}", response={200: AfterSaleOut, **READ_ERRORS})
def get_after_sale(request, after_sale_no: Path[AfterSaleNo]):
    """One after-sale with its refund records, oldest first."""
    return serializers.after_sale_json(_after_sale(token_of(request), after_sale_no))


@router.post("/after-sales/{after_sale_no}/actions", response={200: AfterSaleOut, **WRITE_ERRORS})
def act_on_after_sale(request, after_sale_no: Path[AfterSaleNo], payload: ActionIn):
    """A merchant decision, with the back office's own rules: agree_refund, agree_return, confirm_receipt, reject."""
    token = token_of(request)
    uploads = []
    if payload.action == "reject":  # the shape first (422), then the after-sale (404), then the rules (409)
        if payload.reason_code is None:
            raise invalid("reason_code", _("A rejection needs a reason_code."))
        uploads = decode_evidence(payload.evidence)
    after_sale = _after_sale(token, after_sale_no)
    common = {"after_sale_id": after_sale.pk, "shop": token.shop, "user": token.user}
    if payload.action == "agree_refund":
        services.agree_refund(**common, expected_version=payload.version)
    elif payload.action == "agree_return":
        services.agree_return(**common, expected_version=payload.version)
    elif payload.action == "confirm_receipt":
        services.confirm_receipt_and_refund(**common, expected_version=payload.version)
    else:
        services.reject_after_sale(
            **common,
            reason=payload.reason_code,
            note=payload.note,
            evidence=uploads,
            expected_version=payload.version,
        )
    return _fresh(token, after_sale.pk)


@router.patch("/after-sales/{after_sale_no}", response={200: AfterSaleOut, **WRITE_ERRORS})
def patch_after_sale(request, after_sale_no: Path[AfterSaleNo], payload: PatchIn):
    """Flag and remark; each field optional. A `version` sent that is not the current one is 409 `stale`."""
    token = token_of(request)
    after_sale = _after_sale(token, after_sale_no)
    flag = payload.flag
    if flag is None and payload.remark is None:
        flag = after_sale.flag  # nothing to change: the service still checks the version, writes nothing
    services.flag_and_remark(
        shop=token.shop,
        user=token.user,
        versions={after_sale.pk: payload.version},
        flag=flag,
        remark=payload.remark,
    )
    return _fresh(token, after_sale.pk)
