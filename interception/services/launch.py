"""The launch stage: preview the candidates, create the service orders, queue the carrier calls.

Every launch locks its after-sales (locks.after_sales) and checks again on the locked rows; the
carrier calls run later, in tasks (carrier.py), outside any transaction.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from aftersales.models import AfterSale
from shop import permissions
from shop.models import Parcel, Shop
from shop.permissions import PermissionSet

from .. import gateway, locks, rules
from ..models import InterceptionBatch, Partnership, ServiceOrder, ServiceOrderLog
from .carrier import parcel_facts
from .transitions import log_launched

SO = ServiceOrder.Status

# Service orders per carrier task. A task runs its carrier calls CARRIER_CONCURRENCY at a time and
# applies each answer as it arrives, so a bigger chunk hides more of the carrier's latency behind our
# own writes; but the whole chunk must fit in Q_CLUSTER's timeout (120 s) when the HTTP carrier is at
# its worst (4 attempts × 5 s timeouts + 3.5 s backoff ≈ 24 s a call): 3 rounds of 16 stay near 70 s.
LAUNCH_CHUNK_SIZE = 40


def _already_under_way() -> str:
    return _("an interception of this parcel is already under way or done")


@dataclass
class Candidate:
    """One parcel of one after-sale, as the preview and the launch see it."""

    after_sale: AfterSale
    parcel: Parcel | None
    fee: rules.Fee | None
    blocker: str | None
    warning: str = ""

    @property
    def ok(self) -> bool:
        return self.blocker is None


def candidates_for(*, shop: Shop, after_sale_ids: list[int], precheck: bool = True) -> list[Candidate]:
    """Each after-sale's parcel with its fee and, if it cannot be intercepted, why. Fixed query count."""
    after_sales = list(
        AfterSale.objects.filter(shop=shop, pk__in=after_sale_ids)
        .select_related("parcel__courier", "parcel__outlet", "line", "order")
        .annotate(
            live_order=Exists(
                ServiceOrder.objects.filter(parcel_id=OuterRef("parcel_id"), status__in=ServiceOrder.LIVE_STATUSES)
            )
        )
        .order_by("parcel__courier__code", "id")
    )
    outlet_ids = {a.parcel.outlet_id for a in after_sales if a.parcel_id}
    partnerships = {
        p.outlet_id: p
        for p in Partnership.objects.filter(shop=shop, outlet_id__in=outlet_ids, status=Partnership.Status.ACTIVE)
    }
    carrier = gateway.get_gateway() if precheck else None
    result = []
    for after_sale in after_sales:
        parcel = after_sale.parcel
        blocker = rules.interception_blocker(
            rules.Eligibility(
                after_sale_status=after_sale.status,
                after_sale_type=after_sale.type,
                parcel_status=parcel.status if parcel else None,
                courier_supports_online=bool(parcel and parcel.courier.supports_online_interception),
                has_live_service_order=after_sale.live_order,
            )
        )
        fee, warning = None, ""
        if parcel is not None:
            partnership = partnerships.get(parcel.outlet_id)
            fee = rules.fee_for(
                active_partnership_id=partnership.pk if partnership else None,
                partnership_fee=partnership.fee if partnership else None,
            )
        if blocker is None and carrier is not None:
            check = carrier.precheck(parcel_facts(parcel))
            if not check.ok:
                blocker = check.reason
            warning = check.reason if check.ok else ""
        result.append(Candidate(after_sale=after_sale, parcel=parcel, fee=fee, blocker=blocker, warning=warning))
    return result


@transaction.atomic
def launch_interceptions(
    *,
    shop: Shop,
    user,
    after_sale_ids: list[int],
    via: str,
    batch: InterceptionBatch | None = None,
    enqueue: bool = True,
    at: datetime | None = None,
) -> tuple[list[ServiceOrder], list[tuple[AfterSale, str]]]:
    """Create a service order per eligible after-sale's parcel and queue the carrier calls.

    Returns (created, skipped with reasons). Pre-checks run again here, under the locks. A fixed
    number of queries whatever the count: a bulk confirm of 1 000 is as quick as one of 3.
    `enqueue=False` queues no carrier call (the demo seed writes the results itself); `at`: the
    launch's moment, now by default.
    """
    permissions.require(user, PermissionSet.AFTERSALES)
    at = at or timezone.now()
    locks.after_sales(after_sale_ids, shop=shop)
    # Re-check on the locked rows: another launch or a buyer event may have come first.
    candidates = candidates_for(shop=shop, after_sale_ids=sorted(set(after_sale_ids)), precheck=False)
    eligible, skipped, parcels = [], [], set()
    for candidate in candidates:
        if candidate.ok and candidate.parcel.pk in parcels:  # two after-sales of one parcel: one interception
            candidate.blocker = _already_under_way()
        if not candidate.ok:
            skipped.append((candidate.after_sale, candidate.blocker))
            continue
        parcels.add(candidate.parcel.pk)
        eligible.append(candidate)
    created = _create_service_orders(eligible, shop=shop, user=user, via=via, batch=batch, skipped=skipped, at=at)
    by_rule = via == ServiceOrder.Via.ASSISTANT_RULE
    log_launched(
        created,
        actor=ServiceOrderLog.Actor.ASSISTANT_RULE if by_rule else ServiceOrderLog.Actor.MERCHANT,
        user=user,
        message=_("Launched via %(via)s") % {"via": ServiceOrder.Via(via).label},
        at=at,
    )
    ids = [service_order.pk for service_order in created]
    if enqueue and ids:  # the demo seed writes its own results and queues nothing
        chunks = [ids[i : i + LAUNCH_CHUNK_SIZE] for i in range(0, len(ids), LAUNCH_CHUNK_SIZE)]
        transaction.on_commit(lambda: [async_task("interception.tasks.run_service_orders", c) for c in chunks])
    return created, skipped


def _create_service_orders(
    eligible: list[Candidate], *, shop: Shop, user, via: str, batch, skipped: list, at: datetime
) -> list[ServiceOrder]:
    """Insert the service orders at once. The unique live-order-per-parcel constraint stays the last
    line: if the bulk insert hits it (a launch outside these locks won the race), insert one by one so
    that only the conflicting parcels are skipped."""

    def build(candidate: Candidate) -> ServiceOrder:
        parcel = candidate.parcel
        return ServiceOrder(
            shop=shop,
            after_sale=candidate.after_sale,
            parcel=parcel,
            courier=parcel.courier,
            outlet=parcel.outlet,
            partnership_id=candidate.fee.partnership_id,
            batch=batch,
            mode=candidate.fee.mode,
            fee=candidate.fee.amount,
            via=via,
            created_by=user,
            created_at=at,
        )

    try:
        with transaction.atomic():
            return ServiceOrder.objects.bulk_create([build(candidate) for candidate in eligible])
    except IntegrityError:
        pass
    created = []
    for candidate in eligible:
        try:
            with transaction.atomic():
                service_order = build(candidate)
                service_order.save(force_insert=True)
        except IntegrityError:
            skipped.append((candidate.after_sale, _already_under_way()))
            continue
        created.append(service_order)
    return created


@transaction.atomic
def create_batch(*, shop: Shop, user, via: str, after_sale_ids: list[int], skipped: list[dict]) -> InterceptionBatch:
    permissions.require(user, PermissionSet.AFTERSALES)
    batch = InterceptionBatch.objects.create(shop=shop, created_by=user, via=via, skipped=skipped)
    _created, refused = launch_interceptions(shop=shop, user=user, after_sale_ids=after_sale_ids, via=via, batch=batch)
    if refused:
        batch.skipped = skipped + [{"ref": a.after_sale_no, "reason": reason} for a, reason in refused]
        batch.save(update_fields=["skipped"])
    return batch


@transaction.atomic
def retry_failed(*, batch: InterceptionBatch, user) -> InterceptionBatch:
    """Launch again the batch's failed interceptions whose after-sale can still be intercepted."""
    permissions.require(user, PermissionSet.AFTERSALES)
    failed = list(ServiceOrder.objects.filter(batch=batch, status=SO.FAILED).values_list("after_sale_id", flat=True))
    launch_interceptions(shop=batch.shop, user=user, after_sale_ids=failed, via=batch.via, batch=batch)
    return batch
