"""The workbench next to a default Django admin changelist of the same after-sales, in one run.

Server time is measured in-process around the test client's request (URL routing, middleware,
session, the view, the template), after a warm-up request, over REPEAT requests each; queries per
request are counted on one more. Both lists go through the same stack as the merchant's browser.
"""

import time

from django.db import connection
from django.db.models import F
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from aftersales import filters
from aftersales.models import AfterSale
from shop import keyset
from shop.models import User

from .common import Context, summary_ms

REPEAT, QUICK_REPEAT = 30, 5
DEEP_POSITION = 150_000  # the "page deep in the result"
ADMIN_PER_PAGE = 100  # the default ModelAdmin.list_per_page


def timed(client: Client, url: str, params: dict, repeat: int) -> dict:
    response = client.get(url, params)  # warm-up: caches, the session, the plan
    assert response.status_code == 200, (url, params, response.status_code)
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url, params)
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get(url, params)
    return {"seconds": seconds, "queries": len(queries.captured_queries), **summary_ms(seconds)}


def deep_cursor(shop_id: int, position: int) -> tuple[str, int] | None:
    """The cursor of the row just before `position` (1-based) in the workbench's default order."""
    rows = AfterSale.objects.filter(shop_id=shop_id).order_by(F("deadline").asc(nulls_last=True), "id")
    row = rows.values_list("deadline", "id")[position - 2 : position - 1].first()
    return (keyset.Cursor(*row).token, position) if row else None


def bench_admin_user() -> User:
    user, created = User.objects.get_or_create(
        username="bench-admin", defaults={"kind": User.Kind.OPERATOR, "is_staff": True, "is_superuser": True}
    )
    return user


def sample_after_sale(shop_id: int) -> AfterSale:
    """The after-sale the searches look for and whose detail page is measured."""
    return (
        AfterSale.objects.filter(shop_id=shop_id, parcel__isnull=False, status=AfterSale.Status.PENDING_MERCHANT)
        .select_related("parcel", "order")
        .order_by("-id")
        .first()
    )


def workbench_cases(ctx: Context, sample: AfterSale) -> dict[str, dict]:
    """The workbench lists measured: label → query parameters (bench.profile runs the same ones)."""
    cases: dict[str, dict] = {"first page": {}}
    for view in filters.QUICK_VIEWS:
        cases[f"quick view: {view.key}"] = dict(view.params)
    cases["search: tracking no."] = {"q": sample.parcel.tracking_no}
    cases["search: order no. + status"] = {"q": sample.order.order_no, "status": "open"}
    cases["filter: refund only, 100–500 yuan"] = {"type": "refund_only", "amount_min": "100", "amount_max": "500"}
    position = deep_position(ctx)
    deep = deep_cursor(ctx.shop_id, position)
    if deep:
        cases[f"deep page (position {position:,})"] = {"after": deep[0]}
    return cases


def deep_position(ctx: Context) -> int:
    return min(DEEP_POSITION, max(2, ctx.after_sales - 100))


def detail_url(sample: AfterSale) -> str:
    return reverse("aftersales:after-sale-detail", kwargs={"after_sale_no": sample.after_sale_no})


def run(ctx: Context) -> dict:
    repeat = QUICK_REPEAT if ctx.quick else REPEAT
    merchant = Client()
    merchant.force_login(ctx.user)
    url = reverse("aftersales:workbench")
    sample = sample_after_sale(ctx.shop_id)
    cases = workbench_cases(ctx, sample)
    position = deep_position(ctx)
    results = {}
    for label, params in cases.items():
        ctx.log(f"workbench · {label}")
        results[label] = timed(merchant, url, params, repeat)
    ctx.log("workbench · after-sale detail")
    detail = timed(merchant, detail_url(sample), {}, repeat)

    admin = Client()
    admin.force_login(bench_admin_user())
    admin_results = {}
    with override_settings(ROOT_URLCONF="bench.admin_site"):
        admin_url = reverse("bench_admin:aftersales_aftersale_changelist")
        admin_cases = {
            "first page": {},
            "status = pending": {"status__exact": AfterSale.Status.PENDING_MERCHANT},
            "status = refund after refusal": {"status__exact": AfterSale.Status.REFUND_AFTER_REFUSAL},
            f"deep page (position {position:,})": {"p": str(position // ADMIN_PER_PAGE + 1)},
        }
        for label, params in admin_cases.items():
            ctx.log(f"admin changelist · {label}")
            admin_results[label] = timed(admin, admin_url, params, max(3, repeat // 3))

    pooled = [s for r in results.values() for s in r["seconds"]]
    admin_pooled = [s for r in admin_results.values() for s in r["seconds"]]
    workbench = summary_ms(pooled)
    admin_summary = summary_ms(admin_pooled)
    deep_label = next((label for label in results if label.startswith("deep")), None)
    query_counts = sorted({r["queries"] for r in results.values()})
    ctx.tables["Workbench and admin, per request"] = (
        [("workbench · " + label, r["median_ms"], r["p95_ms"], r["queries"]) for label, r in results.items()]
        + [("after-sale detail", detail["median_ms"], detail["p95_ms"], detail["queries"])]
        + [
            ("default admin changelist · " + label, r["median_ms"], r["p95_ms"], r["queries"])
            for label, r in admin_results.items()
        ]
    )
    return {
        "workbench_median_ms": workbench["median_ms"],
        "workbench_p95_ms": workbench["p95_ms"],
        "workbench_deep_median_ms": results[deep_label]["median_ms"] if deep_label else None,
        "workbench_queries": max(query_counts),
        "workbench_queries_distinct": query_counts,
        "detail_median_ms": detail["median_ms"],
        "detail_queries": detail["queries"],
        "admin_median_ms": admin_summary["median_ms"],
        "admin_p95_ms": admin_summary["p95_ms"],
        "admin_ratio": round(admin_summary["median_ms"] / workbench["median_ms"], 1),
    }
