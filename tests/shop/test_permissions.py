"""Permission sets as the issue's "done when" reads them: the demo's `agent` (after-sales handling only)
and `finance` (settlement only) against the pages, the services the admin and the API call, and the API."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from aftersales import services as aftersales_services
from aftersales.models import AfterSale
from api import tokens
from interception import services as interception_services
from interception.models import AssistantRule, AssistantRuleLog, Partnership, ServiceOrder
from settlement.models import Statement
from shop import permissions
from shop.permissions import PermissionRefused
from shop.permissions import PermissionSet as P
from tests.aftersales.factories import snapshot
from tests.interception.factories import make_refund_only_in_transit
from tests.settlement.factories import statement_in
from tests.shop.factories import make_courier, make_member, make_operator, make_outlet, make_outlet_clerk


def _agent(shop):
    return make_member(shop, P.AFTERSALES, username="agent")


def _finance(shop):
    return make_member(shop, P.SETTLEMENT, username="finance")


def _logged_in(client, user):
    client.force_login(user)
    return client


def _active_partnership(shop, merchant, outlet):
    [partnership] = interception_services.apply_for_partnerships(
        shop=shop, user=merchant, courier_code="YTO", outlet_ids=[outlet.pk], fee=Decimal("2.50")
    )
    return partnership


def test_agent_cannot_end_a_partnership_sees_the_button_disabled_and_a_forged_post_changes_nothing(
    client, shop, merchant, yto_outlet
):
    active_partnership = _active_partnership(shop, merchant, yto_outlet)
    agent_client = _logged_in(client, _agent(shop))
    detail = agent_client.get(reverse("interception:partnership-detail", kwargs={"pk": active_partnership.pk}))
    page = detail.content.decode()
    assert 'disabled id="end-submit" title="Needs the interception settings permission"' in page

    response = agent_client.post(
        reverse("interception:partnership-end", kwargs={"pk": active_partnership.pk}), {"note": "伪造"}
    )

    assert response.status_code == 403
    assert "Needs the interception settings permission" in response.content.decode()
    active_partnership.refresh_from_db()
    assert active_partnership.status == Partnership.Status.ACTIVE
    assert list(active_partnership.logs.values_list("to_status", flat=True)) == ["pending", "active"]


def test_agent_reads_the_assistant_rule_but_cannot_save_it(client, shop, yto):
    agent_client = _logged_in(client, _agent(shop))
    page = agent_client.get(reverse("interception:assistant"))
    assert page.status_code == 200
    assert 'disabled id="save-rule" title="Needs the interception settings permission"' in page.content.decode()

    response = agent_client.post(
        reverse("interception:assistant"), {"enabled": "on", "min_amount": "0.00", "max_amount": "900.00"}
    )

    assert response.status_code == 403
    assert AssistantRule.objects.filter(shop=shop).count() == 0
    assert AssistantRuleLog.objects.count() == 0


def test_agent_cannot_record_a_payment_and_sees_settlement_disabled_in_the_menu(client, shop, yto_outlet, merchant):
    agent_client = _logged_in(client, _agent(shop))
    statement = statement_in(Statement.Status.CONFIRMED, shop, yto_outlet, user=merchant)
    workbench = agent_client.get(reverse("aftersales:workbench")).content.decode()
    assert 'id="nav-settlement" title="Needs the settlement permission"' in workbench

    response = agent_client.post(
        reverse("settlement:statement-pay", kwargs={"pk": statement.pk}), {"reference": "CMB-1", "amount": "8.00"}
    )

    assert response.status_code == 403
    statement.refresh_from_db()
    assert (statement.status, statement.payment_reference, statement.paid_amount) == (
        Statement.Status.CONFIRMED,
        "",
        None,
    )


def test_agent_cannot_open_the_team_page_and_sees_it_disabled_with_the_reason(client, shop):
    agent_client = _logged_in(client, _agent(shop))
    workbench = agent_client.get(reverse("aftersales:workbench")).content.decode()
    assert 'id="nav-team" title="Needs the shop admin permission"' in workbench
    assert agent_client.get(reverse("team:members")).status_code == 403


def test_the_reason_reads_in_chinese(client, shop):
    member = make_member(shop, P.AFTERSALES)
    client.force_login(member)
    with translation.override("zh-hans"):
        page = client.get(reverse("aftersales:workbench"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        assert str(permissions.REASONS[P.SETTLEMENT]) == "需要结算权限"
    assert 'title="需要结算权限"' in page


def test_agent_agrees_a_refund_and_launches_an_interception(
    client, shop, yto_outlet, django_capture_on_commit_callbacks
):
    agent_client = _logged_in(client, _agent(shop))
    refund = make_refund_only_in_transit(shop, yto_outlet, order_no="O-1")
    other = make_refund_only_in_transit(shop, yto_outlet, order_no="O-2")

    agreed = agent_client.post(
        reverse("aftersales:agree-refund", kwargs={"after_sale_no": refund.after_sale_no}),
        {"version": refund.version},
        follow=True,
    )
    with django_capture_on_commit_callbacks(execute=True):
        launched = agent_client.post(reverse("interception:launch"), {"after_sale": [other.pk], "via": "detail"})

    assert agreed.status_code == 200
    refund.refresh_from_db()
    assert (refund.status, refund.refunded_amount) == (AfterSale.Status.REFUNDED, Decimal("129.00"))
    assert launched.status_code == 302
    assert ServiceOrder.objects.filter(after_sale=other).count() == 1


def test_finance_sees_every_after_sale_action_disabled_with_the_reason_and_a_forged_post_changes_nothing(
    client, shop, yto_outlet
):
    finance = _finance(shop)
    after_sale = make_refund_only_in_transit(shop, yto_outlet)
    client.force_login(finance)
    page = client.get(reverse("aftersales:after-sale-detail", kwargs={"after_sale_no": after_sale.after_sale_no}))
    html = page.content.decode()
    for key in ("agree_refund", "reject", "small_payment", "flag", "intercept"):
        assert f'title="Needs the after-sales handling permission" data-blocked="{key}"' in html, key
    before = snapshot()

    response = client.post(
        reverse("aftersales:agree-refund", kwargs={"after_sale_no": after_sale.after_sale_no}),
        {"version": after_sale.version},
    )

    assert response.status_code == 403
    assert snapshot() == before


def test_finance_sees_the_workbench_bulk_actions_and_exports_disabled_and_the_claim_link_too(client, shop, yto_outlet):
    from tests.interception.factories import make_service_order

    make_refund_only_in_transit(shop, yto_outlet)
    # Eight days after the success: inside the claim window, so the row offers the claim link.
    service_order = make_service_order(
        shop, yto_outlet, status="succeeded", succeeded_at=timezone.now() - timedelta(days=8)
    )
    agent_client = _logged_in(client, _agent(shop))
    claim_link = agent_client.get(reverse("interception:service-orders")).content.decode()
    client.force_login(_finance(shop))

    workbench = client.get(reverse("aftersales:workbench")).content.decode()

    reason = 'disabled title="Needs the after-sales handling permission"'
    # apply to ticked rows, reject ticked (signed for), refund ticked (came back), intercept ticked and all filtered
    assert workbench.count(reason) == 5
    assert 'disabled id="export-csv" title="Needs the after-sales handling permission"' in workbench
    assert (
        f'<span class="badge disabled" aria-disabled="true" title="Needs the settlement permission" '
        f'data-claim-for="{service_order.pk}">'
    ) in claim_link


def test_the_services_refuse_a_member_without_the_set_and_change_nothing(shop, yto_outlet):
    finance = _finance(shop)
    after_sale = make_refund_only_in_transit(shop, yto_outlet)
    before = snapshot()

    with pytest.raises(PermissionRefused) as refused:
        aftersales_services.agree_refund(after_sale_id=after_sale.pk, shop=shop, user=finance)

    assert refused.value.message == "Needs the after-sales handling permission"
    assert snapshot() == before
    with pytest.raises(PermissionRefused):
        interception_services.launch_interceptions(
            shop=shop, user=finance, after_sale_ids=[after_sale.pk], via="detail", enqueue=False
        )
    assert ServiceOrder.objects.count() == 0


def test_operators_and_system_actors_pass_the_service_checks(shop, yto_outlet):
    after_sale = make_refund_only_in_transit(shop, yto_outlet)
    permissions.require(make_operator(), P.SETTLEMENT)
    permissions.require(None, P.SETTLEMENT)
    created, _skipped = interception_services.launch_interceptions(
        shop=shop, user=None, after_sale_ids=[after_sale.pk], via="assistant_rule", enqueue=False
    )
    assert len(created) == 1


def test_an_outlet_clerk_without_partnership_decisions_cannot_approve(client, shop, merchant):
    jt_outlet = make_outlet(make_courier("JT"), code="JT-SH-001")
    [partnership] = interception_services.apply_for_partnerships(
        shop=shop, user=merchant, courier_code="JT", outlet_ids=[jt_outlet.pk], fee=Decimal("3.00")
    )
    clerk = make_outlet_clerk(jt_outlet, P.OUTLET_SETTLEMENT)
    client.force_login(clerk)
    page = client.get(reverse("outlet:portal")).content.decode()
    assert f'disabled id="approve-{partnership.pk}" title="Needs the partnership decisions permission"' in page

    response = client.post(reverse("outlet:partnership-approve", kwargs={"pk": partnership.pk}))

    assert response.status_code == 403
    partnership.refresh_from_db()
    assert partnership.status == Partnership.Status.PENDING


def test_a_members_sets_are_read_in_one_query_and_an_owners_in_none(shop, merchant, django_assert_num_queries):
    member = make_member(shop, P.AFTERSALES, P.SETTLEMENT)
    with django_assert_num_queries(1):
        assert permissions.sets_of(member) == {P.AFTERSALES, P.SETTLEMENT}
        assert permissions.has(member, P.SETTLEMENT) and not permissions.has(member, P.SHOP_ADMIN)
    with django_assert_num_queries(0):
        assert permissions.sets_of(merchant) == set(permissions.MERCHANT_SETS)


def test_the_workbench_costs_a_member_one_query_more_than_the_owner(client, shop, merchant, yto_outlet):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(3):
        make_refund_only_in_transit(shop, yto_outlet, order_no=f"O-{n}")
    member = make_member(shop, P.AFTERSALES)
    counts = []
    for user in (merchant, member):
        client.force_login(user)
        client.get(reverse("aftersales:workbench"))  # warm: sessions, content types
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("aftersales:workbench")).status_code == 200
        counts.append(len(queries))
    assert counts[1] == counts[0] + 1


# --- the API: a token's service user acts with the sets of its scopes ---------------------------------
def test_a_write_tokens_user_has_after_sales_handling_and_shop_admin_and_a_read_tokens_none(shop):
    writer, _secret = tokens.create_api_token(shop=shop, name="ERP", scopes="read,write")
    reader, _secret = tokens.create_api_token(shop=shop, name="BI", scopes="read")
    assert permissions.sets_of(writer.user) == {P.AFTERSALES, P.SHOP_ADMIN}
    assert permissions.sets_of(reader.user) == set()


def test_a_token_whose_user_lost_after_sales_handling_is_refused_403_and_nothing_changes(client, shop, yto_outlet):
    token, secret = tokens.create_api_token(shop=shop, name="ERP", scopes="read,write")
    token.user.groups.clear()
    after_sale = make_refund_only_in_transit(shop, yto_outlet)
    before = snapshot()

    response = client.post(
        f"/api/v1/after-sales/{after_sale.after_sale_no}/actions",
        {"action": "agree_refund", "version": after_sale.version},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden_permission"
    assert snapshot() == before


def test_a_shop_admin_member_may_create_tokens_but_a_member_without_it_may_not(shop):
    admin = make_member(shop, P.SHOP_ADMIN)
    token, _secret = tokens.create_api_token(shop=shop, name="ERP", scopes="read", created_by=admin)
    assert token.created_by == admin
    with pytest.raises(PermissionRefused):
        tokens.create_api_token(shop=shop, name="ERP2", scopes="read", created_by=make_member(shop, P.AFTERSALES))
    assert shop.api_tokens.count() == 1
