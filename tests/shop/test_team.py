"""The team pages (子账号): add with a password shown once, change sets, deactivate (sessions end at once),
reactivate, reset a password; the owner's own rights and the shop's one active owner."""

import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from shop.errors import DomainError
from shop.models import StaffChange, User
from shop.permissions import PermissionSet as P
from shop.team import services
from tests.shop.factories import make_member, make_merchant, make_outlet_clerk, make_outlet_user


def _logs_in(client, username: str, password: str) -> bool:
    """The login form, as a person uses it (django-axes wants the request)."""
    response = client.post(reverse("login"), {"username": username, "password": password})
    return response.status_code == 302  # a refused login shows the form again (200)


def merchant_last_login(user) -> str:
    from shop.localtime import local_format

    user.refresh_from_db()
    return local_format(user.last_login)


def _sets(user) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))


def _team_state():
    return (
        sorted(User.objects.values_list("username", "is_active", "password", "shop_role")),
        sorted(Group.objects.exclude(user=None).values_list("name", "user__username")),
        StaffChange.objects.count(),
    )


def test_the_owner_adds_a_member_whose_password_is_shown_once_and_logs_in(client, shop, merchant):
    client.force_login(merchant)

    response = client.post(
        reverse("team:member-add"), {"username": "xiaoli", "display_name": "小李", "sets": [P.AFTERSALES]}
    )

    page = response.content.decode()
    password = re.search(r'id="new-password-value">([^<]+)<', page).group(1)
    member = User.objects.get(username="xiaoli")
    assert (member.kind, member.shop, member.shop_role, member.first_name) == ("merchant", shop, "agent", "小李")
    assert _sets(member) == [P.AFTERSALES]
    assert client.get(reverse("team:members")).content.decode().count(password) == 0
    change = StaffChange.objects.get()
    assert (change.shop, change.member, change.user, change.kind, change.detail) == (
        shop,
        member,
        merchant,
        "added",
        "after-sales handling",
    )
    client.logout()
    assert _logs_in(client, "xiaoli", password)


def test_the_team_page_lists_members_with_their_sets_and_last_login(client, shop, merchant):
    make_member(shop, P.AFTERSALES, P.SETTLEMENT, username="zhao")
    client.force_login(merchant)
    page = client.get(reverse("team:members"))
    rows = {row["member"].username: row for row in page.context["rows"]}
    assert rows["zhao"]["sets"] == [P.AFTERSALES, P.SETTLEMENT]
    assert rows["merchant"]["sets"] == [P.AFTERSALES, P.INTERCEPTION, P.SETTLEMENT, P.SHOP_ADMIN]
    assert rows["merchant"]["leader"] and not rows["merchant"]["actionable"]
    html = page.content.decode()
    assert merchant_last_login(merchant) in html  # the owner logged in to open the page
    assert html.count(">never<") == 1  # zhao never logged in


def test_a_taken_username_is_refused_and_nothing_is_made(client, shop, merchant):
    make_member(shop, username="taken")
    client.force_login(merchant)
    before = _team_state()
    response = client.post(reverse("team:member-add"), {"username": "TAKEN", "display_name": "x", "sets": []})
    assert "This username is taken: choose another." in response.content.decode()
    assert _team_state() == before


def test_changing_a_members_sets_writes_a_staff_change(client, shop, merchant):
    member = make_member(shop, P.AFTERSALES)
    client.force_login(merchant)
    client.post(reverse("team:member-sets", kwargs={"pk": member.pk}), {"sets": [P.SETTLEMENT, P.INTERCEPTION]})
    assert _sets(member) == [P.INTERCEPTION, P.SETTLEMENT]
    assert list(StaffChange.objects.values_list("kind", "detail")) == [
        ("sets_changed", "interception settings、settlement")
    ]


def test_a_deactivated_members_session_ends_at_once_and_reactivation_lets_them_back(client, shop, merchant):
    from django.test import Client

    member = make_member(shop, P.AFTERSALES)
    member_client = Client()
    member_client.force_login(member)
    assert member_client.get(reverse("aftersales:workbench")).status_code == 200
    client.force_login(merchant)

    client.post(reverse("team:member-deactivate", kwargs={"pk": member.pk}))

    response = member_client.get(reverse("aftersales:workbench"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not _logs_in(member_client, member.username, "pw")
    client.post(reverse("team:member-reactivate", kwargs={"pk": member.pk}))
    assert _logs_in(member_client, member.username, "pw")
    assert list(StaffChange.objects.order_by("id").values_list("kind", flat=True)) == ["deactivated", "reactivated"]


def test_a_password_reset_ends_the_old_sessions_and_the_new_password_works(client, shop, merchant):
    from django.test import Client

    member = make_member(shop, P.AFTERSALES)
    member_client = Client()
    member_client.force_login(member)
    client.force_login(merchant)

    page = client.post(reverse("team:member-password", kwargs={"pk": member.pk})).content.decode()

    password = re.search(r'id="new-password-value">([^<]+)<', page).group(1)
    assert member_client.get(reverse("aftersales:workbench")).status_code == 302
    assert _logs_in(member_client, member.username, password)


def test_the_owner_cannot_change_their_own_sets_or_deactivate_themselves(shop, merchant):
    before = _team_state()
    with pytest.raises(DomainError) as refused:
        services.change_member_sets(actor=merchant, member_id=merchant.pk, sets=[P.AFTERSALES])
    assert refused.value.code == "leader_sets"
    with pytest.raises(DomainError) as refused:
        services.deactivate_member(actor=merchant, member_id=merchant.pk)
    assert refused.value.code == "self"
    assert _team_state() == before


def test_a_shop_admin_member_manages_staff_but_not_an_owner_nor_themselves(shop, merchant):
    admin = make_member(shop, P.SHOP_ADMIN)
    member, _password = services.add_member(actor=admin, username="new1", display_name="新人", sets=[P.AFTERSALES])
    before = _team_state()
    for call in (
        lambda: services.deactivate_member(actor=admin, member_id=merchant.pk),
        lambda: services.reset_member_password(actor=admin, member_id=merchant.pk),
        lambda: services.change_member_sets(actor=admin, member_id=admin.pk, sets=[]),
    ):
        with pytest.raises(DomainError):
            call()
    assert _team_state() == before
    assert member.shop == shop


def test_the_shop_keeps_one_active_owner(shop, merchant):
    second = make_merchant(shop, "second-owner")
    services.deactivate_member(actor=merchant, member_id=second.pk)
    second.refresh_from_db()
    assert not second.is_active
    # The last active owner: another owner (here one deactivated a moment ago, acting from an old
    # page) cannot deactivate them, and they cannot deactivate themselves.
    with pytest.raises(DomainError) as refused:
        services.deactivate_member(actor=second, member_id=merchant.pk)
    assert refused.value.code == "last_owner"
    merchant.refresh_from_db()
    assert merchant.is_active


def test_a_member_of_another_shop_is_a_404_and_nothing_changes(client, shop, other_shop, merchant):
    stranger = make_member(other_shop, P.AFTERSALES)
    client.force_login(merchant)
    before = _team_state()
    for name in ("team:member-sets", "team:member-deactivate", "team:member-password"):
        assert client.post(reverse(name, kwargs={"pk": stranger.pk}), {"sets": []}).status_code == 404
    assert _team_state() == before


def test_an_api_tokens_service_user_is_not_listed_as_a_member(client, shop, merchant):
    from api import tokens

    token, _secret = tokens.create_api_token(shop=shop, name="ERP", scopes="read")
    client.force_login(merchant)
    usernames = [row["member"].username for row in client.get(reverse("team:members")).context["rows"]]
    assert usernames == ["merchant"]
    assert token.user.username not in usernames


def test_the_outlet_manager_adds_a_clerk_without_partnership_rights(client, yto_outlet):
    manager = make_outlet_user(yto_outlet, "zhan")
    client.force_login(manager)

    client.post(
        reverse("outlet:team-add"), {"username": "wenyuan", "display_name": "文员", "sets": [P.OUTLET_SETTLEMENT]}
    )

    clerk = User.objects.get(username="wenyuan")
    assert (clerk.kind, clerk.outlet, clerk.outlet_role) == ("outlet", yto_outlet, "clerk")
    assert _sets(clerk) == [P.OUTLET_SETTLEMENT]
    assert StaffChange.objects.get().outlet == yto_outlet


def test_a_clerk_cannot_open_the_outlet_team_page(client, yto_outlet):
    client.force_login(make_outlet_clerk(yto_outlet, P.OUTLET_SETTLEMENT, P.OUTLET_PARTNERSHIPS))
    response = client.get(reverse("outlet:team"))
    assert response.status_code == 403
    assert "Only the outlet manager manages its staff" in response.content.decode()


def test_merchant_sets_cannot_be_given_on_the_outlet_team(yto_outlet):
    manager = make_outlet_user(yto_outlet)
    with pytest.raises(DomainError) as refused:
        services.add_member(actor=manager, username="x-1", display_name="x", sets=[P.SETTLEMENT])
    assert refused.value.code == "invalid_sets"
    assert not User.objects.filter(username="x-1").exists()
