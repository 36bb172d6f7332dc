"""The staff activity (员工操作记录): who of a shop's staff did what, read from the history rows each
app already writes with its user, plus the staff changes of the team pages.

Each app registers a source in `ready()` (the layers below never name the ones above). A source is
`source(*, shop, user_ids, kinds, since, until, limit) -> Iterable[Entry]`, newest first, scoped to
the shop and to rows written by the given users; the page merges them by time.
"""

import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from django.db import models
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    DECISION = "decision", _("decisions")  # agreed, rejected, refunds and small payments
    FLAG = "flag", _("flags and remarks")
    INTERCEPTION = "interception", _("interceptions launched")
    SETTINGS = "settings", _("settings changed")  # partnerships, the assistant rule
    SETTLEMENT = "settlement", _("settlement")  # statements, payments, reconciliations, claims
    STAFF = "staff", _("staff changes")


@dataclass(frozen=True)
class Entry:
    at: datetime
    user_id: int | None
    kind: str
    action: str  # what was done, in words
    subject: str  # what it was done to: an after-sale number, a tracking number, a member …
    detail: str = ""


Source = Callable[..., Iterable[Entry]]
SOURCES: list[Source] = []


def register(source: Source) -> None:
    if source not in SOURCES:
        SOURCES.append(source)


def entries(
    *, shop, user_ids, kinds=None, since: datetime | None = None, until: datetime | None = None, limit=None
) -> Iterator[Entry]:
    """Every source's entries newest first; at most `limit` (each source reads at most that many)."""
    kinds = set(kinds or Kind.values)
    streams = [
        iter(source(shop=shop, user_ids=list(user_ids), kinds=kinds, since=since, until=until, limit=limit))
        for source in SOURCES
    ]
    merged = heapq.merge(*streams, key=lambda entry: entry.at, reverse=True)
    return islice(merged, limit) if limit else merged


def window(queryset, *, since, until, limit, field="at"):
    """The queryset between the dates, newest first, cut at `limit` (or read as a stream without one)."""
    if since is not None:
        queryset = queryset.filter(**{f"{field}__gte": since})
    if until is not None:
        queryset = queryset.filter(**{f"{field}__lt": until})
    queryset = queryset.order_by(f"-{field}", "-id")
    return queryset[:limit] if limit else queryset.iterator(chunk_size=2000)


def staff_changes(*, shop, user_ids, kinds, since, until, limit):
    from .models import StaffChange

    if Kind.STAFF not in kinds:
        return []
    rows = StaffChange.objects.filter(shop=shop, user_id__in=user_ids).select_related("member")
    labels = dict(StaffChange.Kind.choices)
    return (
        Entry(row.at, row.user_id, Kind.STAFF, str(labels.get(row.kind, row.kind)), row.member.username, row.detail)
        for row in window(rows, since=since, until=until, limit=limit)
    )
