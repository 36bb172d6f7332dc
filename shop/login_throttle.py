"""Login throttling on django-axes: per username, per client address, and an alarm over all logins.

- **Username.** `LOGIN_FAILURE_LIMIT` failed logins lock that username for `LOGIN_COOLOFF_MINUTES`,
  from whatever address they came (axes, `AXES_LOCKOUT_PARAMETERS = ["username"]`). Failures during
  the lock-out do not prolong it: a trickle of wrong passwords cannot keep a merchant out for good.
- **Address.** `LOGIN_ADDRESS_FAILURE_LIMIT` failed logins from one client address within
  `LOGIN_COOLOFF_MINUTES`, across any usernames, pause every login from that address (password
  spraying). Refused attempts count too, so an address that keeps trying stays paused.
- **Client address.** `X-Forwarded-For` is believed only when the direct peer is one of
  `TRUSTED_PROXIES` (addresses or CIDRs; empty: no header is believed). Behind the TLS proxy each
  client then has its own address, not the proxy's.
- **Alarm.** More than `LOGIN_ALARM_FAILURES` failed logins across all usernames within
  `LOGIN_ALARM_WINDOW_MINUTES` show a notice on the Django admin's index page.

Every failed login is an axes `AccessFailureLog` row (`AXES_ENABLE_ACCESS_FAILURE_LOG`), with the
client address computed here (`AXES_CLIENT_IP_CALLABLE`); the address limit and the alarm count those.
"""

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessFailureLog
from django.conf import settings
from django.shortcuts import render
from django.utils import timezone

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address, networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


def client_address(request) -> str:
    """The client's address: the direct peer, or what trusted proxies say in X-Forwarded-For.

    Each trusted proxy appends the address it was connected from, so the header is read from the
    right: the first address that is not a trusted proxy is the client. Anything to its left was
    written by the client itself and is never believed.
    """
    peer = request.META.get("REMOTE_ADDR", "")
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not _trusted(_address(peer), networks):
        return peer
    client = peer
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _address(hop)
        if address is None:
            break  # not written by a proxy of ours: stop at the last hop that was
        client = str(address)
        if not _trusted(address, networks):
            break
    return client


def failures_from(address: str, *, now: datetime | None = None) -> int:
    since = (now or timezone.now()) - timedelta(minutes=settings.LOGIN_COOLOFF_MINUTES)
    return AccessFailureLog.objects.filter(ip_address=address, attempt_time__gte=since).count()


def address_is_paused(address: str | None) -> bool:
    return bool(address) and failures_from(address) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT


@dataclass(frozen=True)
class Alarm:
    failures: int
    window_minutes: int
    threshold: int


def failed_login_alarm(*, now: datetime | None = None) -> Alarm | None:
    """The alarm when failed logins across all usernames passed the threshold in the window, else None."""
    window = settings.LOGIN_ALARM_WINDOW_MINUTES
    since = (now or timezone.now()) - timedelta(minutes=window)
    failures = AccessFailureLog.objects.filter(attempt_time__gte=since).count()
    if failures <= settings.LOGIN_ALARM_FAILURES:
        return None
    return Alarm(failures=failures, window_minutes=window, threshold=settings.LOGIN_ALARM_FAILURES)


def lockout_response(request, original_response=None, credentials=None):
    """The page of a refused login (AXES_LOCKOUT_CALLABLE): 429, and for how long."""
    context = {"cooloff_minutes": settings.LOGIN_COOLOFF_MINUTES}
    return render(request, "registration/locked_out.html", context, status=429)


class LoginThrottleHandler(AxesDatabaseHandler):
    """Axes' database handler plus the per-address limit (see the module docstring)."""

    def is_locked(self, request, credentials=None) -> bool:
        return super().is_locked(request, credentials) or address_is_paused(getattr(request, "axes_ip_address", None))

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        refused = request is not None and getattr(request, "axes_locked_out", False)
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None:
            return
        if refused:
            # Axes records no failure while locked out; the address limit and the alarm count it.
            AccessFailureLog.objects.create(
                username=(get_client_username(request, credentials) or "")[:255] or None,
                ip_address=request.axes_ip_address or None,
                user_agent=request.axes_user_agent,
                http_accept=request.axes_http_accept,
                path_info=request.axes_path_info,
                attempt_time=request.axes_attempt_time,
                locked_out=True,
            )
        elif address_is_paused(request.axes_ip_address):
            request.axes_locked_out = True  # this failure reached the address limit: say so now
