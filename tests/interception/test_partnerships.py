"""Partnerships for offline settlement (承诺拦截·线下结算): the services and the partnership selectors."""

from decimal import Decimal

import pytest
from django.utils import translation

from interception import rules, selectors, services
from interception.models import Partnership, PartnershipLog
from shop.errors import DomainError, NotFound
from tests.shop.factories import make_courier, make_merchant, make_outlet, make_outlet_user, make_shop

P = Partnership.Status


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English (the default language is Chinese)."""
    with translation.override("en"):
        yield


@pytest.fixture
def jt(db):
    return make_courier("JT", name="极兔")


@pytest.fixture
def jt_outlet(jt):
    return make_outlet(jt, code="JT-SH-001")


@pytest.fixture
def jt_outlet_without_ewaybill(jt):
    return make_outlet(jt, code="JT-GZ-003", uses_platform_ewaybill=False)


@pytest.fixture
def jt_staff(jt_outlet):
    return make_outlet_user(jt_outlet, "outlet-jt")


def state() -> dict:
    """Every row a partnership service may write, to assert that a refusal changed nothing."""
    return {
        "partnerships": sorted(
            Partnership.objects.values_list("pk", "shop_id", "outlet_id", "fee", "status", "outlet_note", "ended_at")
        ),
        "logs": sorted(PartnershipLog.objects.values_list("pk", "partnership_id", "from_status", "to_status", "note")),
    }


def history(partnership) -> list[tuple]:
    return list(partnership.logs.order_by("at", "id").values_list("from_status", "to_status", "user__username", "note"))


def apply(shop, user, courier_code, outlets, fee="3.50"):
    return services.apply_for_partnerships(
        shop=shop, user=user, courier_code=courier_code, outlet_ids=[o.pk for o in outlets], fee=Decimal(fee)
    )


# --- applying --------------------------------------------------------------------------------------


def test_a_yto_partnership_is_effective_at_once_without_outlet_approval(shop, merchant, yto_outlet):
    [partnership] = apply(shop, merchant, "YTO", [yto_outlet], fee="2.50")

    partnership.refresh_from_db()
    assert (partnership.status, partnership.fee, partnership.proposed_by) == (P.ACTIVE, Decimal("2.50"), merchant)
    assert partnership.effective_at is not None
    assert history(partnership) == [
        ("", "pending", "merchant", "Applied at 2.50 yuan per parcel"),
        ("pending", "active", None, "Effective at once: no outlet approval needed"),
    ]
    assert selectors.active_partnership(shop_id=shop.pk, outlet_id=yto_outlet.pk) == partnership


def test_a_jt_partnership_is_pending_until_the_outlet_approves_it(shop, merchant, jt_outlet, jt_staff):
    [partnership] = apply(shop, merchant, "JT", [jt_outlet], fee="4.00")
    partnership.refresh_from_db()
    assert (partnership.status, partnership.effective_at) == (P.PENDING, None)
    assert selectors.active_partnership(shop_id=shop.pk, outlet_id=jt_outlet.pk) is None

    services.approve_partnership(partnership_id=partnership.pk, outlet=jt_outlet, user=jt_staff, note="已沟通")

    partnership.refresh_from_db()
    assert (partnership.status, partnership.outlet_note) == (P.ACTIVE, "已沟通")
    assert partnership.effective_at is not None
    assert history(partnership) == [
        ("", "pending", "merchant", "Applied at 4.00 yuan per parcel"),
        ("pending", "active", "outlet-jt", "已沟通"),
    ]
    assert selectors.active_partnership(shop_id=shop.pk, outlet_id=jt_outlet.pk) == partnership


def test_several_outlets_of_one_courier_get_one_partnership_each(shop, merchant, jt):
    first, second = make_outlet(jt, code="JT-SH-011"), make_outlet(jt, code="JT-YW-012")

    created = apply(shop, merchant, "JT", [second, first], fee="3.00")

    assert [(p.outlet.code, p.status, p.fee) for p in created] == [
        ("JT-SH-011", "pending", Decimal("3.00")),
        ("JT-YW-012", "pending", Decimal("3.00")),
    ]
    assert PartnershipLog.objects.count() == 2


def test_an_outlet_without_the_platform_ewaybill_is_refused_and_nothing_is_created(
    shop, merchant, jt_outlet, jt_outlet_without_ewaybill
):
    before = state()

    with pytest.raises(DomainError) as refused:
        apply(shop, merchant, "JT", [jt_outlet, jt_outlet_without_ewaybill])

    assert refused.value.code == "outlet"
    assert refused.value.message == "JT-GZ-003: the outlet does not use the platform e-waybill"
    assert state() == before == {"partnerships": [], "logs": []}


@pytest.mark.parametrize("fee", ["0.00", "-1.00"])
def test_a_fee_of_zero_or_less_is_refused(shop, merchant, yto_outlet, fee):
    with pytest.raises(DomainError) as refused:
        apply(shop, merchant, "YTO", [yto_outlet], fee=fee)

    assert (refused.value.code, refused.value.message) == ("fee", "The fee per parcel must be more than 0.00 yuan.")
    assert state() == {"partnerships": [], "logs": []}


def test_a_courier_without_offline_settlement_is_refused(shop, merchant):
    zto_outlet = make_outlet(make_courier("ZTO"), code="ZTO-SH-001")

    with pytest.raises(DomainError) as refused:
        apply(shop, merchant, "ZTO", [zto_outlet])

    assert refused.value.code == "courier"
    assert state() == {"partnerships": [], "logs": []}


def test_outlets_of_another_courier_are_refused(shop, merchant, yto_outlet, jt_outlet):
    with pytest.raises(DomainError) as refused:
        apply(shop, merchant, "JT", [jt_outlet, yto_outlet])

    assert refused.value.code == "outlets"
    assert state() == {"partnerships": [], "logs": []}


@pytest.mark.parametrize("first_status", ["pending", "active"])
def test_a_second_live_partnership_with_the_same_outlet_is_refused(shop, merchant, jt_outlet, jt_staff, first_status):
    [first] = apply(shop, merchant, "JT", [jt_outlet], fee="4.00")
    if first_status == "active":
        services.approve_partnership(partnership_id=first.pk, outlet=jt_outlet, user=jt_staff)
    before = state()

    with pytest.raises(DomainError) as refused:
        apply(shop, merchant, "JT", [jt_outlet], fee="3.00")

    assert refused.value.code == "exists"
    assert refused.value.message == "JT-SH-001 already has a pending or active partnership with your shop."
    assert state() == before


def test_a_new_partnership_may_follow_an_ended_or_rejected_one(shop, merchant, jt_outlet, jt_staff):
    [rejected] = apply(shop, merchant, "JT", [jt_outlet], fee="5.00")
    services.reject_partnership(partnership_id=rejected.pk, outlet=jt_outlet, user=jt_staff, note="价格太低")
    [ended] = apply(shop, merchant, "JT", [jt_outlet], fee="6.00")
    services.end_partnership(partnership_id=ended.pk, shop=shop, user=merchant)

    [third] = apply(shop, merchant, "JT", [jt_outlet], fee="7.00")

    assert list(Partnership.objects.order_by("pk").values_list("status", "fee")) == [
        ("rejected", Decimal("5.00")),
        ("ended", Decimal("6.00")),
        ("pending", Decimal("7.00")),
    ]
    assert third.status == P.PENDING


def test_another_shop_may_partner_with_the_same_outlet(shop, merchant, jt_outlet):
    other = make_shop("other-shop")
    apply(shop, merchant, "JT", [jt_outlet])

    [theirs] = apply(other, make_merchant(other), "JT", [jt_outlet], fee="9.00")

    assert (theirs.shop, theirs.status) == (other, P.PENDING)


# --- answering and ending --------------------------------------------------------------------------


def test_the_outlet_rejects_with_a_note_that_the_shop_sees(shop, merchant, jt_outlet, jt_staff):
    [partnership] = apply(shop, merchant, "JT", [jt_outlet], fee="1.00")

    services.reject_partnership(partnership_id=partnership.pk, outlet=jt_outlet, user=jt_staff, note="价格太低")

    partnership.refresh_from_db()
    assert (partnership.status, partnership.outlet_note, partnership.effective_at) == (P.REJECTED, "价格太低", None)
    assert history(partnership)[-1] == ("pending", "rejected", "outlet-jt", "价格太低")


@pytest.mark.parametrize("note", ["", "   "])
def test_a_rejection_without_a_note_is_refused(shop, merchant, jt_outlet, jt_staff, note):
    [partnership] = apply(shop, merchant, "JT", [jt_outlet])
    before = state()

    with pytest.raises(DomainError) as refused:
        services.reject_partnership(partnership_id=partnership.pk, outlet=jt_outlet, user=jt_staff, note=note)

    assert refused.value.code == "note_required"
    assert state() == before


def test_only_a_pending_application_can_be_approved_or_rejected(shop, merchant, jt_outlet, jt_staff):
    [partnership] = apply(shop, merchant, "JT", [jt_outlet])
    services.approve_partnership(partnership_id=partnership.pk, outlet=jt_outlet, user=jt_staff)
    before = state()

    with pytest.raises(DomainError) as approved_twice:
        services.approve_partnership(partnership_id=partnership.pk, outlet=jt_outlet, user=jt_staff)
    with pytest.raises(DomainError) as rejected_late:
        services.reject_partnership(partnership_id=partnership.pk, outlet=jt_outlet, user=jt_staff, note="晚了")

    assert approved_twice.value.code == rejected_late.value.code == "invalid_transition"
    assert state() == before


def test_another_outlet_cannot_approve_or_reject_an_application(shop, merchant, jt, jt_outlet):
    [partnership] = apply(shop, merchant, "JT", [jt_outlet])
    other_outlet = make_outlet(jt, code="JT-YW-002")
    intruder = make_outlet_user(other_outlet)
    before = state()

    with pytest.raises(NotFound):
        services.approve_partnership(partnership_id=partnership.pk, outlet=other_outlet, user=intruder)
    with pytest.raises(NotFound):
        services.reject_partnership(partnership_id=partnership.pk, outlet=other_outlet, user=intruder, note="不")

    assert state() == before


@pytest.mark.parametrize("courier_code", ["YTO", "JT"])
def test_the_merchant_ends_a_live_partnership_with_a_note(shop, merchant, yto_outlet, jt_outlet, courier_code):
    outlet = yto_outlet if courier_code == "YTO" else jt_outlet
    [partnership] = apply(shop, merchant, courier_code, [outlet])
    previous = Partnership.objects.get(pk=partnership.pk).status

    services.end_partnership(partnership_id=partnership.pk, shop=shop, user=merchant, note="合作到期")

    partnership.refresh_from_db()
    assert partnership.status == P.ENDED
    assert partnership.ended_at is not None
    assert history(partnership)[-1] == (previous, "ended", "merchant", "合作到期")
    assert selectors.active_partnership(shop_id=shop.pk, outlet_id=outlet.pk) is None


def test_an_ended_or_rejected_partnership_cannot_be_ended(shop, merchant, jt_outlet, jt_staff):
    [rejected] = apply(shop, merchant, "JT", [jt_outlet])
    services.reject_partnership(partnership_id=rejected.pk, outlet=jt_outlet, user=jt_staff, note="不合作")
    [ended] = apply(shop, merchant, "JT", [jt_outlet])
    services.end_partnership(partnership_id=ended.pk, shop=shop, user=merchant)
    before = state()

    for partnership in (rejected, ended):
        with pytest.raises(DomainError) as refused:
            services.end_partnership(partnership_id=partnership.pk, shop=shop, user=merchant)
        assert refused.value.code == "invalid_transition"

    assert state() == before


def test_another_shop_cannot_end_a_partnership(shop, merchant, yto_outlet):
    [partnership] = apply(shop, merchant, "YTO", [yto_outlet])
    other = make_shop("other-shop")
    before = state()

    with pytest.raises(NotFound):
        services.end_partnership(partnership_id=partnership.pk, shop=other, user=make_merchant(other))

    assert state() == before


# --- outlet_blocker and the selectors --------------------------------------------------------------


def test_outlet_blocker_names_the_missing_ewaybill_or_the_courier(yto_outlet, jt_outlet_without_ewaybill):
    zto_outlet = make_outlet(make_courier("ZTO", name="中通"), code="ZTO-SH-001")

    assert rules.outlet_blocker(yto_outlet) is None
    assert rules.outlet_blocker(jt_outlet_without_ewaybill) == "the outlet does not use the platform e-waybill"
    assert rules.outlet_blocker(zto_outlet) == "中通 does not offer offline settlement"


def test_outlet_choices_show_every_outlet_of_the_courier_with_its_blocker(
    shop, merchant, jt, jt_outlet, jt_outlet_without_ewaybill
):
    yiwu = make_outlet(jt, code="JT-YW-002")
    apply(shop, merchant, "JT", [yiwu])

    choices = selectors.outlet_choices_for_shop(shop=shop, courier=jt)

    assert [(c.outlet.code, c.blocker, c.selectable) for c in choices] == [
        ("JT-GZ-003", "the outlet does not use the platform e-waybill", False),
        ("JT-SH-001", "", True),
        ("JT-YW-002", "your shop already has a pending or active partnership with this outlet", False),
    ]
    # Another shop's partnership blocks nothing for this one.
    other = make_shop("other-shop")
    assert [c.selectable for c in selectors.outlet_choices_for_shop(shop=other, courier=jt)] == [False, True, True]


def test_offline_settlement_couriers_come_from_the_courier_rows(jt, yto):
    make_courier("ZTO")
    make_courier("SF", supports_offline_settlement=True)  # a courier joining later: data, not code

    assert [c.code for c in selectors.offline_settlement_couriers()] == ["JT", "SF", "YTO"]


def test_partnership_selectors_are_scoped_to_the_shop_and_to_the_outlet(shop, merchant, jt, jt_outlet):
    other_shop = make_shop("other-shop")
    other_outlet = make_outlet(jt, code="JT-YW-002")
    [mine] = apply(shop, merchant, "JT", [jt_outlet])
    [theirs] = apply(other_shop, make_merchant(other_shop), "JT", [other_outlet])

    assert list(selectors.partnerships_for_shop(shop=shop)) == [mine]
    assert list(selectors.partnership_detail_for_shop(shop=shop)) == [mine]
    assert list(selectors.partnerships_for_shop(shop=other_shop)) == [theirs]
    assert list(selectors.partnerships_for_outlet(outlet=jt_outlet)) == [mine]
    assert list(selectors.partnership_detail_for_outlet(outlet=other_outlet)) == [theirs]
    assert list(selectors.partnerships_for_outlet(outlet=jt_outlet, statuses=[P.ACTIVE])) == []
