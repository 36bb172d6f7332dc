"""Signature, idempotency and all-or-nothing application of one inbound event."""

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction

from ..errors import DomainError, NotFound
from ..models import PlatformEvent
from ..signing import verify
from .payload import BadEvent, Reader, load_json
from .registry import EventContext, get_type, type_names


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict


def check_signature(body: bytes, timestamp: str | None, signature: str | None, *, now: float) -> str | None:
    """The reason the request is not authentic, or None when it is."""
    if not timestamp or not signature:
        return "missing X-Platform-Timestamp or X-Platform-Signature"
    if not timestamp.strip().isascii() or not timestamp.strip().isdigit():
        return "X-Platform-Timestamp must be Unix time in seconds"
    ts = int(timestamp)
    if abs(now - ts) > settings.PLATFORM_EVENTS_MAX_SKEW_SECONDS:
        return "timestamp is more than 300 s from now"
    if not verify(body, timestamp, signature, settings.PLATFORM_EVENTS_SECRET):
        return "invalid signature"
    return None


def handle(body: bytes, timestamp: str | None, signature: str | None, *, now: float | None = None) -> Answer:
    clock = time.time() if now is None else now
    problem = check_signature(body, timestamp, signature, now=clock)
    if problem:
        return Answer(401, {"error": problem})
    try:
        envelope = load_json(body)
        root = Reader(envelope, "", now=datetime.fromtimestamp(clock, UTC))
        event_id = root.str("id", max_length=100)
    except BadEvent as exc:
        return Answer(400, {"error": exc.message, "field": exc.field})

    try:
        type_name = root.str("type", max_length=50)
        event_type = get_type(type_name)
        if event_type is None:
            raise BadEvent(f"unknown event type; known: {', '.join(type_names())}", "type")
        occurred_at = root.datetime("occurred_at")
        data = event_type.parse(root.obj("data"))
    except BadEvent as exc:
        # A duplicate is answered as such whatever its new body says; looked up only here, where
        # the body is bad, since a well-formed duplicate is caught by the insert below for free.
        stored = _stored_outcome(event_id)
        if stored is not None:
            return Answer(200, {"result": "duplicate", **stored})
        return Answer(400, {"error": exc.message, "field": exc.field})

    context = EventContext(event_id=event_id, occurred_at=occurred_at, data=data)
    try:
        with transaction.atomic():
            # The idempotency row first, with no savepoint of its own: the unique event_id makes a
            # second delivery (earlier, or concurrent: it waits for the first to commit) fail here,
            # before any applier ran, and leaving the block by _Duplicate rolls the whole
            # transaction back. Three round trips fewer than a look-up and a savepoint per event.
            try:
                record = PlatformEvent.objects.create(
                    event_id=event_id, type=type_name, occurred_at=occurred_at, payload=envelope["data"]
                )
            except IntegrityError:
                raise _Duplicate() from None
            for _order, applier in event_type.appliers:
                applier(context)
            record.outcome = context.outcome
            record.save(update_fields=["outcome"])
    except _Duplicate:
        return Answer(200, {"result": "duplicate", **(_stored_outcome(event_id) or {})})
    except NotFound as exc:
        return Answer(404, {"error": exc.message})
    except DomainError as exc:
        return Answer(409, {"error": exc.message, "code": exc.code})
    return Answer(200, {"result": "applied", **context.outcome})


class _Duplicate(Exception):
    pass


def _stored_outcome(event_id: str) -> dict | None:
    record = PlatformEvent.objects.filter(event_id=event_id).only("outcome").first()
    if record is None:
        return None
    return record.outcome or {}
