"""`make bench`: the back office at a million after-sales, measured in one run, next to Django admin.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/backoffice_bench .venv/bin/python -m bench.run
        [--after-sales 1000000] [--quick] [--only workbench,exports,sweep,intercept,events,api,cluster]

Against DATABASE_URL (a scratch database: created if it is a PostgreSQL one that does not exist,
migrated, then filled by `bench/seed_scale/` up to --after-sales in the shop "scale-shop" unless it
holds that many already; `--only=` only seeds), each part of this package measures what it names
and returns its figures. The run writes bench/results/latest.json and latest.md (a run of some
parts replaces only their figures there), and, for a whole run, the table into README.md between
its bench markers. A part that fails is reported and makes the run exit 1; the others still run.
"""

import argparse
import importlib
import json
import os
import platform
import re
import subprocess
import sys
import time
import traceback
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
RESULTS = BASE_DIR / "bench" / "results"
README = BASE_DIR / "README.md"
PARTS = ("workbench", "exports", "sweep", "intercept", "events", "api", "cluster")
SHOP_CODE = "scale-shop"
README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"

# key → (what it measures, unit, target as text, whether a value meets it)
TARGETS = {
    "after_sales": ("after-sales in the measured shop", "", "1 000 000", None),
    "workbench_median_ms": ("workbench page, median over all lists measured", "ms", "≤ 25", lambda v: v <= 25),
    "workbench_p95_ms": ("workbench page, p95", "ms", "≤ 50", lambda v: v <= 50),
    "workbench_deep_median_ms": ("workbench page at position 150 000, median", "ms", "≤ 25", lambda v: v <= 25),
    "workbench_queries": ("queries per workbench page (most of any list)", "", "same at every depth", None),
    "detail_median_ms": ("after-sale detail, median", "ms", "≤ 25", lambda v: v <= 25),
    "detail_queries": ("queries per after-sale detail", "", "≤ 10", lambda v: v <= 10),
    "admin_median_ms": ("default admin changelist, median", "ms", "", None),
    "admin_ratio": ("admin median ÷ workbench median", "×", "≥ 20", lambda v: v >= 20),
    "csv_rows_per_s": ("CSV export of 100 000 rows", "rows/s", "≥ 50 000", lambda v: v >= 50_000),
    "csv_rss_growth_mb": ("CSV export, memory growth", "MB", "< 30", lambda v: v < 30),
    "xlsx_100k_s": ("XLSX export of 100 000 rows (worker job)", "s", "< 15", lambda v: v < 15),
    "xlsx_peak_mb": ("XLSX export, peak memory", "MB", "< 200", lambda v: v < 200),
    "bulk_intercept_1000_s": ("bulk interception of 1 000 parcels, 1 worker", "s", "< 30", lambda v: v < 30),
    "bulk_intercept_1000_redis_2w_s": ("the same, Redis broker and 2 workers", "s", "< 15", lambda v: v < 15),
    "bulk_intercept_notifications_s": ("its last buyer notification sent, 1 worker", "s", "< 30", lambda v: v < 30),
    "bulk_intercept_notifications_redis_2w_s": (
        "its last buyer notification sent, Redis and 2 workers",
        "s",
        "< 15",
        lambda v: v < 15,
    ),
    "sweep_10k_s": ("timeout sweep of 10 000 overdue after-sales", "s", "< 30", lambda v: v < 30),
    "events_per_s": ("platform events through gunicorn, 4 workers", "events/s", "≥ 300", lambda v: v >= 300),
    "events_p50_ms": ("platform event latency, 4 workers, median", "ms", "≤ 15", lambda v: v <= 15),
    "events_per_s_8w": ("platform events through gunicorn, 8 workers", "events/s", "≥ 300", lambda v: v >= 300),
    "events_p50_ms_8w": ("platform event latency, 8 workers, median", "ms", "≤ 15", lambda v: v <= 15),
    "api_page_median_ms": ("merchant API, a page of 100 after-sales, median", "ms", "≤ 30", lambda v: v <= 30),
    "api_page_queries": ("merchant API page, queries at the start", "", "", None),
    "api_page_deep_queries": ("merchant API page, queries half-way through the feed", "", "the same", None),
    "api_sync_per_s": ("merchant API, the whole sync by cursors", "after-sales/s", "≥ 3 000", lambda v: v >= 3000),
    "api_webhooks_per_s": ("webhook deliveries, 2 workers", "deliveries/s", "≥ 200", lambda v: v >= 200),
    "cluster_lost": ("scale-out run: events, parcels, refunds or notifications lost", "", "0", lambda v: v == 0),
    "cluster_duplicated": ("scale-out run: any of them done twice", "", "0", lambda v: v == 0),
    "cluster_5xx": ("scale-out run: 5xx or unanswered requests", "", "0", lambda v: v == 0),
    "cluster_events_per_s": ("scale-out run: events/s beside the interception and reads", "events/s", "", None),
    "cluster_events_p95_ms": ("scale-out run: event latency, p95", "ms", "", None),
    "cluster_intercept_s": ("scale-out run: 1 000-parcel interception, last result", "s", "", None),
    "cluster_workbench_p95_ms": ("scale-out run: workbench read through gunicorn, p95", "ms", "", None),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--after-sales", type=int, default=int(os.environ.get("BENCH_AFTER_SALES", 1_000_000)))
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sizes, few repetitions")
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts (default: all)")
    return parser.parse_args()


def database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        sys.exit("Set DATABASE_URL to a scratch database, e.g. postgres://postgres@127.0.0.1:5432/backoffice_bench")
    if url.startswith("sqlite") and Path(url.split(":///", 1)[-1]).resolve() == BASE_DIR / "var" / "db.sqlite3":
        sys.exit("Refusing to run on the development database var/db.sqlite3: use a scratch one.")
    return url


def create_postgres_database(url: str) -> None:
    """CREATE DATABASE when a PostgreSQL URL names one that does not exist yet."""
    if not url.startswith(("postgres://", "postgresql://")):
        return
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(url)
    conninfo = {k: v for k, v in {"host": config["HOST"], "port": config["PORT"], "user": config["USER"]}.items() if v}
    if config.get("PASSWORD"):
        conninfo["password"] = config["PASSWORD"]
    with psycopg.connect(dbname="postgres", autocommit=True, **conninfo) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{config["NAME"]}"')
            print(f"Created database {config['NAME']}", file=sys.stderr)


def ensure_volume(after_sales: int, log) -> tuple[int, int, int]:
    """The scale shop with at least `after_sales` after-sales: (shop id, merchant id, count)."""
    from django.db import connection

    from aftersales.models import AfterSale
    from shop.models import Shop, User

    from .seed_scale import seed_scale

    shop = Shop.objects.filter(code=SHOP_CODE).first()
    have = AfterSale.objects.filter(shop=shop).count() if shop else 0
    if have < after_sales:
        log(f"seed_scale: {have:,} → {after_sales:,} after-sales (bulk inserts; minutes on PostgreSQL)")
        seed_scale(after_sales=after_sales - have, shop=SHOP_CODE, append=have > 0, batch=50_000)
        # Fresh statistics and visibility map: the planner and index-only scans see what a live database sees.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    shop = Shop.objects.get(code=SHOP_CODE)
    user = User.objects.get(username="scale")
    return shop.pk, user.pk, AfterSale.objects.filter(shop=shop).count()


@contextmanager
def schedules_paused():
    """Keep the periodic tasks (timeout sweep, statement refresh, …) out of the run.

    A part that starts a worker would otherwise also run them: the sweep would time out the scale
    shop's overdue after-sales in the middle of the bulk-interception timing, and change the data
    the other parts read. Restored at the end; a scratch database killed mid-run keeps them paused.
    """
    from django_q.models import Schedule

    saved = list(Schedule.objects.values_list("pk", "next_run"))
    Schedule.objects.update(next_run=datetime(2999, 1, 1, tzinfo=UTC))
    try:
        yield
    finally:
        for pk, next_run in saved:
            Schedule.objects.filter(pk=pk).update(next_run=next_run)


def machine() -> dict:
    from django.db import connection

    cpu = "unknown"
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            database = f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
        else:
            cursor.execute("SELECT sqlite_version()")
            database = f"SQLite {cursor.fetchone()[0]}"
    import django

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_gb, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "django": django.get_version(),
        "database": database,
    }


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=BASE_DIR, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "—" if value is None else str(value)


def markdown(results: dict, meta: dict, tables: dict, notes: list[str]) -> str:
    m = meta["machine"]
    lines = [
        f"Measured {meta['finished_at']} (commit {meta['commit'] or '?'}, {meta['duration_s']:.0f} s"
        f"{', QUICK smoke run' if meta['quick'] else ''}) on {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB,"
        f" {m['os']}; {m['database']}, Python {m['python']}, Django {m['django']}.",
        "",
        "| Measure | Result | Target | |",
        "|---|---:|---|---|",
    ]
    for key, (label, unit, target, meets) in TARGETS.items():
        value = results.get(key)
        verdict = "" if meets is None or value is None else ("met" if meets(value) else "**missed**")
        result = f"{fmt(value)} {unit}".strip() if value is not None else "not measured"
        goal = f"{target} {unit}".strip() if target else ""
        lines.append(f"| {label} (`{key}`) | {result} | {goal} | {verdict} |")
    for title, rows in tables.items():
        lines += ["", f"**{title}**", "", "| Request | Median ms | p95 ms | Queries |", "|---|---:|---:|---:|"]
        lines += [f"| {label} | {fmt(median)} | {fmt(p95)} | {queries} |" for label, median, p95, queries in rows]
    if notes:
        lines += [""] + [f"- {note}" for note in notes]
    if meta["failed"]:
        lines += ["", f"Failed parts: {', '.join(meta['failed'])} (see the run's output)."]
    return "\n".join(lines) + "\n"


def update_readme(table: str) -> None:
    text = README.read_text()
    pattern = re.compile(re.escape(README_START) + ".*?" + re.escape(README_END), re.S)
    if pattern.search(text):
        README.write_text(pattern.sub(lambda _m: f"{README_START}\n{table}{README_END}", text))


def main() -> int:
    args = parse_args()
    url = database_url()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
    sys.path.insert(0, str(BASE_DIR))
    create_postgres_database(url)
    import django

    django.setup()
    import logging

    logging.getLogger("django-q").setLevel(logging.WARNING)
    from django.core.management import call_command

    from .common import Context

    started = time.monotonic()
    call_command("migrate", verbosity=0)
    context = Context(shop_id=0, user_id=0, after_sales=0, quick=args.quick)
    context.shop_id, context.user_id, context.after_sales = ensure_volume(args.after_sales, context.log)
    results: dict = {"after_sales": context.after_sales}
    parts = [part.strip() for part in args.only.split(",") if part.strip()]
    if not parts:  # `--only=`: the database is seeded, nothing is measured and no result is touched
        context.log(f"seeded: {context.after_sales:,} after-sales in {time.monotonic() - started:.0f} s; no part run")
        return 0
    whole = set(parts) >= set(PARTS)
    if not whole and (RESULTS / "latest.json").exists():
        # Some parts only: their figures replace theirs in the last results, the others' stay.
        previous = json.loads((RESULTS / "latest.json").read_text())
        previous.pop("meta", None)
        results = previous | results
    failed = []
    with schedules_paused():
        for name in parts:
            context.log(f"— {name} —")
            try:
                results.update(importlib.import_module(f"bench.{name}").run(context))
            except Exception:
                traceback.print_exc()
                failed.append(name)
    meta = {
        "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "duration_s": round(time.monotonic() - started, 1),
        "commit": commit(),
        "quick": args.quick,
        "failed": failed,
        "parts": parts,
        "machine": machine(),
    }
    table = markdown(results, meta, context.tables, context.notes)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps({**results, "meta": meta}, indent=2, ensure_ascii=False) + "\n")
    (RESULTS / "latest.md").write_text(table)
    if whole and not args.quick:  # the README's table is always one whole run
        update_readme(table)
    print(table)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
