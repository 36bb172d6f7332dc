"""The settlement rows of the staff activity (shop.activity): statements and claims the staff moved."""

import heapq

from django.utils.translation import gettext as _

from shop.activity import Entry, Kind, window

from .models import Claim, ClaimLog, Statement, StatementLog


def source(*, shop, user_ids, kinds, since, until, limit):
    if Kind.SETTLEMENT not in kinds:
        return []
    statement_statuses, claim_statuses = dict(Statement.Status.choices), dict(Claim.Status.choices)
    statements = StatementLog.objects.filter(statement__shop=shop, user_id__in=user_ids).values_list(
        "at", "user_id", "to_status", "statement__outlet__code", "statement__month", "note", "id"
    )
    claims = ClaimLog.objects.filter(claim__shop=shop, user_id__in=user_ids).values_list(
        "at", "user_id", "to_status", "claim__service_order__parcel__tracking_no", "note", "id"
    )
    return heapq.merge(
        (
            Entry(
                at,
                user_id,
                Kind.SETTLEMENT,
                _("statement → %(status)s") % {"status": statement_statuses.get(to, to)},
                f"{code} {month:%Y-%m}",
                note,
            )
            for at, user_id, to, code, month, note, _id in window(statements, since=since, until=until, limit=limit)
        ),
        (
            Entry(
                at, user_id, Kind.SETTLEMENT, _("claim → %(status)s") % {"status": claim_statuses.get(to, to)}, no, note
            )
            for at, user_id, to, no, note, _id in window(claims, since=since, until=until, limit=limit)
        ),
        key=lambda entry: entry.at,
        reverse=True,
    )
