"""Volume for benchmarks: one shop with N after-sales and what surrounds them, bulk-inserted.

    seed_scale(after_sales=1_000_000, shop="scale-shop", batch=20_000, append=False)

`bench.run` calls it to fill its scratch database up to --after-sales (so `python -m bench.run
--only= --after-sales N` only seeds); the tests call it too. Django must be set up first.

Creates (if missing) the shop, the reference couriers and outlets and a merchant user `scale`
(password demo-pass), then per batch, in one transaction: buyers' orders with 1–3 lines, one parcel
per shipped order (every logistics state) with its lines and its latest tracking event, the
after-sales (every status; open ones with deadlines spread over the coming days, some overdue;
closed ones without a deadline), their history, the refund ledger of the refunded ones with the
line, order and after-sale counters equal to its sums, and interception service orders (with their
fee for the successful ones). Only bulk_create: no model save(), no services, no signals.

A bench fixture, not part of the product: it writes the rows of shop, aftersales and interception
directly. Numbers carry a per-run token, so --append adds another run to the same shop.
"""

import sys
from typing import TextIO

from .seeder import ScaleSeeder, SeedError

__all__ = ["SeedError", "seed_scale"]


def seed_scale(
    *,
    after_sales: int,
    shop: str = "scale-shop",
    batch: int = 20000,
    append: bool = False,
    seed: int = 20261123,
    stdout: TextIO | None = None,
) -> None:
    """Fill shop `shop` (created if missing) with `after_sales` after-sales, `batch` per transaction.

    Refuses (SeedError) a shop that already has after-sales unless `append`. Progress goes to `stdout`.
    """
    ScaleSeeder(stdout or sys.stdout).run(total=after_sales, shop_code=shop, batch=batch, append=append, seed=seed)
