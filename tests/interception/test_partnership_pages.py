"""The merchant's partnership pages: the list with the apply form, applying, the detail and ending."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from interception import services
from interception.models import Partnership, PartnershipLog
from tests.shop.factories import make_courier, make_merchant, make_outlet, make_outlet_user, make_shop

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
def jt_outlet_without_ewaybill(jt):
    return make_outlet(jt, code="JT-GZ-003", name="极兔广州番禺网点", uses_platform_ewaybill=False)


@pytest.fixture
def logged_in(client, merchant):
    client.force_login(merchant)
    return client


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def state() -> list[tuple]:
    return sorted(Partnership.objects.values_list("pk", "outlet__code", "fee", "status", "ended_at")) + sorted(
        PartnershipLog.objects.values_list("pk", "to_status", "note")
    )


def apply_url() -> str:
    return reverse("interception:partnership-apply")


# --- the list and the apply form -------------------------------------------------------------------


def test_the_list_shows_the_shops_partnerships_and_not_another_shops(logged_in, shop, merchant, jt_outlet, yto_outlet):
    jt_staff = make_outlet_user(jt_outlet)
    [mine] = services.apply_for_partnerships(
        shop=shop, user=merchant, courier_code="JT", outlet_ids=[jt_outlet.pk], fee=Decimal("4.50")
    )
    services.approve_partnership(partnership_id=mine.pk, outlet=jt_outlet, user=jt_staff, note="NOTE-MINE")
    other = make_shop("other-shop")
    services.apply_for_partnerships(
        shop=other, user=make_merchant(other), courier_code="YTO", outlet_ids=[yto_outlet.pk], fee=Decimal("9.87")
    )

    response = logged_in.get(reverse("interception:partnerships"))

    assert response.status_code == 200
    assert [row.record for row in response.context["table"].rows] == [mine]
    assertContains(response, "JT-SH-001 极兔上海嘉定网点")
    assertContains(response, "极兔")
    assertContains(response, "4.50")
    assertContains(response, "NOTE-MINE")
    assertContains(response, '<span class="badge badge-pship-active">active</span>', html=True)
    assertContains(response, reverse("interception:partnership-detail", kwargs={"pk": mine.pk}))
    assertNotContains(response, "9.87")
    assertNotContains(response, "YTO-SH-001")  # no courier chosen yet: no outlet list either


def test_without_a_courier_the_page_offers_the_couriers_that_support_offline_settlement(logged_in, jt, yto):
    make_courier("ZTO", name="中通")

    response = logged_in.get(reverse("interception:partnerships"))

    assert [c.code for c in response.context["courier_form"].fields["courier"].queryset] == ["JT", "YTO"]
    assertContains(response, '<option value="JT">极兔</option>', html=True)
    assertNotContains(response, "中通")
    assertContains(response, 'id="choose-courier-hint"')
    assertNotContains(response, 'id="apply-form"')


def test_choosing_a_courier_lists_its_outlets_and_disables_those_without_ewaybill_with_the_reason(
    logged_in, jt_outlet, jt_outlet_without_ewaybill, yto_outlet
):
    response = logged_in.get(reverse("interception:partnerships"), {"courier": "JT"})

    assertContains(
        response,
        f'<input type="checkbox" name="outlets" value="{jt_outlet.pk}" id="outlet-JT-SH-001">',
        html=True,
    )
    assertContains(
        response,
        f'<input type="checkbox" name="outlets" value="{jt_outlet_without_ewaybill.pk}" id="outlet-JT-GZ-003" '
        'disabled title="the outlet does not use the platform e-waybill">',
        html=True,
    )
    assertContains(response, '<input type="hidden" name="courier" value="JT" id="id_apply_courier">', html=True)
    assertContains(response, "waiting", count=0)
    assertContains(response, "each outlet approves or rejects your application")
    assertNotContains(response, "YTO-SH-001")


def test_yto_is_announced_as_effective_at_once(logged_in, yto_outlet):
    response = logged_in.get(reverse("interception:partnerships"), {"courier": "YTO"})

    assertContains(response, "needs no outlet approval: the partnership is effective at once")
    assertContains(response, 'id="outlet-YTO-SH-001"')


def test_an_unknown_courier_lists_no_outlets(logged_in, jt_outlet):
    make_outlet(make_courier("ZTO"), code="ZTO-SH-001")

    response = logged_in.get(reverse("interception:partnerships"), {"courier": "ZTO"})

    assert response.status_code == 200
    assert response.context["outlet_choices"] == []
    assertNotContains(response, "ZTO-SH-001")
    assertNotContains(response, 'id="apply-form"')


def test_an_outlet_already_partnered_is_disabled_too(logged_in, shop, merchant, jt_outlet):
    services.apply_for_partnerships(
        shop=shop, user=merchant, courier_code="JT", outlet_ids=[jt_outlet.pk], fee=Decimal("4.00")
    )

    response = logged_in.get(reverse("interception:partnerships"), {"courier": "JT"})

    assertContains(response, 'title="your shop already has a pending or active partnership with this outlet"', count=2)


# --- applying --------------------------------------------------------------------------------------


def test_applying_with_yto_is_effective_at_once(logged_in, shop, yto_outlet):
    response = logged_in.post(apply_url(), {"courier": "YTO", "outlets": [yto_outlet.pk], "fee": "2.50"})

    assert response.status_code == 302
    assert response["Location"] == reverse("interception:partnerships")
    assert messages_of(response) == [
        "Offline settlement with YTO-SH-001 is effective at once: this courier needs no outlet approval."
    ]
    partnership = Partnership.objects.get()
    assert (partnership.shop, partnership.status, partnership.fee) == (shop, P.ACTIVE, Decimal("2.50"))


def test_applying_with_jt_waits_for_the_outlets_approval(logged_in, jt, jt_outlet):
    yiwu = make_outlet(jt, code="JT-YW-002")

    response = logged_in.post(apply_url(), {"courier": "JT", "outlets": [jt_outlet.pk, yiwu.pk], "fee": "4.00"})

    assert messages_of(response) == ["Applied to JT-SH-001, JT-YW-002: waiting for the outlets' approval."]
    assert list(Partnership.objects.order_by("outlet__code").values_list("outlet__code", "status")) == [
        ("JT-SH-001", "pending"),
        ("JT-YW-002", "pending"),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"fee": "0.00"}, "The fee per parcel must be more than 0.00 yuan."),
        ({"fee": "-2.00"}, "The fee per parcel must be more than 0.00 yuan."),
        ({"outlets": "BAD"}, "JT-GZ-003: the outlet does not use the platform e-waybill"),
        ({"courier": "ZTO"}, "This courier does not offer offline settlement."),
    ],
)
def test_a_refused_application_says_why_returns_to_the_courier_and_creates_nothing(
    logged_in, jt_outlet, jt_outlet_without_ewaybill, data, message
):
    make_courier("ZTO")
    outlets = [jt_outlet.pk, jt_outlet_without_ewaybill.pk] if data.get("outlets") == "BAD" else [jt_outlet.pk]
    post = {"courier": "JT", "fee": "4.00", **data, "outlets": outlets}

    response = logged_in.post(apply_url(), post)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('interception:partnerships')}?courier={post['courier']}"
    assert messages_of(response) == [message]
    assert state() == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"fee": "4.005"},
            "Nothing was done: Fee per parcel (yuan): Ensure that there are no more than 2 decimal places.",
        ),
        ({"fee": ""}, "Nothing was done: Fee per parcel (yuan): This field is required."),
        ({"outlets": []}, "Nothing was done: Outlets: Choose one or more outlets."),
        ({"outlets": ["x"]}, "Nothing was done: Outlets: Choose outlets from the list."),
    ],
)
def test_an_invalid_form_says_what_is_wrong_and_creates_nothing(logged_in, jt_outlet, data, message):
    response = logged_in.post(apply_url(), {"courier": "JT", "outlets": [jt_outlet.pk], "fee": "4.00", **data})

    assert response["Location"] == f"{reverse('interception:partnerships')}?courier=JT"
    assert messages_of(response) == [message]
    assert state() == []


def test_a_second_application_to_the_same_outlet_is_refused(logged_in, shop, merchant, jt_outlet):
    logged_in.post(apply_url(), {"courier": "JT", "outlets": [jt_outlet.pk], "fee": "4.00"})
    before = state()

    response = logged_in.post(apply_url(), {"courier": "JT", "outlets": [jt_outlet.pk], "fee": "3.00"})

    assert messages_of(response)[-1] == "JT-SH-001 already has a pending or active partnership with your shop."
    assert state() == before


def test_apply_is_post_only_after_the_login_check(client, merchant):
    assert client.post(apply_url())["Location"] == f"{reverse('login')}?next={apply_url()}"
    client.force_login(merchant)
    assert client.get(apply_url()).status_code == 405


# --- detail and end --------------------------------------------------------------------------------


def test_the_detail_shows_the_full_history_and_offers_to_end_a_live_partnership(logged_in, shop, merchant, yto_outlet):
    [partnership] = services.apply_for_partnerships(
        shop=shop, user=merchant, courier_code="YTO", outlet_ids=[yto_outlet.pk], fee=Decimal("2.50")
    )

    response = logged_in.get(reverse("interception:partnership-detail", kwargs={"pk": partnership.pk}))

    assert response.status_code == 200
    assert [(log.from_status, log.to_status) for log in response.context["partnership"].logs.all()] == [
        ("", "pending"),
        ("pending", "active"),
    ]
    assertContains(response, "Applied at 2.50 yuan per parcel")
    assertContains(response, "Effective at once: no outlet approval needed")
    assertContains(response, reverse("interception:partnership-end", kwargs={"pk": partnership.pk}))
    assertContains(response, 'id="end-submit"')


def test_the_merchant_ends_a_partnership_with_a_note(logged_in, shop, merchant, yto_outlet):
    [partnership] = services.apply_for_partnerships(
        shop=shop, user=merchant, courier_code="YTO", outlet_ids=[yto_outlet.pk], fee=Decimal("2.50")
    )
    url = reverse("interception:partnership-end", kwargs={"pk": partnership.pk})

    response = logged_in.post(url, {"note": "合作到期"})

    assert response["Location"] == reverse("interception:partnership-detail", kwargs={"pk": partnership.pk})
    assert messages_of(response) == ["The partnership with YTO-SH-001 has ended."]
    partnership.refresh_from_db()
    assert partnership.status == P.ENDED
    assert partnership.logs.order_by("id").last().note == "合作到期"
    page = logged_in.get(response["Location"])
    assertNotContains(page, 'id="end-submit"')
    assertContains(page, "合作到期")


def test_ending_twice_is_refused_with_a_message(logged_in, shop, merchant, yto_outlet):
    [partnership] = services.apply_for_partnerships(
        shop=shop, user=merchant, courier_code="YTO", outlet_ids=[yto_outlet.pk], fee=Decimal("2.50")
    )
    url = reverse("interception:partnership-end", kwargs={"pk": partnership.pk})
    logged_in.post(url)
    before = state()

    response = logged_in.post(url)

    assert messages_of(response)[-1] == "The partnership has already ended."
    assert state() == before


def test_another_shops_partnership_is_a_404_to_open_and_to_end(client, other_merchant, shop, merchant, yto_outlet):
    [partnership] = services.apply_for_partnerships(
        shop=shop, user=merchant, courier_code="YTO", outlet_ids=[yto_outlet.pk], fee=Decimal("2.50")
    )
    before = state()
    client.force_login(other_merchant)

    assert client.get(reverse("interception:partnership-detail", kwargs={"pk": partnership.pk})).status_code == 404
    assert client.post(reverse("interception:partnership-end", kwargs={"pk": partnership.pk})).status_code == 404
    assert state() == before


def test_the_list_page_query_count_does_not_grow_with_the_partnerships(
    logged_in, shop, merchant, jt, django_assert_max_num_queries
):
    for n in range(12):
        services.apply_for_partnerships(
            shop=shop,
            user=merchant,
            courier_code="JT",
            outlet_ids=[make_outlet(jt, code=f"JT-X-{n:03d}").pk],
            fee=Decimal("1.00"),
        )

    with django_assert_max_num_queries(12):
        response = logged_in.get(reverse("interception:partnerships"), {"courier": "JT"})

    assert len(response.context["table"].rows) == 12
