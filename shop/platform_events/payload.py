"""Reading signed JSON (platform events, carrier callbacks) with exact field paths in every 400 answer.

Both inbound endpoints parse with `load_json` and read fields through a `Reader`, so the bounds
below hold for both; each is stricter than what the database can store, so a signed but hostile
body is a 400 naming the field (`data.lines[0].quantity`), never a 500 that the sender retries:

- nesting: at most `MAX_DEPTH` levels of objects and lists (the envelope is level 1);
- text: valid Unicode without NUL characters, anywhere in the body, keys included (PostgreSQL
  stores neither a NUL nor a lone surrogate, in text or jsonb);
- numbers: finite (no NaN, Infinity or 1e400); every integer field from 1 to `MAX_INTEGER`;
- amounts: strings with at most ten digits before the point and two after (`MONEY_RE`);
- times: ISO 8601 with an offset, from `EARLIEST_TIME` (inclusive) to `LATEST_TIME` (exclusive);
  a tracking time (a parcel status, a carrier's result) at most `FUTURE_ALLOWANCE` ahead of the
  server's clock, or it would outrank every real event that follows.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

MAX_DEPTH = 32
MAX_INTEGER = 1_000_000
MONEY_RE = re.compile(r"^\d{1,10}(\.\d{1,2})?$")
MAX_MONEY = Decimal("9999999999.99")  # what a 12-digit, 2-decimal amount column holds
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2100, 1, 1, tzinfo=UTC)
FUTURE_ALLOWANCE = timedelta(days=1)
# A time's own offset is less than a day, so outside these years it is out of the window in UTC too;
# checking the year first keeps astimezone() away from the year 0 and 10 000.
_WINDOW_YEARS = range(EARLIEST_TIME.year - 1, LATEST_TIME.year + 1)
NUL_ERROR = "text must not contain NUL characters"


class BadEvent(Exception):
    """The event's shape is wrong: answered 400 with the field's path."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.message = message
        self.field = field


def load_json(body: bytes) -> Any:
    """The parsed body, or BadEvent: malformed, too deep, non-finite numbers, NUL or invalid text."""
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        # Far deeper than MAX_DEPTH: the parser gave up before we could see where.
        raise BadEvent(f"JSON nested more than {MAX_DEPTH} levels deep", "") from None
    except (ValueError, UnicodeError):
        raise BadEvent("malformed JSON", "") from None
    _check_tree(value)
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _check_tree(root: Any) -> None:
    """Walk the parsed body once, in document order, without recursion."""
    stack: list[tuple[Any, str, int]] = [(root, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise BadEvent(f"JSON nested more than {MAX_DEPTH} levels deep", path)
            if isinstance(value, dict):
                children = []
                for key, item in value.items():
                    _check_text(key, path)
                    children.append((item, f"{path}.{key}" if path else key, depth + 1))
            else:
                children = [(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
            stack.extend(reversed(children))
        elif isinstance(value, str):
            _check_text(value, path)
        elif isinstance(value, float) and not math.isfinite(value):
            raise BadEvent("numbers must be finite", path)


def _check_text(text: str, path: str) -> None:
    if "\x00" in text:
        raise BadEvent(NUL_ERROR, path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # json.loads lets a lone surrogate ("\udc80") through; the database driver would choke on it.
        raise BadEvent("text must be valid Unicode", path) from None


class Reader:
    """A JSON object at a known path; each accessor validates one field or raises BadEvent.

    `now` is the server's clock for the tracking times; the readers of nested objects share it.
    """

    def __init__(self, value: Any, path: str, *, now: datetime | None = None):
        if not isinstance(value, dict):
            raise BadEvent("must be an object", path)
        self.value = value
        self.path = path
        self.now = now

    def _path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, required: bool) -> Any:
        if key not in self.value or self.value[key] is None:
            if required:
                raise BadEvent(f"{key} is required", self._path(key))
            return None
        return self.value[key]

    def obj(self, key: str) -> Reader:
        return Reader(self._get(key, True), self._path(key), now=self.now)

    def str(self, key: str, *, max_length: int = 200, required: bool = True, default: str = "") -> str:
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, str):
            raise BadEvent(f"{key} must be a string", self._path(key))
        _check_text(value, self._path(key))  # also when the Reader wraps JSON that load_json did not read
        value = value.strip()
        if required and not value:
            raise BadEvent(f"{key} must not be empty", self._path(key))
        if len(value) > max_length:
            raise BadEvent(f"{key} must be at most {max_length} characters", self._path(key))
        return value

    def choice(self, key: str, choices: list[str] | tuple[str, ...]) -> str:
        value = self.str(key, max_length=50)
        if value not in choices:
            raise BadEvent(f"{key} must be one of: {', '.join(choices)}", self._path(key))
        return value

    def money(self, key: str) -> Decimal:
        """Yuan as a string with at most two decimals, e.g. "129.00". Floats are refused: they round."""
        value = self._get(key, True)
        if not isinstance(value, str) or not MONEY_RE.match(value.strip()):
            raise BadEvent(f'{key} must be an amount in yuan as a string, e.g. "99.00"', self._path(key))
        amount = Decimal(value.strip()).quantize(Decimal("0.01"))
        if amount <= 0:
            raise BadEvent(f"{key} must be greater than 0", self._path(key))
        return amount

    def positive_int(self, key: str) -> int:
        """A whole number from 1 to MAX_INTEGER (the columns hold 2^31 - 1; SQLite 2^63 - 1)."""
        value = self._get(key, True)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INTEGER:
            raise BadEvent(f"{key} must be a whole number from 1 to {MAX_INTEGER}", self._path(key))
        return value

    def bool(self, key: str, *, default: bool | None = None) -> bool:
        value = self._get(key, default is None)
        if value is None:
            return bool(default)
        if not isinstance(value, bool):
            raise BadEvent(f"{key} must be true or false", self._path(key))
        return value

    def optional_bool(self, key: str) -> bool | None:
        value = self._get(key, False)
        if value is not None and not isinstance(value, bool):
            raise BadEvent(f"{key} must be true or false", self._path(key))
        return value

    def datetime(self, key: str) -> datetime:
        """An ISO 8601 time with offset, from EARLIEST_TIME to LATEST_TIME (exclusive)."""
        value = self._get(key, True)
        parsed = None
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                pass
        if parsed is None or parsed.tzinfo is None:
            raise BadEvent(f"{key} must be an ISO 8601 time with offset", self._path(key))
        if parsed.year not in _WINDOW_YEARS or not EARLIEST_TIME <= parsed.astimezone(UTC) < LATEST_TIME:
            raise BadEvent(
                f"{key} must be from {EARLIEST_TIME:%Y-%m-%d} to {LATEST_TIME:%Y-%m-%d} (UTC)", self._path(key)
            )
        return parsed

    def tracking_time(self, key: str) -> datetime:
        """A time in the window that is at most FUTURE_ALLOWANCE ahead of `now` (the server's clock)."""
        parsed = self.datetime(key)
        now = self.now or datetime.now(UTC)
        if parsed > now + FUTURE_ALLOWANCE:
            raise BadEvent(
                f"{key} is more than {_describe(FUTURE_ALLOWANCE)} ahead of the server's clock", self._path(key)
            )
        return parsed

    def objects(self, key: str, *, min_items: int = 1) -> list[Reader]:
        value = self._get(key, True)
        if not isinstance(value, list) or len(value) < min_items:
            raise BadEvent(f"{key} must be a list of at least {min_items} item(s)", self._path(key))
        return [Reader(item, f"{self._path(key)}[{i}]", now=self.now) for i, item in enumerate(value)]

    def strings(self, key: str, *, min_items: int = 1, max_length: int = 64) -> list[str]:
        value = self._get(key, True)
        if not isinstance(value, list) or len(value) < min_items:
            raise BadEvent(f"{key} must be a list of at least {min_items} item(s)", self._path(key))
        result = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip() or len(item) > max_length:
                raise BadEvent(f"{key} must hold non-empty strings", f"{self._path(key)}[{i}]")
            _check_text(item, f"{self._path(key)}[{i}]")
            result.append(item.strip())
        return result


def _describe(delta: timedelta) -> str:
    days, seconds = delta.days, delta.seconds
    if seconds:
        hours = days * 24 + seconds // 3600
        return "1 hour" if hours == 1 else f"{hours} hours"
    return "1 day" if days == 1 else f"{days} days"
