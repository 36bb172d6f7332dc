"""The staff activity page: who did what, from the history rows and the staff changes; filters; export."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from aftersales import services as aftersales_services
from interception import services as interception_services
from shop.permissions import PermissionSet as P
from shop.team import services as team_services
from tests.interception.factories import make_refund_only_in_transit
from tests.shop.factories import make_member


def _activity(client, **params):
    return client.get(reverse("team:activity"), params).context["rows"]


def _world(shop, merchant, yto_outlet, yto):
    agent = make_member(shop, P.AFTERSALES, username="agent")
    agent.first_name = "李客服"
    agent.save(update_fields=["first_name"])
    refund = make_refund_only_in_transit(shop, yto_outlet, order_no="O-1")
    flagged = make_refund_only_in_transit(shop, yto_outlet, order_no="O-2")
    launched = make_refund_only_in_transit(shop, yto_outlet, order_no="O-3")
    aftersales_services.agree_refund(after_sale_id=refund.pk, shop=shop, user=agent)
    aftersales_services.flag_and_remark(
        shop=shop, user=agent, versions={flagged.pk: flagged.version}, flag="red", remark="=HYPERLINK(1)"
    )
    interception_services.launch_interceptions(
        shop=shop, user=agent, after_sale_ids=[launched.pk], via="detail", enqueue=False
    )
    interception_services.save_assistant_rule(
        shop=shop, user=merchant, enabled=True, min_amount=Decimal("0.00"), max_amount=Decimal("300.00"), couriers=[]
    )
    team_services.add_member(actor=merchant, username="zhao", display_name="赵会计", sets=[P.SETTLEMENT])
    return agent


def test_the_activity_lists_who_did_what_newest_first(client, shop, merchant, yto_outlet, yto):
    _world(shop, merchant, yto_outlet, yto)
    client.force_login(merchant)

    rows = _activity(client)

    assert [
        (row["who"], row["kind"], row["entry"].action, row["entry"].subject, row["entry"].detail) for row in rows
    ] == [
        ("merchant", "staff changes", "member added", "zhao", "settlement"),
        ("merchant", "settings changed", "assistant rule saved", "on", "0.00–300.00"),
        ("李客服", "interceptions launched", "interception launched", "YTO-3", "Launched via after-sale detail"),
        ("李客服", "flags and remarks", "remark changed", "AS-O-2", "=HYPERLINK(1)"),
        ("李客服", "flags and remarks", "flag set", "AS-O-2", "red"),
        ("李客服", "decisions", "status changed → refunded", "AS-O-1", "The merchant agreed the refund"),
        ("李客服", "decisions", "refund paid", "AS-O-1", "129.00 yuan refunded"),
    ]
    times = [row["entry"].at for row in rows]
    assert times == sorted(times, reverse=True)


def test_filters_by_member_kind_and_date(client, shop, merchant, yto_outlet, yto):
    agent = _world(shop, merchant, yto_outlet, yto)
    client.force_login(merchant)

    by_agent = _activity(client, member=agent.pk)
    staff_only = _activity(client, kind="staff")
    today = timezone.localdate()
    tomorrow_on = _activity(client, since=(today + timedelta(days=2)).isoformat())

    assert {row["who"] for row in by_agent} == {"李客服"}
    assert [(row["entry"].action, row["entry"].subject) for row in staff_only] == [("member added", "zhao")]
    assert tomorrow_on == []


def test_an_inverted_date_range_is_a_message_and_shows_everything(client, shop, merchant, yto_outlet, yto):
    _world(shop, merchant, yto_outlet, yto)
    client.force_login(merchant)
    response = client.get(reverse("team:activity"), {"since": "2026-12-02", "until": "2026-12-01"})
    assert "The first day comes after the last." in response.content.decode()
    assert len(response.context["rows"]) == len(_activity(client))


def test_the_export_has_every_filtered_row_with_formulas_made_harmless(client, shop, merchant, yto_outlet, yto):
    agent = _world(shop, merchant, yto_outlet, yto)
    client.force_login(merchant)

    response = client.get(reverse("team:activity-csv"), {"member": agent.pk, "kind": "flag"})

    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["at", "member", "kind", "action", "object", "detail"]
    assert [row[1:] for row in rows[1:]] == [
        ["李客服", "flags and remarks", "remark changed", "AS-O-2", "'=HYPERLINK(1)"],  # safe_cell
        ["李客服", "flags and remarks", "flag set", "AS-O-2", "red"],
    ]


def test_another_shops_staff_do_not_appear(client, shop, other_shop, merchant, other_merchant, yto_outlet, yto):
    _world(shop, merchant, yto_outlet, yto)
    client.force_login(other_merchant)
    assert _activity(client) == []
