"""The merchant API at a million after-sales: a page, the whole sync by cursors, webhook deliveries.

1. **A page of 100 after-sales** (`GET /api/v1/after-sales?limit=100`), server time in-process
   through the whole middleware stack and the token gate (Django's test client, as
   bench/workbench.py measures the pages), after a warm-up, over REPEAT requests: at the start of
   the feed and at a cursor half-way through it; queries counted on one more request of each.
2. **The whole sync:** from no cursor, following `next_cursor` until `has_more` is false, 100 a page,
   as an ERP's first full sync does; after-sales per second over all pages (quick: the first
   20 000). The scale shop's rows were written by the seed, so their feed rows are written first
   (api.backfill, as `manage.py backfill_change_feed` does after an import). The token's rate limit
   (20 requests/s, that is at most 2 000 after-sales/s for one token) is lifted for the run: the
   figure is what the server can do, not what one token is allowed.
3. **Webhook deliveries:** a fresh shop's DELIVERIES after-sales each change once; the dispatcher
   turns the changes into deliveries to a local receiver (a threaded HTTP server answering 200),
   then two worker processes (each `webhooks.deliver_due` in a loop, as a qcluster's task would)
   send them; deliveries per second from their start to the last one delivered.
"""

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from .common import BASE_DIR, Context, summary_ms

REPEAT, QUICK_REPEAT = 30, 5
PAGE = 100
QUICK_SYNC_ROWS = 20_000
DELIVERIES, QUICK_DELIVERIES = 2_000, 200
WORKERS = 2
PATH = "/api/v1/after-sales"
UNLIMITED = {"API_RATE_LIMIT_PER_SECOND": 1e9, "API_RATE_LIMIT_BURST": 1e9}


def run(ctx: Context) -> dict:
    from api import backfill, tokens

    started = time.monotonic()
    written = backfill.backfill_change_feed()
    ctx.log(f"api: change feed backfilled, {written:,} rows written in {time.monotonic() - started:.1f} s")
    _token, secret = tokens.create_api_token(shop=ctx.shop, name=f"bench {time.time():.0f}", scopes="read")
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    with override_settings(**UNLIMITED):
        synced, sync_s, middle = sync(ctx, client)
        repeat = QUICK_REPEAT if ctx.quick else REPEAT
        first = timed(client, {"limit": PAGE}, repeat)
        deep = timed(client, {"limit": PAGE, "cursor": middle}, repeat)
    ctx.tables["Merchant API, per request"] = [
        ("GET /api/v1/after-sales?limit=100 · first page", first["median_ms"], first["p95_ms"], first["queries"]),
        (f"the same · cursor at {synced // 2:,}", deep["median_ms"], deep["p95_ms"], deep["queries"]),
    ]
    deliveries = DELIVERIES if not ctx.quick else QUICK_DELIVERIES
    delivered, deliver_s = webhooks(ctx, deliveries)
    ctx.notes.append(
        f"api: {synced:,} after-sales synced by cursors, 100 a page, in {sync_s:.1f} s (rate limit lifted); "
        f"{delivered:,} webhook deliveries by {WORKERS} worker processes to a local receiver in {deliver_s:.1f} s"
    )
    return {
        "api_page_median_ms": first["median_ms"],
        "api_page_p95_ms": first["p95_ms"],
        "api_page_deep_median_ms": deep["median_ms"],
        "api_page_queries": first["queries"],
        "api_page_deep_queries": deep["queries"],
        "api_sync_rows": synced,
        "api_sync_per_s": round(synced / sync_s, 1),
        "api_webhooks_per_s": round(delivered / deliver_s, 1),
    }


def sync(ctx: Context, client: Client) -> tuple[int, float, str]:
    """Follow the cursors from the start; (after-sales read, seconds, the cursor half-way)."""
    limit_rows = QUICK_SYNC_ROWS if ctx.quick else None
    cursors, rows, params = [], 0, {"limit": PAGE}
    started = last_log = time.monotonic()
    while True:
        response = client.get(PATH, params)
        assert response.status_code == 200, response.content[:300]
        body = json.loads(response.content)
        rows += len(body["data"])
        cursors.append(body["next_cursor"])
        params = {"limit": PAGE, "cursor": body["next_cursor"]}
        if not body["has_more"] or (limit_rows and rows >= limit_rows):
            break
        if time.monotonic() - last_log > 30:
            ctx.log(f"api: sync at {rows:,} after-sales, {rows / (time.monotonic() - started):,.0f}/s")
            last_log = time.monotonic()
    elapsed = time.monotonic() - started
    ctx.log(f"api: synced {rows:,} after-sales in {elapsed:.1f} s ({rows / elapsed:,.0f}/s), {len(cursors):,} pages")
    return rows, elapsed, cursors[len(cursors) // 2]


def timed(client: Client, params: dict, repeat: int) -> dict:
    assert client.get(PATH, params).status_code == 200  # warm-up
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(PATH, params)
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 200
        assert len(json.loads(response.content)["data"]) == PAGE
    with CaptureQueriesContext(connection) as queries:
        client.get(PATH, params)
    return {"queries": len(queries.captured_queries), **summary_ms(seconds)}


# --- webhooks ------------------------------------------------------------------------------------
class Server(ThreadingHTTPServer):
    request_queue_size = 128  # two workers open up to 16 connections each at once


class Receiver:
    """A threaded HTTP server on loopback answering every POST 200, counting them."""

    def __init__(self):
        self.count = 0
        self.last_at = 0.0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with lock:
                    receiver.count += 1
                    receiver.last_at = time.monotonic()

            def log_message(self, *args):
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


WORKER = """
import os, sys, time
import django
django.setup()
from api import webhooks
from api.models import WebhookDelivery
print("ready", flush=True)
sys.stdin.readline()  # the clock starts when both workers are up
sent = 0
while True:
    attempted = webhooks.deliver_due()
    sent += attempted
    if not attempted and not WebhookDelivery.objects.filter(status="pending").exists():
        break
    if not attempted:
        time.sleep(0.05)  # the other worker holds the rest
print(sent)
"""


def webhooks(ctx: Context, count: int) -> tuple[int, float]:
    """`count` deliveries to a local receiver by WORKERS processes; (delivered, seconds)."""
    from django.db.models import Max

    from api import webhooks as hooks
    from api.models import WebhookCursor, WebhookDelivery, WebhookEndpoint
    from shop import changes
    from shop.models import Change

    from . import intercept

    shop, owner, after_sale_ids = intercept.make_shop(f"{time.strftime('%m%d%H%M%S')}w", count)
    # The dispatcher starts past everything written so far (the seed's million rows): only this run's.
    cursor, _ = WebhookCursor.objects.get_or_create(pk=1)
    last = Change.objects.order_by("-txid", "-id").values_list("txid", "id").first() or (0, 0)
    cursor.txid, cursor.change_id = last
    cursor.save()
    WebhookDelivery.objects.filter(status="pending").update(status="failed")  # an earlier run's leftovers
    receiver = Receiver()
    try:
        endpoint = WebhookEndpoint.objects.create(
            shop=shop, url=receiver.url, events=["after_sale.updated"], secret="whsec_bench", created_by=owner
        )
        for pk in after_sale_ids:
            changes.record_change(shop_id=shop.pk, event=changes.AFTER_SALE_UPDATED, object_id=pk)
        dispatched = 0
        while moved := hooks.dispatch_changes():
            dispatched += moved
        queued = WebhookDelivery.objects.filter(endpoint=endpoint, status="pending").count()
        ctx.log(f"api: {dispatched:,} changes → {queued:,} deliveries; {WORKERS} worker processes sending")
        env = os.environ | {"DJANGO_SETTINGS_MODULE": "config.settings.bench", "PYTHONPATH": str(BASE_DIR)}
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER],
                cwd=BASE_DIR,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(WORKERS)
        ]
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready"
        started = time.monotonic()
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        sent = [int(worker.communicate(timeout=600)[0].strip() or 0) for worker in workers]
        elapsed = (receiver.last_at or time.monotonic()) - started
        delivered = WebhookDelivery.objects.filter(endpoint=endpoint, status="delivered").count()
        last_attempt = WebhookDelivery.objects.filter(endpoint=endpoint).aggregate(n=Max("attempts"))["n"]
        ctx.log(
            f"api: {delivered:,}/{queued:,} delivered in {elapsed:.1f} s ({delivered / elapsed:,.0f}/s); "
            f"sent per worker {sent}, received {receiver.count:,}, most attempts of one delivery {last_attempt}"
        )
        if delivered != queued or receiver.count != queued:
            raise AssertionError(f"{queued} queued, {delivered} delivered, {receiver.count} received")
        return delivered, elapsed
    finally:
        receiver.close()
