"""Incremental sync over the change feed (shop.changes): pages of objects in commit order.

A page is one indexed query on the feed (the shop's changes of one kind after the cursor, below
the commit horizon, each object only at its latest change, filtered on the object's current state)
plus the objects themselves: the same queries at any depth. The cursor is the (transaction id, id)
of the page's last change; an object changed several times between two polls appears once, at its
latest change, in its latest state.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import BooleanField, Exists, F, Func, OuterRef, QuerySet

from shop import changes
from shop.models import Change, Shop

from . import cursors


class RowAfter(Func):
    """`(a, b) > (c, d)`: one row comparison, which the (…, txid, id) indexes serve as a range."""

    arity = 4
    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra_context):
        parts, params = [], []
        for expression in self.source_expressions:
            sql, sql_params = compiler.compile(expression)
            parts.append(sql)
            params.extend(sql_params)
        return f"({parts[0]}, {parts[1]}) > ({parts[2]}, {parts[3]})", params


@dataclass(frozen=True)
class Page:
    object_ids: list[int]
    next_cursor: str
    has_more: bool


START = (0, 0)


def start_of(*, shop: Shop, kind: str, cursor: str | None, updated_since: datetime | None) -> tuple[int, int]:
    """The position to read after: the cursor's; else just before the first change at or after
    `updated_since`; else the beginning."""
    if cursor:
        return cursors.decode(cursor, 2)
    if updated_since is None:
        return START
    first = (
        Change.objects.filter(shop=shop, kind=kind, created_at__gte=updated_since)
        .order_by("txid", "id")
        .values_list("txid", "id")
        .first()
    )
    if first is None:
        first = Change.objects.filter(shop=shop, kind=kind).order_by("-txid", "-id").values_list("txid", "id").first()
        position = first or START
    else:
        position = (first[0], first[1] - 1)
    horizon = changes.horizon_value()
    if horizon is not None:
        # Never start past a transaction still running: its changes are not visible yet.
        position = min(position, (horizon - 1, cursors.MAX_PART))
    return max(position, START)


def page(*, shop: Shop, kind: str, after: tuple[int, int], limit: int, objects: QuerySet | None = None) -> Page:
    """The next page after `after`: ids of objects to show, in order, and the cursor to come back with.

    `objects`: the shop's objects that match the list's filters (None: all); only their changes count.
    """
    later = Change.objects.filter(shop=shop, kind=kind, object_id=OuterRef("object_id")).filter(
        RowAfter(F("txid"), F("id"), OuterRef("txid"), OuterRef("id"))
    )
    rows = Change.objects.filter(shop=shop, kind=kind).filter(RowAfter(F("txid"), F("id"), after[0], after[1]))
    horizon = changes.horizon_value()  # its own statement, before the feed's (see shop.changes)
    if horizon is not None:
        rows = rows.filter(txid__lt=horizon)
    if objects is not None:
        rows = rows.filter(object_id__in=objects.values("pk"))
    rows = list(rows.filter(~Exists(later)).order_by("txid", "id").values_list("txid", "id", "object_id")[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = cursors.encode(rows[-1][0], rows[-1][1]) if rows else cursors.encode(*after)
    return Page(object_ids=[row[2] for row in rows], next_cursor=next_cursor, has_more=has_more)
