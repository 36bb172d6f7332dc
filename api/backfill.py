"""Change-feed rows for after-sales and service orders that have none (data from before the feed, or
written straight to the database by a seed): the first full sync of an ERP must see them too.

One INSERT … SELECT per table, oldest change first; rows get transaction id 0, so they sort before
every change written since, and a cursor already past them loses nothing new.
"""

from django.db import connection

TABLES = (
    ("after_sale", "after_sale.updated", "aftersales_aftersale"),
    ("service_order", "service_order.updated", "interception_serviceorder"),
)


def backfill_change_feed(schema_connection=None) -> int:
    """Write the missing rows; how many were written."""
    db = schema_connection or connection
    written = 0
    with db.cursor() as cursor:
        for kind, event, table in TABLES:
            cursor.execute(
                f"""
                INSERT INTO shop_change (shop_id, kind, event, object_id, txid, created_at)
                SELECT o.shop_id, %s, %s, o.id, 0, o.updated_at FROM {table} AS o
                WHERE NOT EXISTS (
                    SELECT 1 FROM shop_change AS c WHERE c.shop_id = o.shop_id AND c.kind = %s AND c.object_id = o.id
                )
                ORDER BY o.updated_at, o.id
                """,  # noqa: S608 - table names are the constants above
                [kind, event, kind],
            )
            written += cursor.rowcount
    return written
