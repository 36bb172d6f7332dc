"""Event types and their handlers. Each app registers its own in AppConfig.ready().

A type has one parser, owned by the app that defines the type (it validates the whole shape, so
that every 400 comes before any 404 or 409), and appliers that run in ascending `order` in one
transaction. A higher layer adds an applier to a lower layer's type (after-sales react to
`parcel.status`) without the lower layer knowing it.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .payload import Reader


@dataclass
class EventContext:
    event_id: str
    occurred_at: datetime
    data: Any  # whatever the type's parser returned
    outcome: dict = field(default_factory=dict)  # built up by the appliers, stored for duplicates
    state: dict = field(default_factory=dict)  # results one applier hands to the next


Parser = Callable[[Reader], Any]
Applier = Callable[[EventContext], None]


@dataclass
class EventType:
    name: str
    parse: Parser
    appliers: list[tuple[int, Applier]] = field(default_factory=list)


_types: dict[str, EventType] = {}


def register_type(name: str, parse: Parser) -> None:
    _types.setdefault(name, EventType(name=name, parse=parse))


def add_applier(name: str, applier: Applier, *, order: int) -> None:
    event_type = _types[name]
    if any(existing is applier for _o, existing in event_type.appliers):
        return  # ready() may run more than once in tests
    event_type.appliers.append((order, applier))
    event_type.appliers.sort(key=lambda pair: pair[0])


def get_type(name: str) -> EventType | None:
    return _types.get(name)


def type_names() -> list[str]:
    return sorted(_types)
