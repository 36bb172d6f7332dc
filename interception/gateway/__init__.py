"""The carrier gateway: one interface, pre-check, launch and status query, with a simulated and an HTTP adapter.

Adapters never touch the database: they take plain facts and answer plain results, so that a
carrier call never runs inside a transaction or while a row lock is held. A carrier task runs its
launches in a thread pool (CARRIER_CONCURRENCY at once), each on an adapter of its own.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class ParcelFacts:
    service_order_id: int | None  # our id: the idempotency key of a launch
    courier: str
    tracking_no: str
    status: str  # the parcel's logistics status as we know it


@dataclass(frozen=True)
class Precheck:
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class LaunchResult:
    """`status` is "processing" (the result comes later by callback), "succeeded" or "failed"."""

    status: str
    reason: str = ""
    carrier_ref: str = ""
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class StatusResult:
    """The carrier's word on one launch, asked by our request id (and its carrier_ref if we have one).

    `status` is "unknown" (the carrier never received the launch: send it again), "processing" (no
    result yet), or a result in the callback vocabulary: "succeeded", "failed", "returning", "returned",
    "lost", "damaged" (interception.services.results.CARRIER_RESULTS).
    """

    status: str
    reason: str = ""
    carrier_ref: str = ""
    occurred_at: datetime | None = None


class CarrierError(Exception):
    """The carrier could not be reached or answered nonsense: the task calls again later."""


class CarrierConfigurationError(CarrierError):
    """The carrier answered 401, 403 or 404: our key or URL is wrong, not the parcel. Nothing failed: the
    service orders wait, an operator is alerted and calls to that courier pause (services.alerts)."""

    def __init__(self, message: str, *, http_status: int):
        super().__init__(message)
        self.http_status = http_status


class Gateway(Protocol):
    def precheck(self, parcel: ParcelFacts) -> Precheck: ...

    def launch(self, parcel: ParcelFacts) -> LaunchResult: ...

    def status(self, parcel: ParcelFacts, carrier_ref: str = "") -> StatusResult: ...


ADAPTERS = {
    "simulated": "interception.gateway.simulated.SimulatedGateway",
    "http": "interception.gateway.http.HttpGateway",
}


def get_gateway() -> Gateway:
    name = settings.CARRIER_GATEWAY
    return import_string(ADAPTERS[name])()
