"""An in-process carrier: the outcome follows the parcel's real logistics state."""

import random
import time

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from shop.models import Parcel

from . import LaunchResult, ParcelFacts, Precheck, StatusResult


class SimulatedGateway:
    def __init__(self, *, latency: float | None = None, failure_rate: float | None = None, rng=None):
        self.latency = settings.CARRIER_SIMULATED_LATENCY if latency is None else latency
        self.failure_rate = settings.CARRIER_SIMULATED_FAILURE_RATE if failure_rate is None else failure_rate
        self.rng = rng or random.Random()

    def precheck(self, parcel: ParcelFacts) -> Precheck:
        if parcel.status == Parcel.Status.SIGNED:
            return Precheck(False, _("already signed"))
        if parcel.status not in Parcel.MOVING_STATUSES:
            return Precheck(False, _("the parcel is not on its way to the buyer"))
        if parcel.status == Parcel.Status.OUT_FOR_DELIVERY:
            return Precheck(True, _("out for delivery: the interception may fail"))
        return Precheck(True)

    def launch(self, parcel: ParcelFacts) -> LaunchResult:
        if self.latency:
            time.sleep(self.latency)
        now = timezone.now()
        ref = f"SIM-{parcel.service_order_id}"
        if parcel.status == Parcel.Status.SIGNED:
            return LaunchResult("failed", _("already signed"), ref, now)
        if parcel.status not in Parcel.MOVING_STATUSES:
            return LaunchResult("failed", _("the parcel is not on its way to the buyer"), ref, now)
        if parcel.status == Parcel.Status.OUT_FOR_DELIVERY and self.rng.random() < self.failure_rate:
            return LaunchResult("failed", _("out for delivery: the courier could not stop it"), ref, now)
        return LaunchResult("succeeded", "", ref, now)

    def status(self, parcel: ParcelFacts, carrier_ref: str = "") -> StatusResult:
        """It answers every launch at once, so a launch without a reference never reached it ("unknown":
        send it again); with one, the answer is what a launch would say now."""
        if not carrier_ref:
            return StatusResult("unknown")
        result = self.launch(parcel)
        return StatusResult(result.status, result.reason, carrier_ref, result.occurred_at)
