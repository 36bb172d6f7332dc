import pytest
from django.urls import reverse

from tests.shop.factories import make_operator, make_outlet_user


@pytest.mark.parametrize(
    ("who", "home"),
    [("merchant", "/aftersales/"), ("outlet", "/outlet/"), ("operator", "/admin/")],
)
def test_root_sends_each_user_to_their_home(client, merchant, yto_outlet, who, home):
    user = {"merchant": merchant, "outlet": make_outlet_user(yto_outlet), "operator": make_operator()}[who]
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == home


def test_root_sends_anonymous_visitors_to_log_in(client, db):
    response = client.get("/")
    assert response["Location"] == "/accounts/login/?next=/"


def test_login_with_the_right_password_lands_on_the_workbench(client, merchant):
    response = client.post(reverse("login"), {"username": "merchant", "password": "pw"}, follow=True)
    assert response.redirect_chain[-1][0] == "/aftersales/"
    assert response.status_code == 200


def test_five_failed_logins_lock_the_account_even_for_the_right_password(client, merchant):
    for _ in range(5):
        client.post(reverse("login"), {"username": "merchant", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "merchant", "password": "pw"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_pages_carry_a_content_security_policy_without_third_party_origins(client, db):
    response = client.get(reverse("login"))
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy
    assert "http" not in policy


def test_interface_is_simplified_chinese_by_default_and_switches_to_english(client, merchant, settings):
    settings.LANGUAGE_CODE = "zh-hans"  # production's default (the test settings use English)
    client.force_login(merchant)
    assert "订单" in client.get(reverse("shop:order-list")).content.decode()
    client.post(reverse("set_language"), {"language": "en", "next": "/orders/"})
    assert "<h1>Orders</h1>" in client.get(reverse("shop:order-list")).content.decode()


def test_logout_is_a_post_and_ends_the_session(client, merchant):
    client.force_login(merchant)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
