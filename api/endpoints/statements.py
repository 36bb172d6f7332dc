"""Offline statements of the shop, and their lines."""

from typing import Annotated

from django.db.models import Q
from django.utils.translation import gettext as _
from ninja import Path, Query, Router
from pydantic import Field

from shop.keyset import EPOCH, MICROSECOND

from .. import cursors, selectors, serializers
from ..schemas import StatementLinePage, StatementList, Text
from . import READ_ERRORS, not_found, token_of

router = Router(tags=["statements"])

StatementId = Annotated[int, Field(ge=1, le=2**63 - 1)]


def _cursor_of(line) -> str:
    return cursors.encode((line.succeeded_at - EPOCH) // MICROSECOND, line.pk)


@router.get("/statements", response={200: StatementList, **READ_ERRORS})
def list_statements(request):
    """The shop's offline statements, newest month first."""
    token = token_of(request)
    return {
        "data": [
            {
                "id": statement.pk,
                "outlet": statement.outlet.code,
                "month": f"{statement.month:%Y-%m}",
                "status": statement.status,
                "total": serializers.money(statement.total),
                "lines": statement.line_count,
            }
            for statement in selectors.statements(shop=token.shop)
        ]
    }


@router.get("/statements/{id}/lines", response={200: StatementLinePage, **READ_ERRORS})
def statement_lines(
    request,
    id: Path[StatementId],
    cursor: Text | None = Query(None, max_length=200),
    limit: int = Query(50, ge=1, le=100),
):
    """The statement's lines in the order they happened, a page at a time (`next_cursor`, `has_more`)."""
    token = token_of(request)
    position = cursors.decode(cursor, 2) if cursor else None
    statement = selectors.statements(shop=token.shop).filter(pk=id).first()
    if statement is None:
        raise not_found(_("Statement not found."))
    lines = selectors.statement_lines(statement=statement).select_related("service_order")
    if position is not None:
        moment = EPOCH + position[0] * MICROSECOND
        lines = lines.filter(Q(succeeded_at__gt=moment) | Q(succeeded_at=moment, pk__gt=position[1]))
    lines = list(lines.order_by("succeeded_at", "pk")[: limit + 1])
    has_more = len(lines) > limit
    lines = lines[:limit]
    return {
        "data": [
            {
                "service_order_no": line.service_order.number,
                "tracking_no": line.tracking_no,
                "fee": serializers.money(line.amount),
                "succeeded_at": serializers.when(line.succeeded_at),
            }
            for line in lines
        ],
        "next_cursor": _cursor_of(lines[-1]) if lines else (cursor or cursors.encode(0, 0)),
        "has_more": has_more,
    }
