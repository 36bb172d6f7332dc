"""Where a bench request's time goes, by layer: one in-process path of `make bench` under cProfile.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/backoffice_bench \\
        .venv/bin/python -m bench.profile workbench|detail|events|intercept [-n N] [--top 15]

The paths are the bench's own, through the test client (URL routing, middleware, session, view,
template): `workbench` cycles through bench/workbench.py's lists and `detail` is its after-sale
detail, both as the merchant of the seeded shop "scale-shop"; `events` posts bench/events.py's
signed events of fresh orders of a shop of its own (the middleware and view gunicorn runs, here in
one process and without the server); `intercept` is one carrier task of a bulk interception (see
intercept_path). DJANGO_SETTINGS_MODULE defaults to the bench's settings.

How it measures. After a warm-up round, N requests run plain, then N more under cProfile (enabled
around each request only). The plain run gives the wall time, the CPU time of this process and of
its PostgreSQL backend (/proc, when the server is local) and, through a connection.execute_wrapper,
the time inside cursor.execute (psycopg's client-side cursor receives the whole result there) and
each query. cProfile gives each function's own time; a function counts in a layer by its module
(LAYERS); the own time of one of no layer (the standard library, builtins, django.utils, …) goes to
its callers' layers in the proportions cProfile recorded per caller, up the call graph until a
layer. cProfile slows Python code, not a wait on a socket, so its raw shares overstate Python: the
table's "database" is the time inside execute measured plainly plus the driver's other work (fetch,
commit) at its profiled share, and the other layers share the rest of the plain mean in their
profiled proportions. The top functions are as profiled (inflated alike).
"""

import argparse
import ast
import cProfile
import itertools
import logging
import os
import pstats
import random
import re
import sys
import time
from collections import defaultdict
from functools import cache
from pathlib import Path
from statistics import mean, median

from bench.common import BASE_DIR, Context

DATABASE, HARNESS = "database (driver: execute, fetch, commit)", "test client, rest"
REQUEST_STACK = "request stack: handler, URLs, middleware, session, auth"
OUR_CODE = "our code (views, services, selectors, tags)"
# First match wins, on "path:Qualname" (path from site-packages, the standard library or the project).
LAYERS = [
    (DATABASE, r"psycopg|^sqlite3/|'sqlite3\.|^django/db/(backends/|transaction\.py|utils\.py)"),
    ("SQL compilation (sql/compiler.py)", r"^django/db/models/sql/compiler\.py"),
    (
        "ORM: query building",
        r"^django/db/models/(sql/|expressions\.py|lookups\.py|query_utils\.py|functions/|aggregates\.py|manager\.py)"
        r"|^django/db/models/query\.py:QuerySet\.",
    ),
    ("ORM: rows → model instances", r"^django/db/models/"),
    ("templates (django.template)", r"^django/(template|templatetags)/"),
    ("forms, filters, tables (libraries)", r"^django/forms/|^django_filters/|^django_tables2/"),
    (
        REQUEST_STACK,
        r"^django/(core/handlers|urls|middleware|http|views|contrib/(sessions|auth|messages))/|^(axes|whitenoise)/",
    ),
    (OUR_CODE, None),  # the project's packages, and its middleware in the request stack: layers()
    (HARNESS, r"^django/test/|^bench/"),
]
# Dispatch that only passes on the time of what it calls: the template engine walking its nodes and
# includes, the handler and middleware chain, the test client, the queryset's iteration protocol.
PLUMBING = (
    r"^django/(test/|core/handlers/|template/(base|loader_tags|loader|defaulttags)\.py|template/backends/"
    r"|shortcuts\.py|utils/deprecation\.py|views/generic/base\.py|db/backends/utils\.py)|^bench/"
    r"|^django/db/models/query\.py:(QuerySet\.(__iter__|_fetch_all|__len__|__bool__)|\w*Iterable\.__iter__)"
    r"|^<|^functools\.py"  # builtins (getattr, str.join, …) and cached_property pass on what they call
)
PROJECT_PACKAGES = sorted(
    p.parent.name for p in BASE_DIR.glob("*/__init__.py") if p.parent.name not in ("bench", "tests")
)
DEFAULT_N = {"workbench": 60, "detail": 30, "events": 200, "intercept": 5}


# --- the paths ---------------------------------------------------------------------------------
def workbench_path(ctx: Context, calls: int):
    """Each call: the next of bench/workbench.py's lists, as the merchant; returns its label."""
    from django.test import Client
    from django.urls import reverse

    from bench import workbench

    client = Client()
    client.force_login(ctx.user)
    url = reverse("aftersales:workbench")
    cases = itertools.cycle(workbench.workbench_cases(ctx, workbench.sample_after_sale(ctx.shop_id)).items())

    def one() -> str:
        label, params = next(cases)
        assert client.get(url, params).status_code == 200, label
        return label

    return one


def detail_path(ctx: Context, calls: int):
    from django.test import Client

    from bench import workbench

    client = Client()
    client.force_login(ctx.user)
    url = workbench.detail_url(workbench.sample_after_sale(ctx.shop_id))

    def one() -> str:
        assert client.get(url).status_code == 200
        return "after-sale detail"

    return one


def events_path(ctx: Context, calls: int):
    """Each call: the next signed event of bench/events.py's fresh orders (each order's in order)."""
    from django.test import Client

    from bench import events

    rng = random.Random(20261124)
    shop_code = events.make_shop()
    stream = itertools.chain.from_iterable(events.order_events(rng, shop_code, n) for n in itertools.count())
    client = Client()

    def one() -> str:
        item = next(stream)
        response = events.post_in_process(client, item)
        assert response.status_code < 500, (item["type"], response.status_code, response.content[:200])
        return item["type"]

    return one


def intercept_path(ctx: Context, calls: int):
    """Each call: one carrier task of a bulk interception (interception.tasks.run_service_orders on a
    chunk of LAUNCH_CHUNK_SIZE of bench/intercept.py's parcels), with an instant simulated carrier and
    the results applied in this thread: what a worker spends on its parcels besides the carrier's wait."""
    from unittest import mock

    from django.test import override_settings
    from django.utils import timezone

    from bench import intercept
    from interception import services
    from interception.services.launch import LAUNCH_CHUNK_SIZE

    shop, owner, ids = intercept.make_shop(f"prof{timezone.now():%m%d%H%M%S}", calls * LAUNCH_CHUNK_SIZE)
    created, _skipped = services.launch_interceptions(
        shop=shop, user=owner, after_sale_ids=ids, via="bulk", enqueue=False
    )
    ids = [service_order.pk for service_order in created]
    chunks = iter([ids[i : i + LAUNCH_CHUNK_SIZE] for i in range(0, len(ids), LAUNCH_CHUNK_SIZE)])
    # No worker here: the chunk's notification task is not queued (the bench's cluster would run it).
    mock.patch("aftersales.notifications.async_task").start()
    override_settings(CARRIER_SIMULATED_LATENCY=0, CARRIER_RESULT_APPLIERS=0).enable()

    def one() -> str:
        outcomes = services.run_service_orders(next(chunks))
        assert set(outcomes) == {"succeeded"}, outcomes
        return f"carrier task of {LAUNCH_CHUNK_SIZE} parcels"

    return one


PATHS = {"workbench": workbench_path, "detail": detail_path, "events": events_path, "intercept": intercept_path}


# --- measuring ---------------------------------------------------------------------------------
class QueryTimer:
    """connection.execute_wrapper: the time inside each execute, by SQL text."""

    def __init__(self):
        self.seconds = 0.0
        self.by_sql: dict[str, list[float]] = defaultdict(list)

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - started
            self.seconds += elapsed
            self.by_sql[sql].append(elapsed)


def backend_cpu_seconds() -> float | None:
    """CPU time so far of this connection's PostgreSQL backend, when it runs on this machine (/proc)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # another machine's server
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def plain(one, n: int) -> tuple[list[float], dict[str, list[tuple[float, int]]], QueryTimer, tuple]:
    """N requests without the profiler: wall seconds, (seconds, queries) by label, the query timer,
    and the CPU seconds of this process and of its database backend (None if not readable)."""
    from django.db import connection

    timer, walls, by_label = QueryTimer(), [], defaultdict(list)
    cpu, backend = time.process_time(), backend_cpu_seconds()
    with connection.execute_wrapper(timer):
        for _ in range(n):
            queries = sum(map(len, timer.by_sql.values()))
            started = time.perf_counter()
            label = one()
            walls.append(time.perf_counter() - started)
            by_label[label].append((walls[-1], sum(map(len, timer.by_sql.values())) - queries))
    cpu = time.process_time() - cpu
    backend = None if backend is None else backend_cpu_seconds() - backend
    return walls, by_label, timer, (cpu, backend)


def profiled(one, n: int) -> tuple[pstats.Stats, float, QueryTimer]:
    from django.db import connection

    profiler, timer, wall = cProfile.Profile(), QueryTimer(), 0.0
    with connection.execute_wrapper(timer):
        for _ in range(n):
            started = time.perf_counter()
            profiler.enable()  # the request only: not this loop
            one()
            profiler.disable()
            wall += time.perf_counter() - started
    return pstats.Stats(profiler), wall, timer


# --- layers ------------------------------------------------------------------------------------
@cache
def qualnames(filename: str) -> dict[int, str]:
    """First line of each def (its first decorator's, as code objects count) → its dotted name."""
    try:
        tree = ast.parse(Path(filename).read_text())
    except (OSError, SyntaxError, ValueError):
        return {}
    names: dict[int, str] = {}

    def visit(node, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    names[min([child.lineno] + [d.lineno for d in child.decorator_list])] = name
                visit(child, f"{name}.")

    visit(tree, "")
    return names


@cache
def label(func: tuple[str, int, str]) -> str:
    """ "django/db/models/query.py:QuerySet.filter", or a builtin's own name."""
    filename, line, name = func
    if filename == "~" or filename.startswith("<"):
        return name
    path = filename.replace(os.sep, "/")
    for marker in ("/site-packages/", f"/python{sys.version_info.major}.{sys.version_info.minor}/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        if filename.startswith(str(BASE_DIR)):
            path = os.path.relpath(filename, BASE_DIR)
    return f"{path}:{qualnames(filename).get(line, name)}"


@cache
def layers() -> list[tuple[str, re.Pattern]]:
    """LAYERS compiled, with our middleware (settings.MIDDLEWARE) in the request stack, before our code."""
    from django.conf import settings

    ours = "|".join(re.escape(entry.rsplit(".", 1)[0].replace(".", "/")) for entry in settings.MIDDLEWARE)
    packages = "|".join(PROJECT_PACKAGES)
    extra = {REQUEST_STACK: rf"|^({ours})\.py:", OUR_CODE: rf"^({packages})/"}
    return [(layer, re.compile((pattern or "") + extra.get(layer, ""))) for layer, pattern in LAYERS]


@cache
def layer_of(func: tuple[str, int, str]) -> str | None:
    text = label(func)
    return next((layer for layer, pattern in layers() if pattern.search(text)), None)


def layer_seconds(stats: dict) -> dict[str, float]:
    """Every function's own time in a layer: its own, or its callers' (see the module docstring)."""
    memo: dict = {}

    def shares(func) -> dict[str, float]:
        if layer := layer_of(func):
            return {layer: 1.0}
        if func in memo:
            return memo[func]
        memo[func] = {HARNESS: 1.0}  # a cycle back here: left to the rest
        callers = stats[func][4] if func in stats else {}
        total = sum(edge[3] for edge in callers.values())
        result: dict[str, float] = defaultdict(float)
        for caller, edge in callers.items():
            for layer, share in shares(caller).items():
                result[layer] += share * edge[3] / total if total else 0
        memo[func] = dict(result) if result else {HARNESS: 1.0}
        return memo[func]

    seconds: dict[str, float] = defaultdict(float)
    for func, (_cc, _nc, own, _cum, callers) in stats.items():
        if layer := layer_of(func):
            seconds[layer] += own
            continue
        # Each caller's share of this function's own time is exact; further up, shares by cumulative time.
        total = sum(edge[2] for edge in callers.values())
        for caller, edge in callers.items() if total else [(func, None)]:
            for layer, share in shares(caller).items():
                seconds[layer] += own * (edge[2] / total if edge else 1) * share
    return seconds


# --- report ------------------------------------------------------------------------------------
def report(target: str, n: int, top: int) -> None:
    from django.db import connection

    ctx = context()
    # Warm-up: each list once (caches, the session, the query plans).
    rounds = {"workbench": 10, "intercept": 1}.get(target, 3)
    one = PATHS[target](ctx, rounds + 2 * n)
    for _ in range(rounds):
        one()
    walls, by_label, timer, (cpu, backend) = plain(one, n)
    stats, profiled_wall, profiled_timer = profiled(one, n)
    raw = layer_seconds(stats.stats)
    queries = sum(map(len, timer.by_sql.values())) / n
    wall, db_wait = mean(walls), timer.seconds / n
    # The plain wall time: execute measured as it is; the rest in the profile's proportions.
    raw[DATABASE] = max(0.0, raw.get(DATABASE, 0.0) - profiled_timer.seconds)
    rest = sum(raw.values())
    table = {layer: (wall - db_wait) * seconds / rest for layer, seconds in raw.items()}
    table[DATABASE] += db_wait

    print(f"## bench.profile {target}: {n} requests on {connection.vendor} ({ctx.after_sales:,} after-sales)\n")
    print(
        f"Plain: median {median(walls) * 1000:.1f} ms, mean {wall * 1000:.1f} ms, {queries:.1f} queries a request, "
        f"{db_wait * 1000:.1f} ms inside execute. Under cProfile: mean {profiled_wall / n * 1000:.1f} ms."
    )
    # What a request costs the machine, whatever the load: the ceiling of requests/s on its cores.
    backend_ms = "?" if backend is None else f"{backend / n * 1000:.1f}"
    print(f"CPU a request: {cpu / n * 1000:.1f} ms this process, {backend_ms} ms its PostgreSQL backend.\n")
    print("| Layer | ms/request | % |\n|---|---:|---:|")
    for layer, seconds in sorted(table.items(), key=lambda item: -item[1]):
        print(f"| {layer} | {seconds * 1000:.1f} | {seconds / wall * 100:.0f} |")
    print(f"| **total (plain mean)** | **{wall * 1000:.1f}** | 100 |\n")
    if len(by_label) > 1:
        print("| Request | n | mean ms | queries (most) |\n|---|---:|---:|---:|")
        for name, rows in sorted(by_label.items(), key=lambda item: -mean(s for s, _q in item[1])):
            print(f"| {name} | {len(rows)} | {mean(s for s, _q in rows) * 1000:.1f} | {max(q for _s, q in rows)} |")
        print()
    print("| Query (plain run, by time) | ms/request | calls/request |\n|---|---:|---:|")
    for sql, seconds in sorted(timer.by_sql.items(), key=lambda item: -sum(item[1]))[:5]:
        text = re.sub(r"\s+", " ", sql).replace("|", "\\|")
        text = re.sub(r"^SELECT .*? FROM ", "SELECT … FROM ", text)  # the column list says little
        text = text[:150] + ("…" if len(text) > 150 else "")
        print(f"| `{text}` | {sum(seconds) / n * 1000:.2f} | {len(seconds) / n:g} |")
    # Wrappers around (nearly) the whole request, and the plumbing that passes the time of what it
    # runs through (PLUMBING), would fill the list with the same figure: left out.
    total = stats.total_tt
    print(f"\nTop {top} by cumulative time under cProfile, ms/request (wrappers and plumbing left out)\n")
    print("| cumulative | own | calls | function |\n|---:|---:|---:|---|")
    rows = sorted(stats.stats.items(), key=lambda item: -item[1][3])
    shown = [(f, row) for f, row in rows if row[3] < 0.9 * total and not re.search(PLUMBING, label(f))][:top]
    for func, (_cc, calls, own, cum, _callers) in shown:
        print(f"| {cum / n * 1000:.2f} | {own / n * 1000:.2f} | {calls / n:g} | `{label(func)}` |")


def context() -> Context:
    from aftersales.models import AfterSale
    from shop.models import Shop, User

    from .run import SHOP_CODE

    shop = Shop.objects.filter(code=SHOP_CODE).first()
    user = User.objects.filter(username="scale", shop=shop).first()
    if shop is None or user is None:
        sys.exit(f"No shop {SHOP_CODE!r} here: seed it first (python -m bench.run --only= , see bench/README.md).")
    return Context(shop_id=shop.pk, user_id=user.pk, after_sales=AfterSale.objects.filter(shop=shop).count())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=sorted(PATHS))
    parser.add_argument("-n", type=int, default=None, help=f"requests measured (default {DEFAULT_N})")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        sys.exit("Set DATABASE_URL to the bench database (see the docstring).")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
    import django

    django.setup()
    logging.getLogger("django.request").setLevel(logging.ERROR)  # the events' expected 409s, one line each
    report(args.target, args.n or DEFAULT_N[args.target], args.top)


if __name__ == "__main__":
    main()
