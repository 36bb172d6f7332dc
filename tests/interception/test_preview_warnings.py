"""The interception preview tells the whole cost: fees and the refunds success pays, per courier and in
total, and warnings with counts that the merchant may leave out (and put back) before confirming."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from aftersales.models import Actor, AfterSale, AfterSaleLog
from interception import rules
from interception.models import InterceptionBatch, ServiceOrder
from interception.rules import LaunchWarning as W
from shop.models import Buyer, Order, Parcel
from tests.interception.factories import make_refund_only_in_transit
from tests.shop.factories import make_merchant, make_outlet, make_shop

pytestmark = pytest.mark.django_db

PREVIEW = "interception:bulk-preview"


def facts(refund="129.00", abuse=False, remark="", earlier=False, refused=False):
    return rules.WarningFacts(
        refund=Decimal(refund),
        buyer_over_abuse_threshold=abuse,
        remark=remark,
        earlier_interception=earlier,
        refused=refused,
    )


# --- the pure rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("refund", "expected"),
    [
        ("0.00", []),
        ("999.99", []),
        ("1000.00", [W.LARGE_AMOUNT]),
        ("1000.01", [W.LARGE_AMOUNT]),
        ("2598.00", [W.LARGE_AMOUNT]),
    ],
)
def test_a_refund_of_1000_yuan_or_more_is_a_large_amount_warning(refund, expected):
    assert rules.LARGE_AMOUNT_WARNING == Decimal("1000.00")
    assert rules.launch_warnings(facts(refund=refund)) == expected


@pytest.mark.parametrize(
    ("remark", "expected"),
    [
        ("11-28 已拦截", True),
        ("已拦截", True),
        ("手工拦截，等退回", True),
        ("12-01 intercepted", True),
        ("Intercepted by phone", True),
        ("", False),
        ("疑似羊毛党，多次仅退款", False),
        ("已发货，等签收", False),
        ("截图已发", False),
    ],
)
def test_a_remark_that_mentions_an_interception_says_it_was_already_intercepted(remark, expected):
    assert rules.remark_says_intercepted(remark) is expected
    assert (W.ALREADY_INTERCEPTED in rules.launch_warnings(facts(remark=remark))) is expected


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, []),
        ({"abuse": True}, [W.ABUSE]),
        ({"earlier": True}, [W.ALREADY_INTERCEPTED]),
        ({"refused": True}, [W.PRECHECK_REFUSED]),
        (
            {"refund": "1299.00", "abuse": True, "remark": "11-28 已拦截", "refused": True},
            [W.LARGE_AMOUNT, W.ABUSE, W.ALREADY_INTERCEPTED, W.PRECHECK_REFUSED],
        ),
    ],
)
def test_each_fact_gives_its_warning_in_the_previews_order(kwargs, expected):
    assert rules.launch_warnings(facts(**kwargs)) == expected


@pytest.mark.parametrize(
    ("posted", "expected"),
    [
        ([], frozenset()),
        (["large_amount"], {W.LARGE_AMOUNT}),
        (["large_amount", "abuse", "large_amount"], {W.LARGE_AMOUNT, W.ABUSE}),
        (["precheck_refused"], frozenset()),  # a refused parcel is out anyway: nothing to leave out
        (["<script>", "", "DROP"], frozenset()),
    ],
)
def test_only_leavable_warning_codes_are_taken_from_a_posted_form(posted, expected):
    assert rules.parse_leave_out(posted) == expected


# --- the preview page ------------------------------------------------------------------------------


@pytest.fixture
def logged_in(client, merchant):
    client.force_login(merchant)
    return client


@pytest.fixture
def mix(refund_only_in_transit):
    """Five after-sales on YTO: plain 129.00, 1000.00, 999.99, one the merchant stopped by hand, one signed."""
    plain = refund_only_in_transit("O-1", amount="129.00")
    large = refund_only_in_transit("O-2", amount="1000.00")
    below = refund_only_in_transit("O-3", amount="999.99")
    by_hand = refund_only_in_transit("O-4", amount="59.00")
    AfterSale.objects.filter(pk=by_hand.pk).update(remark="11-28 已拦截", flag=AfterSale.Flag.BLUE)
    signed = refund_only_in_transit("O-5", amount="88.00", status=Parcel.Status.SIGNED)
    return {"plain": plain, "large": large, "below": below, "by_hand": by_hand, "signed": signed}


def ids(mix):
    return [a.pk for a in mix.values()]


def warnings_of(response):
    return {w.code: (w.count, w.left_out, w.after_sale_nos) for w in response.context["warnings"]}


def test_the_preview_shows_fees_and_the_refunds_success_pays_per_courier_and_in_total(logged_in, mix):
    response = logged_in.post(reverse(PREVIEW), {"ids": ids(mix), "query": "quick=in_transit_refund_only"})

    assert response.status_code == 200
    groups = [(g["courier"], g["mode"], g["count"], g["fee"], g["refund"]) for g in response.context["groups"]]
    assert groups == [("圆通", "online", 4, Decimal("12.00"), Decimal("2187.99"))]
    assert (response.context["total_count"], response.context["total_fee"], response.context["total_refund"]) == (
        4,
        Decimal("12.00"),
        Decimal("2187.99"),
    )
    html = response.content.decode()
    assert 'id="total-refund">2,187.99<' in html
    assert ServiceOrder.objects.count() == 0  # a preview changes nothing


def test_the_preview_warns_with_counts_about_large_amounts_earlier_interceptions_and_refusals(logged_in, mix):
    response = logged_in.post(reverse(PREVIEW), {"ids": ids(mix)})

    assert warnings_of(response) == {
        W.LARGE_AMOUNT: (1, False, ["AS-O-2"]),
        W.ALREADY_INTERCEPTED: (1, False, ["AS-O-4"]),
        W.PRECHECK_REFUSED: (1, True, ["AS-O-5"]),
    }
    html = response.content.decode()
    assert 'data-leave-out="large_amount"' in html and 'data-leave-out="already_intercepted"' in html
    assert 'data-leave-out="precheck_refused"' not in html  # refused ones cannot be launched anyway


def test_leaving_the_large_amounts_out_changes_the_counts_and_totals_and_putting_them_back_restores_them(
    logged_in, mix
):
    left = logged_in.post(reverse(PREVIEW), {"ids": ids(mix), "toggle": "large_amount"})

    assert (left.context["total_count"], left.context["total_fee"], left.context["total_refund"]) == (
        3,
        Decimal("9.00"),
        Decimal("1187.99"),
    )
    assert [c.after_sale.after_sale_no for c in left.context["left_out"]] == ["AS-O-2"]
    assert mix["large"].pk not in left.context["eligible_ids"]
    assert warnings_of(left)[W.LARGE_AMOUNT] == (1, True, ["AS-O-2"])
    html = left.content.decode()
    assert 'data-put-back="large_amount"' in html
    assert html.count('<input type="hidden" name="leave_out" value="large_amount">') == 2  # re-post and confirm

    back = logged_in.post(reverse(PREVIEW), {"ids": ids(mix), "leave_out": "large_amount", "toggle": "large_amount"})

    assert (back.context["total_count"], back.context["total_refund"]) == (4, Decimal("2187.99"))
    assert back.context["left_out"] == []
    assert warnings_of(back)[W.LARGE_AMOUNT] == (1, False, ["AS-O-2"])


def test_leaving_out_keeps_the_workbench_filters_and_cancel_goes_back_to_them(logged_in, mix):
    query = "quick=in_transit_refund_only&type=refund_only"
    response = logged_in.post(reverse(PREVIEW), {"all_filtered": "1", "query": query, "toggle": "already_intercepted"})

    assert response.context["repost_fields"] == [("query", query), ("all_filtered", "1")]
    assert response.context["back"] == reverse("aftersales:workbench") + "?" + query
    html = response.content.decode()
    workbench = reverse("aftersales:workbench")
    assert f'id="cancel" href="{workbench}?quick=in_transit_refund_only&amp;type=refund_only"' in html
    assert sorted(response.context["eligible_ids"]) == sorted([mix["plain"].pk, mix["large"].pk, mix["below"].pk])


def test_an_earlier_failed_service_order_or_an_interception_history_row_warns_as_already_intercepted(
    logged_in, mix, merchant, shop
):
    from interception import services

    services.launch_interceptions(
        shop=shop, user=merchant, after_sale_ids=[mix["plain"].pk], via="detail", enqueue=False
    )
    ServiceOrder.objects.update(status=ServiceOrder.Status.FAILED, failure_reason="派送员已出发")
    AfterSaleLog.objects.create(
        after_sale=mix["below"], action="remark", actor=Actor.INTERCEPTION, message="x", at=timezone.now()
    )

    response = logged_in.post(reverse(PREVIEW), {"ids": ids(mix)})

    assert warnings_of(response)[W.ALREADY_INTERCEPTED] == (3, False, ["AS-O-1", "AS-O-3", "AS-O-4"])


def test_a_buyer_over_the_abuse_threshold_is_warned_about_with_the_workbenchs_own_rule(logged_in, mix, settings):
    settings.AFTERSALES_ABUSE_THRESHOLD_COUNT = 2
    abuser = Buyer.objects.create(external_id="b-abuse", nickname="羊毛")
    for key in ("plain", "below"):
        Order.objects.filter(pk=mix[key].order_id).update(buyer=abuser)
        AfterSale.objects.filter(pk=mix[key].pk).update(buyer=abuser, applied_at=timezone.now())

    response = logged_in.post(reverse(PREVIEW), {"ids": ids(mix)})

    assert warnings_of(response)[W.ABUSE] == (2, False, ["AS-O-1", "AS-O-3"])


def test_the_confirm_launches_exactly_the_remaining_ones_and_rechecks_the_left_out_warning(
    logged_in, mix, shop, django_capture_on_commit_callbacks
):
    other = make_shop("other-shop")
    foreign = make_refund_only_in_transit(other, make_outlet(code="YTO-BJ-9"), order_no="X-1")
    preview = logged_in.post(reverse(PREVIEW), {"ids": ids(mix), "toggle": "large_amount"})
    # The posted list is tampered with: the left-out one, another shop's after-sale, a word.
    posted = [*preview.context["eligible_ids"], mix["large"].pk, foreign.pk, "x"]

    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in.post(
            reverse("interception:launch"),
            {"via": "bulk", "after_sale": posted, "leave_out": "large_amount", "back": "/aftersales/"},
        )

    batch = InterceptionBatch.objects.get()
    assert response["Location"] == reverse("interception:batch", kwargs={"pk": batch.pk})
    launched = set(ServiceOrder.objects.values_list("after_sale__after_sale_no", flat=True))
    assert launched == {"AS-O-1", "AS-O-3", "AS-O-4"}
    assert [s["ref"] for s in batch.skipped] == ["AS-O-2"]
    assert batch.skipped[0]["reason"].startswith("left out: Refund of 1,000.00 yuan or more")
    assert not ServiceOrder.objects.filter(shop=other).exists()


def test_a_confirm_with_no_parcel_changes_nothing_and_keeps_the_filters(logged_in, mix):
    back = reverse("aftersales:workbench") + "?quick=in_transit_refund_only"
    response = logged_in.post(reverse("interception:launch"), {"via": "bulk", "back": back})

    assert response["Location"] == back
    assert (InterceptionBatch.objects.count(), ServiceOrder.objects.count()) == (0, 0)


def test_the_preview_runs_the_same_number_of_queries_for_5_after_sales_as_for_25(
    logged_in, refund_only_in_transit, mix
):
    more = [refund_only_in_transit(f"O-M{i}", amount="1200.00" if i % 2 else "50.00").pk for i in range(20)]
    counts = []
    for after_sale_ids in (ids(mix), ids(mix) + more):
        with CaptureQueriesContext(connection) as queries:
            response = logged_in.post(reverse(PREVIEW), {"ids": after_sale_ids})
        assert response.status_code == 200
        counts.append(len(queries.captured_queries))

    # session · user with its shop · the after-sales with parcel, courier, outlet, line, order and the two
    # history flags · the active partnerships of their outlets · the buyers' refund-only stats
    assert counts == [5, 5]


def test_another_shops_merchant_gets_no_preview_of_these_after_sales(client, mix, other_shop):
    client.force_login(make_merchant(other_shop, "stranger"))

    response = client.post(reverse(PREVIEW), {"ids": ids(mix)})

    assert (response.context["total_count"], response.context["warnings"], response.context["refused"]) == (0, [], [])
