"""Keyset ("seek") pagination over a nullable timestamp column and the id, NULLs last either way.

OFFSET reads and throws away every row before the page: page 3 000 of a million-row list costs
3 000 pages. A keyset page starts right after the last row the merchant saw, through the
(…, column, id) index, so every depth costs the same. Rows whose column is NULL (closed after-sales
have no deadline) come after all the others, by id: they are a second segment, read only when the
first runs out before the page is full.

The cursor is the row's (column, id), written into the URL as `<µs since epoch or ->.<id>`.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Q, QuerySet

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
NULL = "-"


@dataclass(frozen=True)
class Cursor:
    value: datetime | None
    pk: int

    @property
    def token(self) -> str:
        value = NULL if self.value is None else str((self.value - EPOCH) // MICROSECOND)
        return f"{value}.{self.pk}"

    @classmethod
    def parse(cls, token: str | None) -> "Cursor | None":
        """The cursor a token names, or None for anything else (a hand-edited URL lists the first page)."""
        if not token:
            return None
        value, sep, pk = token.partition(".")
        if not sep or not pk.isdigit() or not (value == NULL or value.lstrip("-").isdigit()):
            return None
        try:
            return cls(None if value == NULL else EPOCH + int(value) * MICROSECOND, int(pk))
        except OverflowError:
            return None


@dataclass(frozen=True)
class KeysetPage:
    rows: list
    next_cursor: Cursor | None  # the last row, when more rows follow
    previous_cursor: Cursor | None  # the first row, when rows come before it

    @property
    def next_token(self) -> str | None:
        return self.next_cursor.token if self.next_cursor else None

    @property
    def previous_token(self) -> str | None:
        return self.previous_cursor.token if self.previous_cursor else None


def _beyond(field: str, cursor: Cursor, descending: bool) -> Q:
    """Rows after the cursor within the non-NULL segment, walking that way.

    `column >= v` (or <=) comes first so that the database starts its index range at the cursor;
    the OR then only sorts out the rows that share the cursor's timestamp.
    """
    v, pk = cursor.value, cursor.pk
    if descending:
        return Q(**{f"{field}__lte": v}) & (Q(**{f"{field}__lt": v}) | Q(pk__lt=pk))
    return Q(**{f"{field}__gte": v}) & (Q(**{f"{field}__gt": v}) | Q(pk__gt=pk))


def _segments(
    field: str, *, descending: bool, backward: bool, cursor: Cursor | None
) -> list[tuple[Q, list[str], bool]]:
    """(condition, ordering, is the NULL segment) of each segment still ahead of the cursor, in walking order."""
    walk_descending = descending != backward
    value_order = [f"-{field}" if walk_descending else field, "-pk" if walk_descending else "pk"]
    # Ordering the NULL segment by the column too (a no-op: it is NULL throughout) keeps the database
    # on the (…, column, id) index; "by id" alone invites a walk of the primary key past every row.
    null_order = value_order
    value_segment, null_segment = Q(**{f"{field}__isnull": False}), Q(**{f"{field}__isnull": True})
    if cursor is not None and cursor.value is not None:
        value_segment &= _beyond(field, cursor, walk_descending)
    if cursor is not None and cursor.value is None:
        null_segment &= Q(pk__lt=cursor.pk) if walk_descending else Q(pk__gt=cursor.pk)
    segments = [(value_segment, value_order, False), (null_segment, null_order, True)]
    if backward:
        segments.reverse()  # walking back from the end: the NULL segment comes first
    if cursor is not None:
        # Drop the segments the walk has already left behind.
        inside_null = cursor.value is None
        segments = segments[1:] if inside_null != backward else segments
    return segments


def paginate(
    queryset: QuerySet,
    *,
    field: str,
    descending: bool = False,
    per_page: int,
    after: Cursor | None = None,
    before: Cursor | None = None,
) -> KeysetPage:
    """One page of `queryset` ordered by (field NULLS LAST, pk), after or before a cursor.

    Two queries at any depth and page size (the keys of the page, then its rows with the queryset's
    select_related), and one more on the page where the rows with a value run out. `queryset`
    carries the filters.
    """
    backward = after is None and before is not None
    cursor = before if backward else after
    walk_descending = descending != backward
    segments = _segments(field, descending=descending, backward=backward, cursor=cursor)
    keys = _page_keys(queryset, segments, field=field, limit=per_page + 1)
    # In walking order: the segments in turn, each by (value, pk) or by pk, the way the walk goes.
    with_value = sorted((k for k in keys if k[1] is not None), key=lambda k: (k[1], k[0]), reverse=walk_descending)
    without = sorted((k for k in keys if k[1] is None), reverse=walk_descending)
    ids = [pk for pk, _value in (without + with_value if backward else with_value + without)][: per_page + 1]
    by_pk = queryset.in_bulk(ids) if ids else {}
    found = [by_pk[pk] for pk in ids if pk in by_pk]
    more = len(found) > per_page
    rows = found[:per_page]
    if backward:
        if not more and len(rows) < per_page:
            # Fewer rows before the cursor than a page: that is the first page, shown whole.
            return paginate(queryset, field=field, descending=descending, per_page=per_page)
        rows.reverse()
        return KeysetPage(rows, _cursor(rows[-1], field), _cursor(rows[0], field) if more else None)
    next_cursor = _cursor(rows[-1], field) if more else None
    previous_cursor = _cursor(rows[0], field) if after is not None and rows else None
    return KeysetPage(rows, next_cursor, previous_cursor)


def _page_keys(queryset: QuerySet, segments, *, field: str, limit: int) -> list[tuple]:
    """(pk, value) of up to `limit` rows ahead: from the first segment, and from the next only if needed.

    Each segment is one index range scan that stops at `limit` rows, so no page walks the rows
    before its cursor. The second segment is read only on the page where the first runs out: a
    filter that matches none of its rows (say, open statuses among the closed after-sales, which
    have no deadline) could otherwise make the database walk all of them on every page.
    """
    keys: list[tuple] = []
    for condition, ordering, _null in segments:
        keys += queryset.filter(condition).order_by(*ordering).values_list("pk", field)[: limit - len(keys)]
        if len(keys) >= limit:
            break
    return keys


def _cursor(row, field: str) -> Cursor:
    return Cursor(getattr(row, field), row.pk)
