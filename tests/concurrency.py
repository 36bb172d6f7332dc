"""Threads released at once against the database: the helper of every concurrency test."""

import threading
from collections import Counter
from collections.abc import Callable

from django.db import connection


def run_together(count: int, work: Callable[[int], object]) -> list:
    """Run work(0..count-1) in `count` threads released at once; each result or exception, in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:  # collected and asserted by the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    return results


def outcome_kinds(results: list) -> Counter:
    return Counter(
        "ok" if not isinstance(r, BaseException) else f"{type(r).__name__}:{getattr(r, 'code', '')}" for r in results
    )
