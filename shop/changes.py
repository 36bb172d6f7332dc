"""The change feed: one row per change of an after-sale, refund or service order, written in the
same transaction as the change (nothing for a rolled-back change, nothing lost while a worker is
down), read back in commit order by the merchant API's sync lists and its webhook dispatcher.

Why commit order, and how
-------------------------
A poll of `updated_at > last_seen` (or of `id > last_seen`) loses changes: a long transaction that
wrote at 10:00:00 and commits at 10:00:05 is invisible to a poll at 10:00:02 that already hands out
a change committed at 10:00:01; the next poll starts after that one and never sees the first.

On PostgreSQL every row carries its transaction's id (`pg_current_xact_id()`), and the reader hands
out only rows whose transaction id is below the oldest transaction of this database still running
(horizon_value: like `pg_snapshot_xmin(pg_current_snapshot())`, but not held back by other
databases of the server), in (transaction id, id) order. Every transaction below
that horizon has finished, so no row can still appear before a position once it is handed out: a
reader's cursor never passes a change that will commit later. The price is latency, not loss: while
a transaction runs, rows of younger transactions wait for it (a few milliseconds normally; as long
as the longest writing transaction otherwise). This is exact, unlike a safety lag, which guesses how
long a transaction may take and loses the change of one that takes longer.

On SQLite writers are serialised (BEGIN IMMEDIATE holds the write lock until commit), so ids are
assigned in commit order: `txid` is 0 and the id alone orders the feed.

Lower layers may not import the API: this module and its table are in `shop`, and the services of
after-sales and interception call record_change; the API reads the rows.
"""

from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils import timezone

from .models import Change

AFTER_SALE_CREATED = "after_sale.created"
AFTER_SALE_UPDATED = "after_sale.updated"
REFUND_CREATED = "refund.created"
SERVICE_ORDER_UPDATED = "service_order.updated"

KIND_OF_EVENT = {
    AFTER_SALE_CREATED: Change.Kind.AFTER_SALE,
    AFTER_SALE_UPDATED: Change.Kind.AFTER_SALE,
    REFUND_CREATED: Change.Kind.REFUND,
    SERVICE_ORDER_UPDATED: Change.Kind.SERVICE_ORDER,
}


def transaction_id():
    """An expression for the writing transaction's id (PostgreSQL), or 0 (SQLite: the id orders)."""
    if connection.vendor == "postgresql":
        return RawSQL("pg_current_xact_id()::text::bigint", [])
    return 0


# The oldest transaction of THIS database still running, as a 64-bit id; the next id when none is.
# pg_stat_activity gives 32-bit ids: they are widened with the epoch of the current one. Not the
# server-wide pg_snapshot_xmin(): a long transaction in another database of the same server (a
# report, another application) writes no change of ours and must not hold the feed back.
_HORIZON_SQL = """
WITH current AS (
    -- The reader's own transaction (tests, a dispatcher inside one) sees its own rows: past them too.
    SELECT greatest(
        pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
        coalesce(pg_current_xact_id_if_assigned()::text::bigint + 1, 0)
    ) AS xmax
)
SELECT coalesce(min(
    ((current.xmax >> 32) << 32) + activity.backend_xid::text::bigint
    - CASE WHEN activity.backend_xid::text::bigint > (current.xmax & 4294967295) THEN 4294967296 ELSE 0 END
), current.xmax)
FROM current LEFT JOIN pg_stat_activity AS activity
  ON activity.datname = current_database() AND activity.backend_xid IS NOT NULL
 AND activity.pid <> pg_backend_pid()
GROUP BY current.xmax
"""


def horizon_value() -> int | None:
    """Changes whose transaction id is below this are final (PostgreSQL); None elsewhere.

    Read in a statement of its own, before the feed is read: a transaction that is not running now
    has committed (or rolled back) before the feed's snapshot is taken, so its rows are visible to it.
    """
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(_HORIZON_SQL)
        return cursor.fetchone()[0]


def record_change(*, shop_id: int, event: str, object_id: int) -> None:
    """Record one change, in the caller's transaction (call it where the change is written)."""
    Change.objects.create(
        shop_id=shop_id,
        kind=KIND_OF_EVENT[event],
        event=event,
        object_id=object_id,
        txid=transaction_id(),
        created_at=timezone.now(),
    )


def record_changes(changes) -> None:
    """Record many changes in one INSERT: an iterable of (shop_id, event, object_id)."""
    now, txid = timezone.now(), transaction_id()
    rows = [
        Change(shop_id=shop_id, kind=KIND_OF_EVENT[event], event=event, object_id=object_id, txid=txid, created_at=now)
        for shop_id, event, object_id in changes
    ]
    if rows:
        Change.objects.bulk_create(rows)
