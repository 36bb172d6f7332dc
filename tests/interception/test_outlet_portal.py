"""The outlet portal: own applications answered, own service orders listed and exported, nothing else."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from interception import selectors
from interception.models import Partnership, PartnershipLog
from tests.interception.factories import make_partnership, make_service_order
from tests.shop.factories import at, make_courier, make_merchant, make_outlet, make_outlet_user, make_shop

P = Partnership.Status


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def jt(db):
    return make_courier("JT", name="极兔")


@pytest.fixture
def jt_outlet(jt):
    return make_outlet(jt, code="JT-SH-001", name="极兔上海嘉定网点")


@pytest.fixture
def other_outlet(jt):
    return make_outlet(jt, code="JT-YW-002", name="极兔义乌网点")


@pytest.fixture
def jt_staff(jt_outlet):
    return make_outlet_user(jt_outlet, "outlet-jt")


@pytest.fixture
def other_staff(other_outlet):
    return make_outlet_user(other_outlet, "outlet-yw")


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def partnership_state() -> list[tuple]:
    return sorted(Partnership.objects.values_list("pk", "status", "outlet_note", "effective_at")) + sorted(
        PartnershipLog.objects.values_list("pk", "to_status", "note")
    )


# --- the portal and the applications ---------------------------------------------------------------


def test_the_portal_lists_only_this_outlets_pending_applications_and_active_partnerships(
    client, shop, jt_outlet, other_outlet, jt_staff
):
    mine = make_partnership(shop, jt_outlet, fee="4.50", applied_at=at("2026-11-22 09:30"))
    other_shop = make_shop("tea-shop", name="茶叶小铺")
    active = make_partnership(other_shop, jt_outlet, status=P.ACTIVE, fee="3.20", note="月结")
    make_partnership(make_shop("secret-shop", name="隔壁小店"), other_outlet, fee="9.99")
    client.force_login(jt_staff)

    response = client.get(reverse("outlet:portal"))

    assert response.status_code == 200
    assert [item["partnership"] for item in response.context["pending"]] == [mine]
    assert list(response.context["active"]) == [active]
    assertContains(response, "示例小店")
    assertContains(response, '<dd class="fee">4.50</dd>', html=True)
    assertContains(response, "2026-11-22 09:30")
    assertContains(response, reverse("outlet:partnership-approve", kwargs={"pk": mine.pk}))
    assertContains(response, reverse("outlet:partnership-reject", kwargs={"pk": mine.pk}))
    assertContains(response, f'id="approve-{mine.pk}"')
    assertContains(response, "茶叶小铺")
    assertContains(response, "月结")
    assertContains(response, reverse("outlet:service-orders"))
    assertNotContains(response, "隔壁小店")
    assertNotContains(response, "9.99")


def test_the_outlet_approves_an_application_with_a_note(client, shop, jt_outlet, jt_staff):
    partnership = make_partnership(shop, jt_outlet)
    client.force_login(jt_staff)

    response = client.post(reverse("outlet:partnership-approve", kwargs={"pk": partnership.pk}), {"note": "已沟通"})

    assert response.status_code == 302
    assert response["Location"] == reverse("outlet:portal")
    assert messages_of(response) == ["Approved: offline settlement with 示例小店 is effective now."]
    partnership.refresh_from_db()
    assert (partnership.status, partnership.outlet_note) == (P.ACTIVE, "已沟通")
    assert list(partnership.logs.values_list("to_status", "user__username", "note").order_by("id"))[-1] == (
        "active",
        "outlet-jt",
        "已沟通",
    )


def test_the_outlet_rejects_an_application_with_a_reason(client, shop, jt_outlet, jt_staff):
    partnership = make_partnership(shop, jt_outlet)
    client.force_login(jt_staff)

    response = client.post(reverse("outlet:partnership-reject", kwargs={"pk": partnership.pk}), {"note": "价格太低"})

    assert response.status_code == 302
    assert messages_of(response) == ["The application of 示例小店 was rejected."]
    partnership.refresh_from_db()
    assert (partnership.status, partnership.outlet_note) == (P.REJECTED, "价格太低")


def test_a_rejection_without_a_reason_is_refused_and_changes_nothing(client, shop, jt_outlet, jt_staff):
    partnership = make_partnership(shop, jt_outlet)
    before = partnership_state()
    client.force_login(jt_staff)

    response = client.post(reverse("outlet:partnership-reject", kwargs={"pk": partnership.pk}), {"note": ""})

    assert response.status_code == 302
    assert messages_of(response) == ["Nothing was done: Reason: Say why the application is rejected."]
    assert partnership_state() == before


def test_answering_an_application_twice_is_refused_with_a_message(client, shop, jt_outlet, jt_staff):
    partnership = make_partnership(shop, jt_outlet, status=P.ACTIVE)
    before = partnership_state()
    client.force_login(jt_staff)

    response = client.post(reverse("outlet:partnership-approve", kwargs={"pk": partnership.pk}))

    assert messages_of(response) == ["Only a pending application can be approved."]
    assert partnership_state() == before


@pytest.mark.parametrize("action", ["outlet:partnership-approve", "outlet:partnership-reject"])
def test_another_outlets_application_is_a_404_and_stays_unanswered(client, shop, jt_outlet, other_staff, action):
    partnership = make_partnership(shop, jt_outlet)
    before = partnership_state()
    client.force_login(other_staff)

    response = client.post(reverse(action, kwargs={"pk": partnership.pk}), {"note": "抢答"})

    assert response.status_code == 404
    assert partnership_state() == before


@pytest.mark.parametrize("action", ["outlet:partnership-approve", "outlet:partnership-reject"])
def test_answers_are_post_only_after_the_login_check(client, shop, jt_outlet, jt_staff, action):
    url = reverse(action, kwargs={"pk": make_partnership(shop, jt_outlet).pk})

    assert client.post(url)["Location"] == f"{reverse('login')}?next={url}"
    client.force_login(jt_staff)
    assert client.get(url).status_code == 405


def test_the_detail_shows_the_history_and_the_answer_forms_while_pending(client, shop, jt_outlet, jt_staff):
    partnership = make_partnership(shop, jt_outlet, fee="6.60")
    client.force_login(jt_staff)

    pending = client.get(reverse("outlet:partnership-detail", kwargs={"pk": partnership.pk}))
    client.post(reverse("outlet:partnership-approve", kwargs={"pk": partnership.pk}), {"note": "OK-NOTE"})
    active = client.get(reverse("outlet:partnership-detail", kwargs={"pk": partnership.pk}))

    assertContains(pending, "6.60")
    assertContains(pending, f'id="approve-{partnership.pk}"')
    assertNotContains(active, f'id="approve-{partnership.pk}"')
    assert [row.to_status for row in active.context["partnership"].logs.all()] == ["pending", "active"]
    assertContains(active, "OK-NOTE")
    assertContains(active, 'data-to-status="active"')


def test_another_outlets_partnership_detail_is_a_404(client, shop, jt_outlet, other_staff):
    partnership = make_partnership(shop, jt_outlet)
    client.force_login(other_staff)

    assert client.get(reverse("outlet:partnership-detail", kwargs={"pk": partnership.pk})).status_code == 404


# --- service orders --------------------------------------------------------------------------------


def test_service_orders_for_outlet_and_its_shops_are_scoped_to_the_outlet(shop, jt_outlet, other_outlet):
    other_shop = make_shop("tea-shop", name="茶叶小铺")
    stranger = make_shop("stranger", name="陌生小店")
    mine = make_service_order(shop, jt_outlet)
    make_service_order(stranger, other_outlet)
    make_partnership(other_shop, jt_outlet)

    assert list(selectors.service_orders_for_outlet(outlet=jt_outlet)) == [mine]
    assert set(selectors.shops_for_outlet(outlet=jt_outlet)) == {other_shop, shop}  # order: the collation's
    assert list(selectors.shops_for_outlet(outlet=other_outlet)) == [stranger]


def test_the_outlet_sees_only_its_own_service_orders(client, shop, jt_outlet, other_outlet, jt_staff):
    make_service_order(shop, jt_outlet, tracking_no="JT-MINE-1")
    make_service_order(make_shop("stranger", name="陌生小店"), other_outlet, tracking_no="JT-OTHER-1")
    client.force_login(jt_staff)

    response = client.get(reverse("outlet:service-orders"))

    assert response.status_code == 200
    assert [row.record.parcel.tracking_no for row in response.context["table"].rows] == ["JT-MINE-1"]
    assertContains(response, "JT-MINE-1")
    assertNotContains(response, "JT-OTHER-1")
    assertNotContains(response, "陌生小店")  # not even among the shop filter's choices


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["JT-C", "JT-B", "JT-A"]),
        ({"status": "failed"}, ["JT-B"]),
        ({"mode": "offline"}, ["JT-C"]),
        ({"shop": "TEA"}, ["JT-C"]),
        ({"launched_from": "2026-11-21", "launched_to": "2026-11-21"}, ["JT-B"]),
        ({"launched_from": "2026-11-22"}, ["JT-C"]),
        ({"launched_to": "2026-11-20"}, ["JT-A"]),
        ({"tracking_no": " JT-B "}, ["JT-B"]),
        ({"status": "not-a-status"}, []),
    ],
)
def test_service_orders_filter_by_status_mode_shop_dates_and_tracking_number(
    client, shop, jt_outlet, jt_staff, query, expected
):
    tea = make_shop("tea-shop", name="茶叶小铺")
    make_service_order(shop, jt_outlet, tracking_no="JT-A", launched_at=at("2026-11-20 23:59"))
    make_service_order(shop, jt_outlet, tracking_no="JT-B", status="failed", launched_at=at("2026-11-21 00:00"))
    make_service_order(tea, jt_outlet, tracking_no="JT-C", mode="offline", launched_at=at("2026-11-22 08:00"))
    if query.get("shop") == "TEA":
        query = {**query, "shop": tea.pk}
    client.force_login(jt_staff)

    response = client.get(reverse("outlet:service-orders"), query)

    assert [row.record.parcel.tracking_no for row in response.context["table"].rows] == expected


def test_the_csv_export_holds_exactly_the_filtered_rows_with_shanghai_times(client, shop, jt_outlet, jt_staff):
    tea = make_shop("tea-shop", name="茶叶小铺")
    offline = make_service_order(
        tea,
        jt_outlet,
        tracking_no="JT-C",
        mode="offline",
        fee="4.50",
        launched_at=at("2026-11-22 08:00"),
        succeeded_at=at("2026-11-22 08:00:05"),
    )
    failed = make_service_order(
        shop,
        jt_outlet,
        tracking_no="JT-B",
        status="failed",
        fee="3.00",
        launched_at=at("2026-11-21 00:00"),
        failure_reason="already signed",
    )
    make_service_order(shop, jt_outlet, tracking_no="JT-A", launched_at=at("2026-11-20 23:59"))
    make_service_order(shop, make_outlet(jt_outlet.courier, code="JT-YW-009"), tracking_no="JT-ELSEWHERE")
    client.force_login(jt_staff)

    response = client.get(reverse("outlet:service-orders-csv"), {"launched_from": "2026-11-21"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="service-orders-JT-SH-001-')
    assert b"".join(response.streaming_content).decode("utf-8") == (
        "\ufeff"
        "Service order,Shop,Tracking no.,Courier,Settlement mode,Fee (yuan),Status,Launched at,Succeeded at,"
        "Failure reason\r\n"
        f"SO{offline.pk:08d},茶叶小铺,JT-C,极兔,offline settlement,4.50,succeeded,2026-11-22 08:00:00,"
        "2026-11-22 08:00:05,\r\n"
        # a failed interception was not charged: no fee, as in the fee ledger
        f"SO{failed.pk:08d},示例小店,JT-B,极兔,online (platform),,failed,2026-11-21 00:00:00,,already signed\r\n"
    )


def test_the_csv_export_with_invalid_filters_holds_the_header_only(client, shop, jt_outlet, jt_staff):
    make_service_order(shop, jt_outlet, tracking_no="JT-A")
    client.force_login(jt_staff)

    response = client.get(reverse("outlet:service-orders-csv"), {"status": "bogus"})

    lines = b"".join(response.streaming_content).decode("utf-8").splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("\ufeffService order,")


def test_the_csv_export_never_holds_another_outlets_rows(client, shop, jt_outlet, other_outlet, other_staff):
    make_service_order(shop, jt_outlet, tracking_no="JT-SECRET")
    client.force_login(other_staff)

    body = b"".join(client.get(reverse("outlet:service-orders-csv")).streaming_content).decode("utf-8")

    assert "JT-SECRET" not in body
    assert len(body.splitlines()) == 1


def test_merchants_cannot_answer_applications(client, shop, jt_outlet):
    partnership = make_partnership(shop, jt_outlet)
    client.force_login(make_merchant(shop))

    response = client.post(reverse("outlet:partnership-approve", kwargs={"pk": partnership.pk}))

    assert response.status_code == 403
    assert Partnership.objects.get().status == P.PENDING


def test_the_service_order_list_query_count_does_not_grow_with_the_rows(
    client, shop, jt_outlet, jt_staff, django_assert_max_num_queries
):
    for n in range(15):
        make_service_order(shop, jt_outlet, tracking_no=f"JT-N-{n}")
    client.force_login(jt_staff)

    with django_assert_max_num_queries(10):
        response = client.get(reverse("outlet:service-orders"))

    assert len(response.context["table"].page.object_list) == 15
