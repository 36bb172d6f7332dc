"""Claims demo data: claims before, inside and after the window, replayed through the real services.

`seed_claims()` adds its own intercepted parcels of demo-shop, sent from JT-SH-001 (whose staff,
`outlet-jt`, answers claims in the outlet portal; the shop has no active partnership with it, so
these online interceptions never touch the offline statements). Each parcel is bought, shipped,
asked back (refund only), intercepted and reported succeeded N days ago, then not returned, lost or
damaged. Claims are filed at moments inside their windows under a demo clock and played forward:
submitted, accepted, disputed → arbitration, unanswered → arbitration, compensated, rejected (its
window closed since). The other parcels get no claim: the claim-window tracker shows them before
their window, open now, about to close and closed — beside the interception demo's own service
orders, which are left unclaimed. Idempotent: a shop that already has claims is left alone.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from aftersales import notifications
from aftersales import services as aftersales_services
from aftersales.demo_seed import PNG
from aftersales.models import AfterSale
from interception import services as interception_services
from shop import demo
from shop.models import Buyer, Order, OrderLine, Outlet, Parcel, Shop, TrackingEvent, User

from . import rules
from . import services as claims
from .models import Claim
from .tasks import ensure_claim_schedule, ensure_payment_schedule

SHOP, OUTLET = "demo-shop", "JT-SH-001"
HOUR, DAY = timedelta(hours=1), timedelta(days=1)

# (days ago the interception succeeded, what became of the parcel, return failure, the claim's fate or None)
PLAN = [
    (45, "return_failed", "damaged", None),  # the window closed without a claim
    (36, "return_failed", "lost", "rejected"),  # claimed in time, rejected in arbitration; closed since
    (28, "return_failed", "lost", None),  # two days left: the tracker's warning
    (25, "return_failed", "damaged", "compensated"),  # accepted, then paid offline
    (21, "succeeded", "", "disputed"),  # disputed by the outlet: platform arbitration
    (17, "return_failed", "lost", "unanswered"),  # unanswered: escalated to platform arbitration
    (14, "returning", "", "accepted"),  # the outlet will pay offline
    (11, "returning", "", None),  # open, not claimed yet
    (9, "return_failed", "damaged", "submitted"),  # for outlet-jt to answer
    (5, "succeeded", "", None),  # the window opens in two days
    (2, "succeeded", "", None),
]
REASONS = {"lost": Claim.Reason.LOST, "damaged": Claim.Reason.DAMAGED, "": Claim.Reason.NOT_BACK}
DESCRIPTIONS = {
    Claim.Reason.LOST: ["网点反馈包裹退回途中丢失", "拦截成功后一直没有退回，网点查无此件"],
    Claim.Reason.DAMAGED: ["退回的包裹外箱破损，商品摔坏", "退回商品有明显挤压变形，无法二次销售"],
    Claim.Reason.NOT_BACK: ["拦截成功已超过一周，包裹仍未退回", "物流停在退回途中，多次联系网点无果"],
}


@dataclass
class Actors:
    owner: User | None
    operator: User | None
    outlet_staff: User | None


def seed_claims(*, stdout, rng: random.Random, now: datetime) -> None:
    shop = Shop.objects.filter(code=SHOP).first()
    outlet = Outlet.objects.select_related("courier").filter(code=OUTLET).first()
    if shop is None or outlet is None or Claim.objects.filter(shop=shop).exists():
        return
    ensure_claim_schedule()
    ensure_payment_schedule()
    actors = Actors(
        owner=User.objects.filter(shop=shop, shop_role="owner").order_by("pk").first(),
        operator=User.objects.filter(kind=User.Kind.OPERATOR).order_by("pk").first(),
        outlet_staff=User.objects.filter(kind=User.Kind.OUTLET, outlet=outlet, outlet_role="manager")
        .order_by("pk")
        .first(),
    )
    made, left = [], 0
    # The replayed buyers' refund notifications are history: none is queued for delivery.
    with notifications.delivery_by_sweep():
        for number, (days, status, failure, fate) in enumerate(PLAN, start=1):
            succeeded_at = now - days * DAY - rng.randint(1, 9) * HOUR
            service_order = intercept(shop, outlet, actors.owner, number, succeeded_at, status, failure, rng)
            if fate is None:
                left += 1
                continue
            made.append(play(service_order, fate, actors, now, rng))
    counts = ", ".join(f"{s} {sum(c.status == s for c in made)}" for s in sorted({c.status for c in made}))
    stdout.write(f"Claims demo: {len(made)} claims ({counts}); {left} intercepted parcels left for the tracker.")


def intercept(shop, outlet, owner, number: int, succeeded_at: datetime, status: str, failure: str, rng):
    """A parcel bought and shipped days before `succeeded_at`, asked back and intercepted then; then `status`."""
    title, category, price, _domestic = rng.choice([p for p in demo.PRODUCTS if p[3] and p[1] != "fresh"])
    paid_at = succeeded_at - rng.uniform(2, 3) * DAY
    shipped_at = paid_at + rng.uniform(4, 20) * HOUR
    buyer, _created = Buyer.objects.get_or_create(
        external_id=f"dsc-buyer-{number:03d}", defaults={"nickname": rng.choice(demo.NICKNAMES)}
    )
    order = Order.objects.create(
        shop=shop,
        buyer=buyer,
        order_no=f"DSC{succeeded_at:%y%m%d}{number:03d}",
        status=Order.Status.SHIPPED,
        paid_amount=Decimal(price),
        paid_at=paid_at,
    )
    line = OrderLine.objects.create(
        order=order,
        line_no="1",
        sku=f"SKU-C{number:04d}",
        title=title,
        category=category,
        quantity=1,
        paid_amount=Decimal(price),
        domestic_physical=True,
    )
    parcel = Parcel.objects.create(
        order=order,
        courier=outlet.courier,
        outlet=outlet,
        tracking_no=f"JT{rng.randint(10**12, 10**13 - 1)}",
        status=Parcel.Status.IN_TRANSIT,
        status_at=shipped_at + 8 * HOUR,
        shipped_at=shipped_at,
    )
    parcel.lines.set([line])
    TrackingEvent.objects.bulk_create(
        [
            TrackingEvent(parcel=parcel, status=Parcel.Status.COLLECTED, at=shipped_at, note="已揽收"),
            TrackingEvent(parcel=parcel, status=Parcel.Status.IN_TRANSIT, at=shipped_at + 8 * HOUR, note="运输中"),
        ]
    )
    applied_at = succeeded_at - rng.uniform(1, 3) * HOUR
    with transaction.atomic():
        after_sale = aftersales_services.apply_for_after_sale(
            after_sale_no=f"AS-DSC{number:05d}",
            order_no=order.order_no,
            line_no="1",
            type=AfterSale.Type.REFUND_ONLY,
            reason=AfterSale.Reason.NOT_RECEIVED,
            amount=line.paid_amount,
            note=rng.choice(["物流一直不动，不想要了", "快递好几天没更新", "不想等了，申请退款"]),
            at=applied_at,
        )
    with transaction.atomic():
        (service_order,), _skipped = interception_services.launch_interceptions(
            shop=shop,
            user=owner,
            after_sale_ids=[after_sale.pk],
            via="detail",
            enqueue=False,
            at=applied_at + 10 * timedelta(minutes=1),
        )
    results = [("succeeded", succeeded_at, "")]
    if status in ("returning", "return_failed"):
        results.append(("returning", succeeded_at + DAY, ""))
    if status == "return_failed":
        results.append(("return_failed", succeeded_at + 3 * DAY, failure))
    for result, at, return_failure in results:
        with transaction.atomic():
            interception_services.apply_result(
                service_order_id=service_order.pk, status=result, occurred_at=at, return_failure=return_failure
            )
    service_order.refresh_from_db()
    return service_order


def play(service_order, fate: str, actors: Actors, now: datetime, rng: random.Random) -> Claim:
    """File a claim inside the window and play it forward to `fate`, each step at its own moment."""
    window = rules.claim_window(service_order.succeeded_at)
    if fate == "submitted":  # fresh: the outlet still has time to answer
        filed_at = max(window.opens_at + HOUR, now - rng.uniform(5, 20) * HOUR)
    else:
        filed_at = window.opens_at + rng.uniform(2, 30) * HOUR
    reason = REASONS[service_order.return_failure]
    limit = min(service_order.after_sale.line.paid_amount, rules.CLAIM_CAP)
    share = Decimal(str(round(rng.uniform(0.5, 0.8), 2))) if reason == Claim.Reason.DAMAGED else Decimal(1)
    amount = (limit * share).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    outlet, staff = service_order.outlet, actors.outlet_staff
    with transaction.atomic():
        claim = claims.file_claim(
            service_order_id=service_order.pk,
            shop=service_order.shop,
            user=actors.owner,
            reason=reason,
            amount=amount,
            description=rng.choice(DESCRIPTIONS[reason]),
            evidence=[SimpleUploadedFile("evidence.png", PNG, content_type="image/png")],
            now=filed_at,
        )
    answered_at = filed_at + rng.uniform(20, 44) * HOUR
    if fate in ("accepted", "compensated"):
        offered = (amount * Decimal("0.9")).quantize(Decimal("0.01"))
        with transaction.atomic():
            claims.outlet_accept(
                claim_id=claim.pk, outlet=outlet, user=staff, amount=offered, note="核实属实，同意赔付", now=answered_at
            )
        if fate == "compensated":
            with transaction.atomic():
                claims.record_compensation(
                    claim_id=claim.pk,
                    shop=service_order.shop,
                    user=actors.owner,
                    payment_reference=f"WX{answered_at:%Y%m%d}{claim.pk:04d}",
                    amount=offered,
                    now=answered_at + 2 * DAY,
                )
    elif fate in ("disputed", "rejected"):
        with transaction.atomic():
            claims.outlet_dispute(
                claim_id=claim.pk,
                outlet=outlet,
                user=staff,
                reason="包裹已按原路退回，签收人为商家仓库",
                now=answered_at,
            )
        if fate == "rejected" and actors.operator is not None:
            with transaction.atomic():
                claims.decide_arbitration(
                    claim_id=claim.pk,
                    user=actors.operator,
                    compensate=False,
                    note="物流轨迹显示包裹已退回商家仓库签收，驳回理赔",
                    now=answered_at + DAY,
                )
    elif fate == "unanswered":
        due = rules.answer_deadline(filed_at)
        with transaction.atomic():
            claims.escalate_claim(claim_id=claim.pk, now=due)
    return Claim.objects.get(pk=claim.pk)
