"""Idempotent POSTs: the first successful answer to a key is stored 24 hours and replayed.

A repeat with the same key and the same request (method, path, body) returns the stored answer,
same status and body, and changes nothing; with another request it is 409 `idempotency_conflict`.
Keys are per shop. Only successful answers are stored: a refused request (4xx) changed nothing and
may be sent again under the same key once corrected, as the platform's events are.

Concurrent repeats: the record is inserted first, in the transaction that runs the endpoint, so a
second request with the key waits on the unique key until the first commits (PostgreSQL), or on
the write lock (SQLite), and then finds the stored answer.
"""

import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from .errors import ApiError, error_response
from .models import IdempotencyRecord

KEEP = timedelta(hours=24)
MAX_KEY_LENGTH = 100


def fingerprint(request) -> str:
    body = request.body
    try:  # the same JSON written with other spaces or key order is the same request
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        pass
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), body):
        digest.update(part)
        digest.update(b"\x00")
    return digest.hexdigest()


def run(request, token, call) -> HttpResponse:
    key = request.META.get("HTTP_IDEMPOTENCY_KEY", "")
    if not 1 <= len(key) <= MAX_KEY_LENGTH or "\x00" in key:
        return error_response(
            ApiError(422, "invalid", _("Idempotency-Key is 1 to 100 characters."), field="Idempotency-Key")
        )
    print_ = fingerprint(request)
    with transaction.atomic():
        IdempotencyRecord.objects.filter(shop=token.shop, key=key, created_at__lt=timezone.now() - KEEP).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(shop=token.shop, key=key, fingerprint=print_)
        except IntegrityError:
            record = IdempotencyRecord.objects.filter(shop=token.shop, key=key).first()
            if record is None or record.fingerprint != print_:
                return error_response(
                    ApiError(
                        409,
                        "idempotency_conflict",
                        _("This Idempotency-Key was used with another request."),
                        field="Idempotency-Key",
                    )
                )
            response = HttpResponse(bytes(record.body), status=record.status, content_type="application/json")
            response["Content-Type"] = "application/json; charset=utf-8"
            response["Idempotent-Replayed"] = "true"
            return response
        response = call()
        if 200 <= response.status_code < 300:
            record.status, record.body = response.status_code, response.content
            record.save(update_fields=["status", "body"])
        else:
            transaction.set_rollback(True)  # refused: nothing stays, the key included
        return response


def purge_expired() -> int:
    """Delete answers older than 24 hours (a daily task)."""
    deleted, _rows = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - KEEP).delete()
    return deleted
