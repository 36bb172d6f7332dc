"""Every URL of the merchant and outlet areas, walked as owner, other tenant, wrong role and anonymous,
and as a member holding each permission set alone (the role walk: NEEDS says which set a URL needs).

The walk fails when a pattern has no case or no NEEDS entry below, so a page added later is covered
the day it lands.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from shop.permissions import MERCHANT_SETS, OUTLET_MANAGER, OUTLET_SETS
from shop.permissions import PermissionSet as P
from tests.shop.factories import (
    make_courier,
    make_member,
    make_merchant,
    make_order,
    make_outlet,
    make_outlet_clerk,
    make_outlet_user,
    make_parcel,
    make_shop,
)

MERCHANT_NAMESPACES = {"shop", "aftersales", "interception", "settlement", "api", "team"}
OUTLET_NAMESPACES = {"outlet"}


@dataclass
class World:
    """Two shops and two outlets; `mine` objects belong to shop A / outlet A."""

    shop_a: object
    shop_b: object
    merchant_a: object
    merchant_b: object
    outlet_a: object
    outlet_b: object
    outlet_user_a: object
    outlet_user_b: object
    order_a: object
    parcel_a: object


@dataclass(frozen=True)
class Case:
    kwargs: Callable[[World], dict] = lambda world: {}
    # For list pages (no object in the URL): a text of tenant A's that tenant B must not see.
    secret: Callable[[World], str] | None = None
    # "post": a POST-only action; the own- and other-tenant walks POST (following the redirect), the others GET.
    method: str = "get"
    # Rows a list page shows (so that its secret is there to leak), created before each request.
    given: Callable[[World], object] | None = None


def _export_job_a(world: World):
    """A finished export of shop A (created on first use, so the world fixture stays as it is)."""
    from django.core.files.base import ContentFile

    from aftersales.models import ExportJob

    job, created = ExportJob.objects.get_or_create(
        shop=world.shop_a, user=world.merchant_a, format="xlsx", defaults={"status": "done"}
    )
    if created:
        job.file.save("tenancy.xlsx", ContentFile(b"xlsx"))
    return job


def _bulk_job_a(world: World):
    """A bulk rejection of shop A, not run (created on first use)."""
    from django.utils import timezone

    from aftersales.models import BulkJob

    job, _created = BulkJob.objects.get_or_create(
        shop=world.shop_a,
        user=world.merchant_a,
        defaults={"kind": "reject_signed", "versions": {}, "language": "en", "created_at": timezone.now()},
    )
    return job


def _after_sale_a(world: World):
    """An open refund-only after-sale of shop A on its in-transit parcel (created on first use)."""
    from aftersales.models import AfterSale

    line = world.order_a.lines.get()
    after_sale, _created = AfterSale.objects.get_or_create(
        after_sale_no="AS-SECRET-A",
        defaults={
            "shop": world.shop_a,
            "order": world.order_a,
            "line": line,
            "buyer": world.order_a.buyer,
            "parcel": world.parcel_a,
            "type": "refund_only",
            "reason": "not_received",
            "amount": line.paid_amount,
            "sequence": 1,
            "applied_at": world.order_a.paid_at,
        },
    )
    return after_sale


def _batch_a(world: World):
    from interception.models import InterceptionBatch

    batch, _created = InterceptionBatch.objects.get_or_create(shop=world.shop_a, via="bulk")
    return batch


def _evidence_a(world: World):
    """An evidence image of shop A's after-sale (created on first use)."""
    from django.core.files.base import ContentFile

    from aftersales.models import EvidenceImage

    after_sale = _after_sale_a(world)
    image = after_sale.evidence.first()
    if image is None:
        image = EvidenceImage(after_sale=after_sale, content_type="image/png", size=8)
        image.image.save("tenancy.png", ContentFile(b"\x89PNG\r\n\x1a\n"))
    return image


def _after_sale_no_a(world: World) -> dict:
    return {"after_sale_no": _after_sale_a(world).after_sale_no}


def _partnership_a(world: World):
    """Shop A's pending application to outlet A (created on first use)."""
    from interception.models import Partnership

    partnership, _created = Partnership.objects.get_or_create(
        shop=world.shop_a, outlet=world.outlet_a, defaults={"fee": "4.56", "outlet_note": "NOTE-SECRET-A"}
    )
    return partnership


def _partnership_pk_a(world: World) -> dict:
    return {"pk": _partnership_a(world).pk}


def _service_order_a(world: World):
    """A succeeded interception of shop A's parcel, sent from outlet A (created on first use)."""
    from interception.models import ServiceOrder

    service_order, _created = ServiceOrder.objects.get_or_create(
        parcel=world.parcel_a,
        defaults={
            "shop": world.shop_a,
            "after_sale": _after_sale_a(world),
            "courier": world.parcel_a.courier,
            "outlet": world.outlet_a,
            "mode": "online",
            "fee": "3.00",
            "via": "detail",
            "status": "succeeded",
        },
    )
    return service_order


def _claimable_service_order_a(world: World):
    """Shop A's succeeded interception, 10 days ago: inside its claim window, in the claim tracker."""
    from datetime import timedelta

    from django.utils import timezone

    service_order = _service_order_a(world)
    if service_order.succeeded_at is None:
        service_order.succeeded_at = timezone.now() - timedelta(days=10)
        service_order.save(update_fields=["succeeded_at"])
    return service_order


def _claim_a(world: World):
    """A submitted claim of shop A against outlet A, with one evidence image (created on first use)."""
    from django.core.files.base import ContentFile
    from django.utils import timezone

    from settlement.models import Claim, ClaimEvidence

    service_order = _claimable_service_order_a(world)
    claim, created = Claim.objects.get_or_create(
        service_order=service_order,
        defaults={
            "shop": world.shop_a,
            "outlet": world.outlet_a,
            "reason": "lost",
            "description": "CLAIM-SECRET-A",
            "goods_value": "100.00",
            "amount": "80.00",
            "filed_at": timezone.now(),
        },
    )
    if created:
        evidence = ClaimEvidence(claim=claim, content_type="image/png", size=8)
        evidence.image.save("tenancy.png", ContentFile(b"\x89PNG\r\n\x1a\n"))
    return claim


def _claim_pk_a(world: World) -> dict:
    return {"pk": _claim_a(world).pk}


def _claim_evidence_a(world: World) -> dict:
    claim = _claim_a(world)
    return {"pk": claim.pk, "evidence_pk": claim.evidence.get().pk}


def _statement_a(world: World):
    """Shop A's issued statement of last month with outlet A: one offline interception of 6.54 (on first use)."""
    from datetime import timedelta

    from django.utils import timezone

    from interception.models import FeeCharge, ServiceOrder
    from settlement.models import Statement, StatementLine
    from settlement.statements.rules import add_months, current_month, month_start

    statement = Statement.objects.filter(shop=world.shop_a, outlet=world.outlet_a).first()
    if statement is not None:
        return statement
    month = add_months(current_month(), -1)
    succeeded_at = month_start(month) + timedelta(days=3)
    parcel = make_parcel(world.order_a, outlet=world.outlet_a, tracking_no="YT-STMT-A")
    service_order = ServiceOrder.objects.create(
        shop=world.shop_a,
        after_sale=_after_sale_a(world),
        parcel=parcel,
        courier=parcel.courier,
        outlet=world.outlet_a,
        mode="offline",
        fee="6.54",
        via="detail",
        status="returned",
        succeeded_at=succeeded_at,
    )
    charge = FeeCharge.objects.create(
        shop=world.shop_a,
        service_order=service_order,
        courier=parcel.courier,
        outlet=world.outlet_a,
        mode="offline",
        amount="6.54",
        charged_at=succeeded_at,
    )
    statement = Statement.objects.create(
        shop=world.shop_a,
        outlet=world.outlet_a,
        month=month,
        status="issued",
        line_count=1,
        total="6.54",
        issued_at=timezone.now(),
    )
    StatementLine.objects.create(
        statement=statement,
        fee_charge=charge,
        service_order=service_order,
        tracking_no="YT-STMT-A",
        amount="6.54",
        succeeded_at=succeeded_at,
    )
    return statement


def _statement_pk_a(world: World) -> dict:
    return {"pk": _statement_a(world).pk}


def _reconciliation_pk_a(world: World) -> dict:
    """A reconciliation of shop A's statement against a bill (created on first use)."""
    from settlement.models import Reconciliation

    statement = _statement_a(world)
    record, _created = Reconciliation.objects.get_or_create(
        statement=statement, defaults={"uploaded_by": world.merchant_a, "file_name": "bill-a.csv"}
    )
    return {"pk": record.pk}


def _token_pk_a(world: World) -> dict:
    from api import tokens
    from api.models import ApiToken

    token = ApiToken.objects.filter(shop=world.shop_a).first()
    if token is None:
        token, _secret = tokens.create_api_token(shop=world.shop_a, name="TOKEN-SECRET-A", scopes="read")
    return {"pk": token.pk}


def _endpoint_a(world: World):
    from api import webhooks

    endpoint = webhooks.endpoints_for_shop(shop=world.shop_a).first()
    return endpoint or webhooks.create_endpoint(
        shop=world.shop_a, url="https://a.example.com/h", events=["refund.created"]
    )


def _delivery_pk_a(world: World) -> dict:
    from api.models import WebhookDelivery

    delivery, _created = WebhookDelivery.objects.get_or_create(
        endpoint=_endpoint_a(world),
        change_id=1,
        defaults={"event_id": "evt_1", "type": "refund.created", "body": b"{}"},
    )
    return {"pk": delivery.pk}


def _member_a(world: World):
    """A staff member of shop A with after-sales handling (created on first use)."""
    from shop.models import User

    member = User.objects.filter(username="member-secret-a").first()
    return member or make_member(world.shop_a, P.AFTERSALES, username="member-secret-a")


def _member_pk_a(world: World) -> dict:
    return {"pk": _member_a(world).pk}


def _clerk_a(world: World):
    """A clerk of outlet A with statements and claims (created on first use)."""
    from shop.models import User

    clerk = User.objects.filter(username="clerk-secret-a").first()
    return clerk or make_outlet_clerk(world.outlet_a, P.OUTLET_SETTLEMENT, username="clerk-secret-a")


def _clerk_pk_a(world: World) -> dict:
    return {"pk": _clerk_a(world).pk}


def _staff_change_a(world: World):
    """A staff change of shop A, made by its owner: the staff activity shows it (created on first use)."""
    from django.utils import timezone

    from shop.models import StaffChange

    member = _member_a(world)
    change, _created = StaffChange.objects.get_or_create(
        shop=world.shop_a,
        member=member,
        defaults={"user": world.merchant_a, "kind": "added", "detail": "ACTIVITY-SECRET-A", "at": timezone.now()},
    )
    return change


CASES: dict[str, Case] = {
    "shop:order-list": Case(secret=lambda w: w.order_a.order_no),
    "shop:order-detail": Case(kwargs=lambda w: {"order_no": w.order_a.order_no}),
    "aftersales:workbench": Case(given=_after_sale_a, secret=lambda w: "AS-SECRET-A"),
    "aftersales:metrics": Case(),
    "aftersales:quick-counts": Case(given=_after_sale_a, secret=lambda w: '"pending": "1"'),
    "aftersales:bulk-flag": Case(method="post"),
    "aftersales:export-csv": Case(given=_after_sale_a, secret=lambda w: "AS-SECRET-A"),
    "aftersales:export-start": Case(method="post"),
    "aftersales:export-detail": Case(kwargs=lambda w: {"pk": _export_job_a(w).pk}),
    "aftersales:export-download": Case(kwargs=lambda w: {"pk": _export_job_a(w).pk}),
    "aftersales:after-sale-detail": Case(kwargs=_after_sale_no_a),
    "aftersales:evidence": Case(kwargs=lambda w: {**_after_sale_no_a(w), "pk": _evidence_a(w).pk}),
    "aftersales:timeline-image": Case(kwargs=_after_sale_no_a),
    "aftersales:bulk-reject-signed-preview": Case(method="post"),
    "aftersales:bulk-reject-signed": Case(method="post"),
    "aftersales:bulk-refund-returned-preview": Case(method="post"),
    "aftersales:bulk-refund-returned": Case(method="post"),
    "aftersales:bulk-job": Case(kwargs=lambda w: {"pk": _bulk_job_a(w).pk}),
    "aftersales:agree-refund": Case(method="post", kwargs=_after_sale_no_a),
    "aftersales:agree-return": Case(method="post", kwargs=_after_sale_no_a),
    "aftersales:confirm-receipt": Case(method="post", kwargs=_after_sale_no_a),
    "aftersales:reject": Case(method="post", kwargs=_after_sale_no_a),
    "aftersales:small-payment": Case(method="post", kwargs=_after_sale_no_a),
    "aftersales:flag": Case(method="post", kwargs=_after_sale_no_a),
    "aftersales:send-card": Case(method="post", kwargs=_after_sale_no_a),
    "interception:home": Case(),
    "interception:intercept": Case(kwargs=lambda w: {"after_sale_no": _after_sale_a(w).after_sale_no}),
    "interception:im-card": Case(kwargs=lambda w: {"after_sale_no": _after_sale_a(w).after_sale_no}),
    "interception:launch": Case(method="post"),
    "interception:bulk-preview": Case(method="post"),
    "interception:paste": Case(),
    "interception:batch": Case(kwargs=lambda w: {"pk": _batch_a(w).pk}),
    "interception:batch-status": Case(kwargs=lambda w: {"pk": _batch_a(w).pk}),
    "interception:batch-retry": Case(method="post", kwargs=lambda w: {"pk": _batch_a(w).pk}),
    "interception:service-orders": Case(),
    "interception:service-orders-csv": Case(),
    "interception:service-orders-xlsx": Case(),
    "interception:assistant": Case(),
    "interception:partnerships": Case(given=_partnership_a, secret=lambda w: "NOTE-SECRET-A"),
    "interception:partnership-apply": Case(method="post"),
    "interception:partnership-detail": Case(kwargs=_partnership_pk_a),
    "interception:partnership-end": Case(method="post", kwargs=_partnership_pk_a),
    "settlement:home": Case(),
    "settlement:fees": Case(given=_statement_a, secret=lambda w: "6.54"),
    "settlement:statements": Case(given=_statement_a, secret=lambda w: "6.54"),
    "settlement:statements-refresh": Case(method="post"),
    "settlement:statement-detail": Case(kwargs=_statement_pk_a),
    "settlement:statement-csv": Case(kwargs=_statement_pk_a, secret=lambda w: "YT-STMT-A"),
    "settlement:statement-xlsx": Case(kwargs=_statement_pk_a),
    "settlement:statement-pay": Case(method="post", kwargs=_statement_pk_a),
    "settlement:statement-reissue": Case(method="post", kwargs=_statement_pk_a),
    "settlement:statement-reconcile": Case(method="post", kwargs=_statement_pk_a),
    "settlement:reconciliation-detail": Case(kwargs=_reconciliation_pk_a),
    "settlement:reconciliation-csv": Case(kwargs=_reconciliation_pk_a),
    "settlement:claims": Case(given=_claim_a, secret=lambda w: "YT-SECRET-A"),
    "settlement:claim-new": Case(kwargs=lambda w: {"service_order_pk": _claimable_service_order_a(w).pk}),
    "settlement:claim-detail": Case(kwargs=_claim_pk_a),
    "settlement:claim-compensate": Case(method="post", kwargs=_claim_pk_a),
    "settlement:claim-evidence": Case(kwargs=_claim_evidence_a),
    "settlement:claim-tracker": Case(given=_claimable_service_order_a, secret=lambda w: "YT-SECRET-A"),
    "api:home": Case(given=_token_pk_a, secret=lambda w: "TOKEN-SECRET-A"),
    "api:token-create": Case(method="post"),
    "api:token-revoke": Case(method="post", kwargs=_token_pk_a),
    "api:endpoint-create": Case(method="post"),
    "api:endpoint-delete": Case(method="post", kwargs=lambda w: {"pk": _endpoint_a(w).pk}),
    "api:endpoint-enable": Case(method="post", kwargs=lambda w: {"pk": _endpoint_a(w).pk}),
    "api:delivery-resend": Case(method="post", kwargs=_delivery_pk_a),
    "team:members": Case(given=_member_a, secret=lambda w: "member-secret-a"),
    "team:member-add": Case(method="post"),
    "team:member-sets": Case(method="post", kwargs=_member_pk_a),
    "team:member-deactivate": Case(method="post", kwargs=_member_pk_a),
    "team:member-reactivate": Case(method="post", kwargs=_member_pk_a),
    "team:member-password": Case(method="post", kwargs=_member_pk_a),
    "team:activity": Case(given=_staff_change_a, secret=lambda w: "ACTIVITY-SECRET-A"),
    "team:activity-csv": Case(given=_staff_change_a, secret=lambda w: "ACTIVITY-SECRET-A"),
    "outlet:team": Case(given=_clerk_a, secret=lambda w: "clerk-secret-a"),
    "outlet:team-add": Case(method="post"),
    "outlet:team-sets": Case(method="post", kwargs=_clerk_pk_a),
    "outlet:team-deactivate": Case(method="post", kwargs=_clerk_pk_a),
    "outlet:team-reactivate": Case(method="post", kwargs=_clerk_pk_a),
    "outlet:team-password": Case(method="post", kwargs=_clerk_pk_a),
    "outlet:portal": Case(secret=lambda w: w.outlet_a.code),
    "outlet:partnership-detail": Case(kwargs=_partnership_pk_a),
    "outlet:partnership-approve": Case(method="post", kwargs=_partnership_pk_a),
    "outlet:partnership-reject": Case(method="post", kwargs=_partnership_pk_a),
    "outlet:service-orders": Case(given=_service_order_a, secret=lambda w: w.parcel_a.tracking_no),
    "outlet:service-orders-csv": Case(),  # streamed; its isolation: tests/interception/test_outlet_portal.py
    "outlet:statements": Case(given=_statement_a, secret=lambda w: "6.54"),
    "outlet:statement-detail": Case(kwargs=_statement_pk_a),
    "outlet:statement-confirm": Case(method="post", kwargs=_statement_pk_a),
    "outlet:statement-dispute": Case(method="post", kwargs=_statement_pk_a),
    "outlet:statement-csv": Case(kwargs=_statement_pk_a),  # streamed; content: tests/settlement/test_statement_pages.py
    "outlet:statement-xlsx": Case(kwargs=_statement_pk_a),
    "outlet:claims": Case(given=_claim_a, secret=lambda w: "YT-SECRET-A"),
    "outlet:claim-detail": Case(kwargs=_claim_pk_a),
    "outlet:claim-accept": Case(method="post", kwargs=_claim_pk_a),
    "outlet:claim-dispute": Case(method="post", kwargs=_claim_pk_a),
    "outlet:claim-evidence": Case(kwargs=_claim_evidence_a),
}


# The role walk: the permission set each URL needs for the request the walk makes (None: any staff
# member of the area). The assistant rule's page is open to read; saving it needs interception
# settings (tests/shop/test_permissions.py). Owners and outlet managers have every set.
NEEDS: dict[str, str | None] = {
    "shop:order-list": None,
    "shop:order-detail": None,
    "aftersales:workbench": None,
    "aftersales:metrics": None,
    "aftersales:quick-counts": None,
    "aftersales:bulk-flag": P.AFTERSALES,
    "aftersales:export-csv": P.AFTERSALES,
    "aftersales:export-start": P.AFTERSALES,
    "aftersales:export-detail": P.AFTERSALES,
    "aftersales:export-download": P.AFTERSALES,
    "aftersales:after-sale-detail": None,
    "aftersales:evidence": None,
    "aftersales:timeline-image": None,
    "aftersales:bulk-reject-signed-preview": P.AFTERSALES,
    "aftersales:bulk-reject-signed": P.AFTERSALES,
    "aftersales:bulk-refund-returned-preview": P.AFTERSALES,
    "aftersales:bulk-refund-returned": P.AFTERSALES,
    "aftersales:bulk-job": None,
    "aftersales:agree-refund": P.AFTERSALES,
    "aftersales:agree-return": P.AFTERSALES,
    "aftersales:confirm-receipt": P.AFTERSALES,
    "aftersales:reject": P.AFTERSALES,
    "aftersales:small-payment": P.AFTERSALES,
    "aftersales:flag": P.AFTERSALES,
    "aftersales:send-card": P.AFTERSALES,
    "interception:home": None,
    "interception:intercept": P.AFTERSALES,
    "interception:im-card": P.AFTERSALES,
    "interception:launch": P.AFTERSALES,
    "interception:bulk-preview": P.AFTERSALES,
    "interception:paste": P.AFTERSALES,
    "interception:batch": None,
    "interception:batch-status": None,
    "interception:batch-retry": P.AFTERSALES,
    "interception:service-orders": None,
    "interception:service-orders-csv": P.AFTERSALES,
    "interception:service-orders-xlsx": P.AFTERSALES,
    "interception:assistant": None,
    "interception:partnerships": None,
    "interception:partnership-apply": P.INTERCEPTION,
    "interception:partnership-detail": None,
    "interception:partnership-end": P.INTERCEPTION,
    "settlement:home": P.SETTLEMENT,
    "settlement:fees": P.SETTLEMENT,
    "settlement:statements": P.SETTLEMENT,
    "settlement:statements-refresh": P.SETTLEMENT,
    "settlement:statement-detail": P.SETTLEMENT,
    "settlement:statement-csv": P.SETTLEMENT,
    "settlement:statement-xlsx": P.SETTLEMENT,
    "settlement:statement-pay": P.SETTLEMENT,
    "settlement:statement-reissue": P.SETTLEMENT,
    "settlement:statement-reconcile": P.SETTLEMENT,
    "settlement:reconciliation-detail": P.SETTLEMENT,
    "settlement:reconciliation-csv": P.SETTLEMENT,
    "settlement:claims": P.SETTLEMENT,
    "settlement:claim-new": P.SETTLEMENT,
    "settlement:claim-detail": P.SETTLEMENT,
    "settlement:claim-compensate": P.SETTLEMENT,
    "settlement:claim-evidence": P.SETTLEMENT,
    "settlement:claim-tracker": P.SETTLEMENT,
    "api:home": P.SHOP_ADMIN,
    "api:token-create": P.SHOP_ADMIN,
    "api:token-revoke": P.SHOP_ADMIN,
    "api:endpoint-create": P.SHOP_ADMIN,
    "api:endpoint-delete": P.SHOP_ADMIN,
    "api:endpoint-enable": P.SHOP_ADMIN,
    "api:delivery-resend": P.SHOP_ADMIN,
    "team:members": P.SHOP_ADMIN,
    "team:member-add": P.SHOP_ADMIN,
    "team:member-sets": P.SHOP_ADMIN,
    "team:member-deactivate": P.SHOP_ADMIN,
    "team:member-reactivate": P.SHOP_ADMIN,
    "team:member-password": P.SHOP_ADMIN,
    "team:activity": P.SHOP_ADMIN,
    "team:activity-csv": P.SHOP_ADMIN,
    "outlet:team": OUTLET_MANAGER,
    "outlet:team-add": OUTLET_MANAGER,
    "outlet:team-sets": OUTLET_MANAGER,
    "outlet:team-deactivate": OUTLET_MANAGER,
    "outlet:team-reactivate": OUTLET_MANAGER,
    "outlet:team-password": OUTLET_MANAGER,
    "outlet:portal": None,
    "outlet:partnership-detail": None,
    "outlet:partnership-approve": P.OUTLET_PARTNERSHIPS,
    "outlet:partnership-reject": P.OUTLET_PARTNERSHIPS,
    "outlet:service-orders": None,
    "outlet:service-orders-csv": None,
    "outlet:statements": P.OUTLET_SETTLEMENT,
    "outlet:statement-detail": P.OUTLET_SETTLEMENT,
    "outlet:statement-confirm": P.OUTLET_SETTLEMENT,
    "outlet:statement-dispute": P.OUTLET_SETTLEMENT,
    "outlet:statement-csv": P.OUTLET_SETTLEMENT,
    "outlet:statement-xlsx": P.OUTLET_SETTLEMENT,
    "outlet:claims": P.OUTLET_SETTLEMENT,
    "outlet:claim-detail": P.OUTLET_SETTLEMENT,
    "outlet:claim-accept": P.OUTLET_SETTLEMENT,
    "outlet:claim-dispute": P.OUTLET_SETTLEMENT,
    "outlet:claim-evidence": P.OUTLET_SETTLEMENT,
}


def _walk(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield namespace, f"{namespace}:{pattern.name}" if namespace else pattern.name


def area_url_names(namespaces: set[str]) -> list[str]:
    return sorted(name for ns, name in _walk(get_resolver().url_patterns) if ns in namespaces)


MERCHANT_URLS = area_url_names(MERCHANT_NAMESPACES)
OUTLET_URLS = area_url_names(OUTLET_NAMESPACES)


@pytest.fixture
def world(db) -> World:
    shop_a, shop_b = make_shop("shop-a"), make_shop("shop-b")
    yto = make_courier("YTO")
    outlet_a, outlet_b = make_outlet(yto, code="YTO-SH-101"), make_outlet(yto, code="YTO-GZ-202")
    order_a = make_order(shop_a, order_no="O-SECRET-A")
    return World(
        shop_a=shop_a,
        shop_b=shop_b,
        merchant_a=make_merchant(shop_a),
        merchant_b=make_merchant(shop_b),
        outlet_a=outlet_a,
        outlet_b=outlet_b,
        outlet_user_a=make_outlet_user(outlet_a),
        outlet_user_b=make_outlet_user(outlet_b),
        order_a=order_a,
        parcel_a=make_parcel(order_a, outlet=outlet_a, tracking_no="YT-SECRET-A"),
    )


def test_every_merchant_and_outlet_url_has_a_tenancy_case():
    missing = sorted(set(MERCHANT_URLS + OUTLET_URLS) - set(CASES))
    assert missing == [], f"add a tenancy case for: {missing}"
    assert MERCHANT_URLS and OUTLET_URLS


def _url(name: str, world: World) -> str:
    if CASES[name].given:
        CASES[name].given(world)
    return reverse(name, kwargs=CASES[name].kwargs(world))


def _body(response) -> str:
    """The page's text, also for a streamed response (CSV exports)."""
    return (b"".join(response.streaming_content) if response.streaming else response.content).decode()


def _merchant_request(client, name: str, world: World):
    if CASES[name].method == "post":
        return client.post(_url(name, world), follow=True)
    return client.get(_url(name, world))


@pytest.mark.parametrize("name", MERCHANT_URLS + OUTLET_URLS)
def test_anonymous_visitor_is_sent_to_log_in(client, world, name):
    url = _url(name, world)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("name", MERCHANT_URLS)
def test_merchant_page_opens_for_its_own_shop(client, world, name):
    client.force_login(world.merchant_a)
    response = _merchant_request(client, name, world)
    assert response.status_code == 200
    secret = CASES[name].secret
    if secret:
        assert secret(world) in _body(response)


@pytest.mark.parametrize("name", MERCHANT_URLS)
def test_merchant_of_another_shop_gets_404_or_sees_nothing_of_it(client, world, name):
    client.force_login(world.merchant_b)
    response = _merchant_request(client, name, world)
    case = CASES[name]
    if case.kwargs(world):
        assert response.status_code == 404
    else:
        assert response.status_code == 200
        if case.secret:
            assert case.secret(world) not in _body(response)


@pytest.mark.parametrize("name", [name for name in MERCHANT_URLS if CASES.get(name, Case()).method == "post"])
def test_post_only_merchant_actions_refuse_get(client, world, name):
    client.force_login(world.merchant_a)
    assert client.get(_url(name, world)).status_code == 405


@pytest.mark.parametrize("name", MERCHANT_URLS)
def test_outlet_staff_cannot_open_merchant_pages(client, world, name):
    client.force_login(world.outlet_user_a)
    assert client.get(_url(name, world)).status_code == 403


@pytest.mark.parametrize("name", OUTLET_URLS)
def test_outlet_page_opens_for_its_own_outlet(client, world, name):
    client.force_login(world.outlet_user_a)
    response = _merchant_request(client, name, world)  # GET, or POST for a POST-only action
    assert response.status_code == 200
    secret = CASES[name].secret
    if secret:
        assert secret(world) in response.content.decode()


@pytest.mark.parametrize("name", OUTLET_URLS)
def test_staff_of_another_outlet_gets_404_or_sees_nothing_of_it(client, world, name):
    client.force_login(world.outlet_user_b)
    response = _merchant_request(client, name, world)  # GET, or POST for a POST-only action
    case = CASES[name]
    if case.kwargs(world):
        assert response.status_code == 404
    else:
        assert response.status_code == 200
        if case.secret:
            assert case.secret(world) not in response.content.decode()


@pytest.mark.parametrize("name", [name for name in OUTLET_URLS if CASES.get(name, Case()).method == "post"])
def test_post_only_outlet_actions_refuse_get(client, world, name):
    client.force_login(world.outlet_user_a)
    assert client.get(_url(name, world)).status_code == 405


@pytest.mark.parametrize("name", OUTLET_URLS)
def test_merchants_cannot_open_the_outlet_portal(client, world, name):
    client.force_login(world.merchant_a)
    assert client.get(_url(name, world)).status_code == 403


# --- the role walk ------------------------------------------------------------------------------------
NO_SET = "none"


def test_every_merchant_and_outlet_url_says_which_permission_set_it_needs():
    missing = sorted(set(MERCHANT_URLS + OUTLET_URLS) - set(NEEDS))
    assert missing == [], f"add a NEEDS entry (the permission set, or None) for: {missing}"
    assert set(NEEDS) == set(CASES)


def _fingerprint() -> dict:
    """What a refused request must leave as it was: the rows every merchant or outlet action writes."""
    from django.contrib.auth.models import Group

    from aftersales.models import AfterSale, AfterSaleLog, BulkJob, ExportJob, RefundEntry
    from api.models import ApiToken, WebhookEndpoint
    from interception.models import InterceptionBatch, Partnership, PartnershipLog, ServiceOrder
    from settlement.models import Claim, ClaimLog, Reconciliation, Statement, StatementLog
    from shop.models import StaffChange, User

    counts = {
        model.__name__: model.objects.count()
        for model in (
            AfterSaleLog,
            RefundEntry,
            ExportJob,
            BulkJob,
            InterceptionBatch,
            ServiceOrder,
            PartnershipLog,
            StatementLog,
            ClaimLog,
            Reconciliation,
            StaffChange,
            ApiToken,
            WebhookEndpoint,
            User,
        )
    }
    counts["statuses"] = (
        sorted(AfterSale.objects.values_list("status", "flag", "remark")),
        sorted(Partnership.objects.values_list("status", flat=True)),
        sorted(Statement.objects.values_list("status", flat=True)),
        sorted(Claim.objects.values_list("status", flat=True)),
        sorted(User.objects.values_list("username", "is_active", "password")),
        sorted(Group.objects.values_list("name", "user__username").exclude(user=None)),
    )
    return counts


def _walk_as(client, world, name, user, allowed: bool):
    client.force_login(user)
    url = _url(name, world)  # the case's objects exist before the fingerprint
    before = _fingerprint()
    if CASES[name].method == "post":
        response = client.post(url, follow=True)
    else:
        response = client.get(url)
    if allowed:
        assert response.status_code == 200, response.status_code
    else:
        assert response.status_code == 403
        needed = NEEDS[name]
        from shop.permissions import REASONS

        assert str(REASONS[needed]) in response.content.decode()
        assert _fingerprint() == before


@pytest.mark.parametrize("held", [*MERCHANT_SETS, NO_SET])
@pytest.mark.parametrize("name", MERCHANT_URLS)
def test_member_with_one_permission_set_is_let_in_or_refused_as_needs_says(client, world, name, held):
    member = make_member(world.shop_a, *([] if held == NO_SET else [held]))
    _walk_as(client, world, name, member, allowed=NEEDS[name] in (None, held))


@pytest.mark.parametrize("held", [*OUTLET_SETS, NO_SET])
@pytest.mark.parametrize("name", OUTLET_URLS)
def test_outlet_clerk_with_one_permission_set_is_let_in_or_refused_as_needs_says(client, world, name, held):
    clerk = make_outlet_clerk(world.outlet_a, *([] if held == NO_SET else [held]))
    _walk_as(client, world, name, clerk, allowed=NEEDS[name] in (None, held))


@pytest.mark.parametrize("name", MERCHANT_URLS)
def test_owner_has_every_permission_set(client, world, name):
    assert NEEDS[name] in (None, *MERCHANT_SETS)
    _walk_as(client, world, name, world.merchant_a, allowed=True)


@pytest.mark.parametrize("name", OUTLET_URLS)
def test_outlet_manager_has_every_permission_set(client, world, name):
    assert NEEDS[name] in (None, *OUTLET_SETS, OUTLET_MANAGER)
    _walk_as(client, world, name, world.outlet_user_a, allowed=True)
