"""Exports at scale: the workbench CSV streamed through its view, and the XLSX job run in-process.

The rows: an `applied_from`/`applied_to` window of the seeded shop chosen so that the workbench lists
about 100 000 after-sales (10 000 with ctx.quick) for it, i.e. the same filter a merchant would type;
the figures are per row actually exported (`csv_rows`), which is within a day's worth of the target.

- CSV: `WorkbenchCsvView` called with a RequestFactory request whose user is ctx.user (no login, so
  nothing is written: no session row, no last_login), its streaming response consumed to the last
  byte the way a WSGI server does. rows/s = rows / seconds from the call to the last byte (query,
  sort and formatting included). RSS growth = RSS after − RSS before, in-process, after a warm-up
  export of a small window (so that imports and the first query's caches are not counted);
  `csv_peak_growth_mb` is the top of a 5 ms sampling thread minus RSS before.
- XLSX: an ExportJob row with the same filters, then `aftersales.exports.build_xlsx` run
  synchronously in this process. `xlsx_peak_mb` is the absolute RSS of this process at its top while
  the job ran (sampling thread), `xlsx_rss_growth_mb` that top minus RSS before the job. The job row
  and its file are deleted afterwards: the only writes this part makes.

Run alone against a seeded database:

    DJANGO_SETTINGS_MODULE=config.settings.dev DATABASE_URL=postgres://postgres@127.0.0.1/bench_1m \\
        .venv/bin/python bench/exports.py [--quick]
"""

import gc
import os
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Context, rss_mb
from shop.localtime import SHANGHAI

LANGUAGE = "zh-hans"  # what merchants see by default


class PeakSampler:
    """Samples this process's RSS every few milliseconds in a thread; `peak` is the highest seen."""

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def day_window(shop_id: int, target: int) -> tuple[dict[str, str], int]:
    """The contiguous range of application days (Asia/Shanghai) whose after-sales count is closest to target."""
    from django.db.models import Count
    from django.db.models.functions import TruncDate

    from aftersales.models import AfterSale

    per_day = list(
        AfterSale.objects.filter(shop_id=shop_id)
        .annotate(day=TruncDate("applied_at", tzinfo=SHANGHAI))
        .values_list("day")
        .annotate(n=Count("id"))
        .order_by("day")
    )
    best = (float("inf"), 0, 0, 0)  # (distance, first, last, count)
    end, total = 0, 0
    for start in range(len(per_day)):
        while end < len(per_day) and total < target:
            total += per_day[end][1]
            end += 1
        if end > start:
            best = min(best, (abs(total - target), start, end - 1, total))
        total -= per_day[start][1]
    _distance, first, last, count = best
    return {"applied_from": per_day[first][0].isoformat(), "applied_to": per_day[last][0].isoformat()}, count


def stream_csv(user, params: dict[str, str]) -> tuple[int, int, float, float]:
    """(rows, bytes, seconds, CPU seconds of this process) of the workbench CSV for these filters, consumed to
    its last byte. The rest of the time is the database's (and waiting for a CPU on a busy machine)."""
    from django.test import RequestFactory
    from django.urls import reverse
    from django.utils import translation

    from aftersales.views.workbench import WorkbenchCsvView

    request = RequestFactory().get(reverse("aftersales:export-csv"), params)
    request.user = user
    lines = size = 0
    with translation.override(LANGUAGE):
        started, cpu = time.perf_counter(), time.process_time()
        response = WorkbenchCsvView.as_view()(request)
        assert response.status_code == 200, response.status_code
        for chunk in response:  # bytes, as the WSGI server writes them
            size += len(chunk)
            lines += chunk.count(b"\r\n")  # no field of the seeded rows holds a line break
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return lines - 1, size, elapsed, cpu  # the header line is no row


def build_xlsx(ctx: Context, params: dict[str, str]) -> tuple[int, int, float, float]:
    """(rows written, file bytes, seconds, CPU seconds) of the XLSX job for these filters, run in this process."""
    from aftersales import exports
    from aftersales.filters import filter_query
    from aftersales.models import ExportJob

    job = ExportJob.objects.create(
        shop_id=ctx.shop_id, user_id=ctx.user_id, format=ExportJob.Format.XLSX, query=filter_query(params)
    )
    try:
        started, cpu = time.perf_counter(), time.process_time()
        status = exports.build_xlsx(job.pk, LANGUAGE)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        job.refresh_from_db()
        assert status == ExportJob.Status.DONE, (status, job.error)
        return job.rows_done, job.file.size, elapsed, cpu
    finally:
        job.refresh_from_db()
        if job.file:
            job.file.delete(save=False)
        job.delete()


def run(ctx: Context) -> dict[str, float | int]:
    target = 10_000 if ctx.quick else 100_000
    params, expected = day_window(ctx.shop_id, target)
    ctx.log(f"exports: applied {params['applied_from']} … {params['applied_to']}: {expected:,} after-sales")
    user = ctx.user

    warm, _count = day_window(ctx.shop_id, 500)
    stream_csv(user, warm)  # imports, translations, first-query caches: not the export's growth
    gc.collect()
    before = rss_mb()
    with PeakSampler() as sampler:
        rows, size, seconds, cpu = stream_csv(user, params)
    after = rss_mb()
    assert rows == expected, (rows, expected)
    csv = {
        "csv_rows": rows,
        "csv_rows_per_s": round(rows / seconds, 1),
        "csv_s": round(seconds, 3),
        "csv_cpu_s": round(cpu, 3),
        "csv_mb": round(size / 2**20, 1),
        "csv_rss_growth_mb": round(after - before, 1),
        "csv_peak_growth_mb": round(sampler.peak - before, 1),
    }
    ctx.log(f"exports: CSV {rows:,} rows in {seconds:.2f} s, RSS {before:.0f} → {after:.0f} MB")

    gc.collect()
    before = rss_mb()
    with PeakSampler() as sampler:
        written, size, seconds, cpu = build_xlsx(ctx, params)
    assert written == expected, (written, expected)
    xlsx = {
        "xlsx_rows": written,
        "xlsx_100k_s": round(seconds * 100_000 / written, 2) if written else 0.0,
        "xlsx_s": round(seconds, 2),
        "xlsx_cpu_s": round(cpu, 2),
        "xlsx_mb": round(size / 2**20, 1),
        "xlsx_peak_mb": round(sampler.peak, 1),
        "xlsx_rss_growth_mb": round(sampler.peak - before, 1),
    }
    ctx.log(f"exports: XLSX {written:,} rows in {seconds:.2f} s, RSS {before:.0f} MB, peak {sampler.peak:.0f} MB")
    ctx.notes.append(
        f"exports: {rows:,} rows (applied {params['applied_from']} … {params['applied_to']}); CSV via the view "
        "(RequestFactory), RSS growth after a warm-up; XLSX job in-process, peak = absolute RSS at its top"
        + ("" if written >= 100_000 else ", xlsx_100k_s scaled linearly to 100 000 rows")
    )
    return {**csv, **xlsx}


def main() -> None:
    import json

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    import django

    django.setup()
    from aftersales.models import AfterSale
    from shop.models import Shop, User

    shop = Shop.objects.get(code=os.environ.get("BENCH_SHOP", "scale-shop"))
    user = User.objects.get(username="scale")
    quick = "--quick" in sys.argv or os.environ.get("BENCH_QUICK") == "1"
    ctx = Context(
        shop_id=shop.pk, user_id=user.pk, after_sales=AfterSale.objects.filter(shop=shop).count(), quick=quick
    )
    print(json.dumps(run(ctx), indent=2))
    for note in ctx.notes:
        print(note)


if __name__ == "__main__":
    main()
