"""Reading an event's JSON with exact field paths in every 400 answer (`data.lines[0].paid_amount`)."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

MONEY_RE = re.compile(r"^\d{1,10}(\.\d{1,2})?$")


class BadEvent(Exception):
    """The event's shape is wrong: answered 400 with the field's path."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.message = message
        self.field = field


class Reader:
    """A JSON object at a known path; each accessor validates one field or raises BadEvent."""

    def __init__(self, value: Any, path: str):
        if not isinstance(value, dict):
            raise BadEvent("must be an object", path)
        self.value = value
        self.path = path

    def _path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, required: bool) -> Any:
        if key not in self.value or self.value[key] is None:
            if required:
                raise BadEvent(f"{key} is required", self._path(key))
            return None
        return self.value[key]

    def obj(self, key: str) -> Reader:
        return Reader(self._get(key, True), self._path(key))

    def str(self, key: str, *, max_length: int = 200, required: bool = True, default: str = "") -> str:
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, str):
            raise BadEvent(f"{key} must be a string", self._path(key))
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
        value = self._get(key, True)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadEvent(f"{key} must be a whole number of at least 1", self._path(key))
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
        value = self._get(key, True)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                return parsed
        raise BadEvent(f"{key} must be an ISO 8601 time with offset", self._path(key))

    def objects(self, key: str, *, min_items: int = 1) -> list[Reader]:
        value = self._get(key, True)
        if not isinstance(value, list) or len(value) < min_items:
            raise BadEvent(f"{key} must be a list of at least {min_items} item(s)", self._path(key))
        return [Reader(item, f"{self._path(key)}[{i}]") for i, item in enumerate(value)]

    def strings(self, key: str, *, min_items: int = 1, max_length: int = 64) -> list[str]:
        value = self._get(key, True)
        if not isinstance(value, list) or len(value) < min_items:
            raise BadEvent(f"{key} must be a list of at least {min_items} item(s)", self._path(key))
        result = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip() or len(item) > max_length:
                raise BadEvent(f"{key} must hold non-empty strings", f"{self._path(key)}[{i}]")
            result.append(item.strip())
        return result
