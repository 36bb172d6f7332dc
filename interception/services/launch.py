"""The launch stage: preview the candidates, create the service orders, queue the carrier calls.

Every launch locks its after-sales (locks.after_sales) and checks again on the locked rows; the
carrier calls run later, in tasks (carrier.py), outside any transaction.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from aftersales import selectors as aftersales_selectors
from aftersales.models import Actor, AfterSale, AfterSaleLog
from aftersales.services.base import log_row, refund_plan
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
    # Only read when asked (candidates_for(history=True)): an earlier interception of the after-sale
    # or its parcel, in the service orders or in the after-sale's history.
    earlier_interception: bool = False
    warnings: list[str] = field(default_factory=list)  # rules.launch_warnings codes, once computed

    @property
    def ok(self) -> bool:
        return self.blocker is None

    @property
    def refund(self) -> Decimal:
        """What success refunds the buyer automatically: what is still due, capped by the line."""
        return max(refund_plan(self.after_sale)[1], Decimal("0.00"))


def candidates_for(
    *, shop: Shop, after_sale_ids: list[int], precheck: bool = True, history: bool = False
) -> list[Candidate]:
    """Each after-sale's parcel with its fee and, if it cannot be intercepted, why. Fixed query count.

    `history`: also read whether it was intercepted before (for the warnings), in the same query.
    """
    queryset = (
        AfterSale.objects.filter(shop=shop, pk__in=after_sale_ids)
        .select_related("parcel__courier", "parcel__outlet", "line", "order")
        .annotate(
            live_order=Exists(
                ServiceOrder.objects.filter(parcel_id=OuterRef("parcel_id"), status__in=ServiceOrder.LIVE_STATUSES)
            )
        )
        .order_by("parcel__courier__code", "id")
    )
    if history:
        queryset = queryset.annotate(
            earlier_order=Exists(
                ServiceOrder.objects.filter(Q(after_sale_id=OuterRef("pk")) | Q(parcel_id=OuterRef("parcel_id")))
            ),
            earlier_log=Exists(AfterSaleLog.objects.filter(after_sale_id=OuterRef("pk"), actor=Actor.INTERCEPTION)),
        )
    after_sales = list(queryset)
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
        earlier = history and (after_sale.earlier_order or after_sale.earlier_log)
        result.append(
            Candidate(
                after_sale=after_sale,
                parcel=parcel,
                fee=fee,
                blocker=blocker,
                warning=warning,
                earlier_interception=earlier,
            )
        )
    return result


def add_warnings(candidates: list[Candidate], *, shop: Shop, now: datetime) -> list[Candidate]:
    """Fill each candidate's `warnings` (rules.launch_warnings): one query for the buyers' abuse hint.

    The candidates come from candidates_for(history=True).
    """
    buyer_ids = sorted({c.after_sale.buyer_id for c in candidates})
    abuse = aftersales_selectors.abuse_stats(shop=shop, buyer_ids=buyer_ids, now=now) if buyer_ids else {}
    for candidate in candidates:
        candidate.warnings = rules.launch_warnings(
            rules.WarningFacts(
                refund=candidate.refund,
                buyer_over_abuse_threshold=abuse.get(candidate.after_sale.buyer_id, {}).get("flagged", False),
                remark=candidate.after_sale.remark,
                earlier_interception=candidate.earlier_interception,
                refused=not candidate.ok,
            )
        )
    return candidates


def left_out_reason(codes) -> str:
    return _("left out: %(warnings)s") % {"warnings": "; ".join(rules.warning_label(code) for code in codes)}


@dataclass
class Launched:
    """What a launch did: the service orders created, the after-sales refused (with the reason), and
    those left out on a warning the merchant chose to leave out (with its codes)."""

    created: list[ServiceOrder]
    skipped: list[tuple[AfterSale, str]]
    left_out: list[tuple[AfterSale, list[str]]]
    candidates: list[Candidate]


def launch_interceptions(
    *,
    shop: Shop,
    user,
    after_sale_ids: list[int],
    via: str,
    batch: InterceptionBatch | None = None,
    enqueue: bool = True,
    at: datetime | None = None,
    leave_out: frozenset[str] = frozenset(),
) -> tuple[list[ServiceOrder], list[tuple[AfterSale, str]]]:
    """Create a service order per eligible after-sale's parcel and queue the carrier calls.

    Returns (created, skipped with reasons). Pre-checks run again here, under the locks. A fixed
    number of queries whatever the count: a bulk confirm of 1 000 is as quick as one of 3.
    `enqueue=False` queues no carrier call (the demo seed writes the results itself); `at`: the
    launch's moment, now by default. `leave_out`: warning codes (rules.LEAVABLE_WARNING_CODES) whose
    after-sales are skipped, checked again here on the locked rows.
    """
    launched = launch_with_warnings(
        shop=shop,
        user=user,
        after_sale_ids=after_sale_ids,
        via=via,
        batch=batch,
        enqueue=enqueue,
        at=at,
        leave_out=leave_out,
        warnings=bool(leave_out),
    )
    left_out = [(after_sale, left_out_reason(codes)) for after_sale, codes in launched.left_out]
    return launched.created, launched.skipped + left_out


@transaction.atomic
def launch_with_warnings(
    *,
    shop: Shop,
    user,
    after_sale_ids: list[int],
    via: str,
    batch: InterceptionBatch | None = None,
    enqueue: bool = True,
    at: datetime | None = None,
    leave_out: frozenset[str] = frozenset(),
    warnings: bool = True,
) -> Launched:
    """launch_interceptions, telling apart the after-sales left out on a warning; `warnings`: compute
    every candidate's warnings (one more query), as the API's answer lists them."""
    permissions.require(user, PermissionSet.AFTERSALES)
    at = at or timezone.now()
    leave_out = frozenset(leave_out) & rules.LEAVABLE_WARNING_CODES
    locks.after_sales(after_sale_ids, shop=shop)
    # Re-check on the locked rows: another launch or a buyer event may have come first.
    candidates = candidates_for(
        shop=shop, after_sale_ids=sorted(set(after_sale_ids)), precheck=False, history=warnings or bool(leave_out)
    )
    if warnings or leave_out:
        add_warnings(candidates, shop=shop, now=at)
    eligible, skipped, left_out, parcels = [], [], [], set()
    for candidate in candidates:
        if candidate.ok and candidate.parcel.pk in parcels:  # two after-sales of one parcel: one interception
            candidate.blocker = _already_under_way()
        if not candidate.ok:
            skipped.append((candidate.after_sale, candidate.blocker))
            continue
        codes = [code for code in candidate.warnings if code in leave_out]
        if codes:
            left_out.append((candidate.after_sale, codes))
            continue
        parcels.add(candidate.parcel.pk)
        eligible.append(candidate)
    created = _create_service_orders(eligible, shop=shop, user=user, via=via, batch=batch, skipped=skipped, at=at)
    by_rule = via == ServiceOrder.Via.ASSISTANT_RULE
    message = _("Launched via %(via)s") % {"via": ServiceOrder.Via(via).label}
    log_launched(
        created,
        actor=ServiceOrderLog.Actor.ASSISTANT_RULE if by_rule else ServiceOrderLog.Actor.MERCHANT,
        user=user,
        message=message,
        at=at,
    )
    # The after-sale's own history tells the story too: one INSERT for all of them.
    AfterSaleLog.objects.bulk_create(
        log_row(
            service_order.after_sale,
            AfterSaleLog.Action.INTERCEPTION,
            actor=Actor.INTERCEPTION,
            user=user,
            at=at,
            message=_("Service order %(no)s launched via %(via)s")
            % {"no": service_order.number, "via": ServiceOrder.Via(via).label},
        )
        for service_order in created
    )
    ids = [service_order.pk for service_order in created]
    if enqueue and ids:  # the demo seed writes its own results and queues nothing
        chunks = [ids[i : i + LAUNCH_CHUNK_SIZE] for i in range(0, len(ids), LAUNCH_CHUNK_SIZE)]
        transaction.on_commit(lambda: [async_task("interception.tasks.run_service_orders", c) for c in chunks])
    return Launched(created=created, skipped=skipped, left_out=left_out, candidates=candidates)


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
def create_batch(
    *,
    shop: Shop,
    user,
    via: str,
    after_sale_ids: list[int],
    skipped: list[dict],
    leave_out: frozenset[str] = frozenset(),
) -> InterceptionBatch:
    permissions.require(user, PermissionSet.AFTERSALES)
    batch = InterceptionBatch.objects.create(shop=shop, created_by=user, via=via, skipped=skipped)
    _created, refused = launch_interceptions(
        shop=shop, user=user, after_sale_ids=after_sale_ids, via=via, batch=batch, leave_out=leave_out
    )
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
