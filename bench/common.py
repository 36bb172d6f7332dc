"""What every part of `make bench` shares: the context it runs in and a few measuring helpers.

A part is a module of this package with `run(ctx: Context) -> dict[str, float | int]`: it measures,
logs what it does through `ctx.log`, and returns its figures under the keys `bench/run.py` reports.
Parts run in one process after `django.setup()`, against DATABASE_URL (a scratch database).
"""

import os
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

BASE_DIR = Path(__file__).resolve().parents[1]


@dataclass
class Context:
    shop_id: int  # the seeded scale shop (seed_scale), read-only for most parts
    user_id: int  # its merchant user
    after_sales: int  # how many after-sales that shop holds
    quick: bool = False  # a smoke run (BENCH_QUICK=1): smaller sizes, fewer repetitions
    notes: list[str] = field(default_factory=list)  # lines for the report, under the table
    # Detail tables for the report: title → rows of (label, median ms, p95 ms, queries).
    tables: dict[str, list[tuple]] = field(default_factory=dict)

    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    @property
    def shop(self):
        from shop.models import Shop

        return Shop.objects.get(pk=self.shop_id)

    @property
    def user(self):
        from shop.models import User

        return User.objects.get(pk=self.user_id)


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0–100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(median(seconds) * 1000, 2),
        "p95_ms": round(percentile(seconds, 95) * 1000, 2),
    }
