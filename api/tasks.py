"""django-q2 entry points of the API."""

import time

from . import idempotency, webhooks

# One run dispatches and sends for at most this long, far inside Q_CLUSTER's timeout (120 s).
RUN_BUDGET_SECONDS = 50


def run_webhooks() -> dict[str, int]:
    """Every minute: turn new changes into deliveries and send what is due, until both run dry."""
    started, dispatched, sent = time.monotonic(), 0, 0
    while time.monotonic() - started < RUN_BUDGET_SECONDS:
        moved = webhooks.dispatch_changes()
        attempted = webhooks.deliver_due()
        dispatched, sent = dispatched + moved, sent + attempted
        if not moved and not attempted:
            break
    return {"changes": dispatched, "attempts": sent}


def purge_idempotency() -> int:
    return idempotency.purge_expired()
