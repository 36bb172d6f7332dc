"""The test process's clock, moved on request: `BACKOFFICE_TEST_NOW=2027-01-31T23:50:00+08:00 pytest`.

Loaded as a plugin (`-p tests.clock` in pyproject), before Django and the database are set up, so
that everything the suite does — the demo seed, deadlines, statement months, claim windows,
signed events' timestamps, sessions — sees the chosen moment. The clock then ticks on from there,
as a real one would, so timeouts and "a minute later" still happen. Without the variable the real
clock runs. time-machine moves `time.time()` and `datetime.now()` at the C level, so code that
imported them before the move sees it too; monotonic clocks are left alone.
"""

import os
from datetime import datetime

import pytest
import time_machine

VARIABLE = "BACKOFFICE_TEST_NOW"
# Test modules whose subject is dated — the demo seed, deadlines and timeouts, statements and their
# monthly close, claims and their window, metrics per Shanghai day — by a word of their file name, so
# that a new module such as tests/settlement/test_claims_window.py is in without a list to keep up.
# `.ci/run` repeats `pytest -m dates` at the awkward moments (month ends, 29 February, New Year's Eve).
DATE_SENSITIVE_WORDS = (
    "seed",
    "demo",
    "deadline",
    "timeout",
    "statement",
    "claim",
    "metric",
    "rules",
    "calendar",
    "workbench",
)


def chosen_moment() -> datetime | None:
    value = os.environ.get(VARIABLE, "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise pytest.UsageError(f"{VARIABLE}={value!r} is not an ISO 8601 time: {error}") from None
    if moment.tzinfo is None:
        raise pytest.UsageError(f"{VARIABLE}={value!r} needs an offset, e.g. 2027-01-31T23:50:00+08:00")
    return moment


def pytest_configure(config):
    moment = chosen_moment()
    if moment is None:
        return
    traveller = time_machine.travel(moment, tick=True)
    traveller.start()
    config.add_cleanup(traveller.stop)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(word in item.path.name for word in DATE_SENSITIVE_WORDS):
            item.add_marker(pytest.mark.dates)


def pytest_report_header(config):
    moment = chosen_moment()
    return f"clock moved to {moment.isoformat()} ({VARIABLE})" if moment else None
