"""Webhooks: endpoints, the dispatcher that turns the change feed into deliveries, and the sender.

The change feed (shop.changes) is the outbox: its rows are written in the transaction of the change
they report, so nothing is pushed for a rolled-back change and nothing is lost while the worker is
down. The dispatcher reads it in commit order (the same horizon as the sync lists), past its own
cursor, and writes one delivery per event and subscribed endpoint, with the body fixed then: every
attempt sends the same bytes and the same event `id`. The sender POSTs due deliveries, signed as
the contract says, 10 s timeout, no redirects followed, and tries again after growing delays for
more than 24 hours. An endpoint whose deliveries have all failed for 3 days is disabled; the owner
sees it on the API page, can enable it again and send any delivery again.
"""

import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.models import RefundEntry
from shop import changes, permissions
from shop.errors import DomainError, NotFound
from shop.models import Change, Shop
from shop.permissions import PermissionSet
from shop.signing import sign

from . import selectors, serializers
from .feed import RowAfter
from .models import WebhookCursor, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
# After the n-th failed attempt, the next one comes this much later: 31 h 21 min in all (≥ 24 h).
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
    timedelta(hours=8),
    timedelta(hours=8),
)
DISABLE_AFTER = timedelta(days=3)
# A claimed delivery is someone's for this long: more than a batch's worst case (4 rounds of 10 s).
CLAIM_LEASE = timedelta(minutes=2)
DISPATCH_BATCH = 500
SEND_CONCURRENCY = 16
# A batch's worst case is a timeout each: 4 rounds of 10 s, well inside one task run.
SEND_BATCH = 4 * SEND_CONCURRENCY
USER_AGENT = "aftersales-backoffice-webhooks/1"


# --- endpoints -----------------------------------------------------------------------------------
def check_url(url: str) -> str:
    """The URL, if it may be registered: http(s), a host, and (unless private targets are allowed)
    only public addresses behind the host, so that nobody points the sender at the machines inside."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DomainError(_("The URL must start with http:// or https:// and name a host."), code="invalid_url")
    try:
        parts.port  # noqa: B018 (urlsplit checks the port only when it is read)
    except ValueError:
        raise DomainError(_("The URL's port is not a number from 1 to 65535."), code="invalid_url") from None
    if not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        vetted_addresses(parts.hostname, parts.port or default_port(parts.scheme))
    return url.strip()


# --- where a delivery may connect ---------------------------------------------------------------
def is_public(address: str) -> bool:
    """Whether an IP address is one of the Internet's: not loopback, private, link-local (cloud
    metadata), shared, multicast, reserved or unspecified; an IPv4 address inside IPv6 counts as itself."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            ip = embedded
    return ip.is_global and not ip.is_multicast


def default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def vetted_addresses(host: str, port: int) -> list[str]:
    """The host's addresses, each of them public; a DomainError (nothing connected to) otherwise."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise DomainError(_("The URL's host name does not resolve."), code="invalid_url") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses or not all(is_public(address) for address in addresses):
        raise DomainError(
            _("The URL points at a private, loopback or reserved address: only public addresses are allowed."),
            code="invalid_url",
        )
    return addresses


class PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the vetted address; the Host header still names the host."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """The same over TLS: SNI and the certificate are checked against the host name, not the address."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@transaction.atomic
def create_endpoint(*, shop: Shop, url: str, events: list[str], user=None) -> WebhookEndpoint:
    """A new endpoint and its secret (shown once: the caller shows `endpoint.secret` now)."""
    permissions.require(user, PermissionSet.SHOP_ADMIN)
    unknown = set(events) - set(WebhookEndpoint.EVENTS)
    if not events or unknown:
        raise DomainError(_("Choose at least one event type."), code="invalid_events")
    return WebhookEndpoint.objects.create(
        shop=shop,
        url=check_url(url),
        events=[event for event in WebhookEndpoint.EVENTS if event in events],
        secret="whsec_" + secrets.token_urlsafe(32),
        created_by=user,
    )


def endpoints_for_shop(*, shop: Shop):
    return WebhookEndpoint.objects.filter(shop=shop, deleted_at=None)


@transaction.atomic
def delete_endpoint(*, shop: Shop, endpoint_id: int) -> None:
    """Stops deliveries at once; the delivery log is kept (the row is marked deleted, not removed)."""
    updated = endpoints_for_shop(shop=shop).filter(pk=endpoint_id).update(deleted_at=timezone.now(), active=False)
    if not updated:
        raise NotFound(_("Webhook endpoint not found."))


@transaction.atomic
def enable_endpoint(*, shop: Shop, endpoint_id: int) -> None:
    updated = (
        endpoints_for_shop(shop=shop).filter(pk=endpoint_id).update(active=True, disabled_at=None, failing_since=None)
    )
    if not updated:
        raise NotFound(_("Webhook endpoint not found."))


@transaction.atomic
def resend_delivery(*, shop: Shop, delivery_id: int) -> WebhookDelivery:
    """Send the delivery again at the next run, same body and event id, whatever its status."""
    delivery = (
        WebhookDelivery.objects.select_for_update()
        .filter(pk=delivery_id, endpoint__shop=shop, endpoint__deleted_at=None)
        .first()
    )
    if delivery is None:
        raise NotFound(_("Delivery not found."))
    delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.PENDING, timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at"])
    return delivery


# --- dispatch: change feed → deliveries ----------------------------------------------------------
def _payloads(shop_id: int, rows: list[Change]) -> dict[int, dict]:
    """{change id: data} for one shop's changes, the objects read once each in a fixed number of queries."""
    shop = Shop(pk=shop_id)
    by_kind: dict[str, set[int]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, set()).add(row.object_id)
    after_sales = selectors.after_sales(shop=shop).in_bulk(by_kind.get(Change.Kind.AFTER_SALE, ()))
    service_orders = selectors.service_orders(shop=shop).in_bulk(by_kind.get(Change.Kind.SERVICE_ORDER, ()))
    refunds = (
        RefundEntry.objects.filter(shop_id=shop_id)
        .select_related("order", "line", "after_sale")
        .in_bulk(by_kind.get(Change.Kind.REFUND, ()))
    )
    data = {}
    for row in rows:
        if row.kind == Change.Kind.AFTER_SALE and row.object_id in after_sales:
            data[row.pk] = {"after_sale": serializers.after_sale_json(after_sales[row.object_id])}
        elif row.kind == Change.Kind.SERVICE_ORDER and row.object_id in service_orders:
            data[row.pk] = {"service_order": serializers.service_order_json(service_orders[row.object_id])}
        elif row.kind == Change.Kind.REFUND and row.object_id in refunds:
            data[row.pk] = {"refund": serializers.refund_entry_json(refunds[row.object_id])}
    return data


def dispatch_changes(batch: int = DISPATCH_BATCH) -> int:
    """Deliveries for the next changes of the feed, in commit order; how many changes were read.

    One dispatcher at a time (its cursor row is locked); the deliveries and the new cursor commit
    together, so a crash re-reads the same changes and the unique (endpoint, change) key keeps one
    delivery each.
    """
    horizon = changes.horizon_value()
    with transaction.atomic():
        cursor, _created = WebhookCursor.objects.get_or_create(pk=1)
        cursor = WebhookCursor.objects.select_for_update().get(pk=1)
        rows = Change.objects.filter(RowAfter(F("txid"), F("id"), cursor.txid, cursor.change_id))
        if horizon is not None:
            rows = rows.filter(txid__lt=horizon)
        rows = list(rows.order_by("txid", "id")[:batch])
        if not rows:
            return 0
        endpoints: dict[int, list[WebhookEndpoint]] = {}
        # Disabled endpoints get their deliveries too (sent once enabled again): nothing is lost.
        shops = {row.shop_id for row in rows}
        for endpoint in WebhookEndpoint.objects.filter(shop_id__in=shops, deleted_at=None):
            endpoints.setdefault(endpoint.shop_id, []).append(endpoint)
        now, deliveries = timezone.now(), []
        for shop_id in {row.shop_id for row in rows if row.shop_id in endpoints}:
            # The same event of one object twice in a batch (several writes of one transaction, or quick
            # changes): one delivery, at the last row; the body shows the object as it is now anyway.
            last = {}
            for row in rows:
                if row.shop_id == shop_id:
                    last[(row.kind, row.object_id, row.event)] = row
            shop_rows = sorted(last.values(), key=lambda row: (row.txid, row.pk))
            data = _payloads(shop_id, shop_rows)
            for row in shop_rows:
                if row.pk not in data:
                    continue
                body = {
                    "id": f"evt_{row.pk}",
                    "type": row.event,
                    "created_at": serializers.when(row.created_at),
                    "data": data[row.pk],
                }
                raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
                deliveries += [
                    WebhookDelivery(
                        endpoint=endpoint,
                        change_id=row.pk,
                        event_id=body["id"],
                        type=row.event,
                        body=raw,
                        next_attempt_at=now,
                    )
                    for endpoint in endpoints[shop_id]
                    # An endpoint hears of the changes made since it was added, not of the shop's past.
                    if row.event in endpoint.events and row.created_at >= endpoint.created_at
                ]
        WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        cursor.txid, cursor.change_id = rows[-1].txid, rows[-1].pk
        cursor.save(update_fields=["txid", "change_id"])
        return len(rows)


# --- sending -------------------------------------------------------------------------------------
def post(url: str, body: bytes, secret: str) -> tuple[int | None, str]:
    """POST the body, signed; (status, error). No redirects followed, 10 s timeout, no proxies.

    The host is resolved again now (DNS may have changed since the endpoint was registered) and the
    connection goes to an address vetted now, unless private targets are allowed.
    """
    parts = urlsplit(url)
    port = parts.port or default_port(parts.scheme)
    try:
        addresses = (
            [parts.hostname] if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS else vetted_addresses(parts.hostname, port)
        )
    except DomainError as exc:
        return None, str(exc.message)[:300]
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Backoffice-Timestamp": timestamp,
        "X-Backoffice-Signature": sign(body, timestamp, secret),
    }
    connection_class = PinnedHTTPSConnection if parts.scheme == "https" else PinnedHTTPConnection
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = connection_class(parts.hostname, port, address=addresses[0], timeout=TIMEOUT_SECONDS)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
        return response.status, ""
    except (OSError, http.client.HTTPException) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300]
    finally:
        connection.close()


def deliver_due(limit: int = SEND_BATCH) -> int:
    """Send the deliveries that are due, CONCURRENCY at a time; how many were attempted."""
    due = claim_due(limit)
    if not due:
        return 0
    # No database work in the pool: it only waits on the receivers.
    with ThreadPoolExecutor(max_workers=min(SEND_CONCURRENCY, len(due))) as pool:
        answers = list(pool.map(lambda d: post(d.endpoint.url, bytes(d.body), d.endpoint.secret), due))
    for delivery, (status, error) in zip(due, answers, strict=True):
        _record(delivery, status, error)
    return len(due)


@transaction.atomic
def claim_due(limit: int) -> list[WebhookDelivery]:
    """The due deliveries this worker sends, leased for CLAIM_LEASE so that no other worker sends
    them meanwhile: rows another worker is claiming are skipped (SKIP LOCKED), not waited for. A
    worker that dies after claiming leaves its deliveries due again when the lease runs out."""
    now = timezone.now()
    due = list(
        WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now, endpoint__active=True)
        .select_related("endpoint")
        .order_by("next_attempt_at", "id")[:limit]
    )
    if due:
        WebhookDelivery.objects.filter(pk__in=[d.pk for d in due]).update(next_attempt_at=now + CLAIM_LEASE)
    return due


@transaction.atomic
def _record(delivery: WebhookDelivery, status: int | None, error: str) -> None:
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_status, delivery.last_attempt_at = status, now
    endpoint = delivery.endpoint
    if status is not None and 200 <= status < 300:
        delivery.status, delivery.delivered_at, delivery.last_error = WebhookDelivery.Status.DELIVERED, now, ""
        delivery.next_attempt_at = None
        WebhookEndpoint.objects.filter(pk=endpoint.pk).exclude(failing_since=None).update(failing_since=None)
    else:
        delivery.last_error = error or _("answered %(status)s") % {"status": status}
        if delivery.attempts > len(RETRY_DELAYS):
            delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        else:
            delivery.next_attempt_at = now + RETRY_DELAYS[delivery.attempts - 1]
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since=None).update(failing_since=now)
        WebhookEndpoint.objects.filter(pk=endpoint.pk, active=True, failing_since__lte=now - DISABLE_AFTER).update(
            active=False, disabled_at=now
        )
    delivery.save(
        update_fields=[
            "attempts",
            "last_status",
            "last_attempt_at",
            "status",
            "delivered_at",
            "last_error",
            "next_attempt_at",
        ]
    )
