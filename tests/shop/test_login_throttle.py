"""Login lock-out by username, a limit per client address behind trusted proxies, and the alarm."""

import pytest
from axes.models import AccessFailureLog
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from django.urls import reverse

from config.settings.base import networks_from_env
from shop.login_throttle import client_address
from tests.shop.factories import make_merchant, make_operator

LOGIN = "/accounts/login/"


def log_in(client, username, password, *, peer="127.0.0.1", forwarded=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=peer, headers=headers)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- the username ----------------------------------------------------------------------------------
def test_five_failures_from_five_addresses_lock_the_username_whatever_the_address(client, shop, settings):
    make_merchant(shop, "merchant-a")
    answers = [log_in(client, "merchant-a", "wrong", peer=f"198.51.100.{n + 1}").status_code for n in range(5)]
    assert answers == [200, 200, 200, 200, 429]  # the fifth failure locks the username

    response = log_in(client, "merchant-a", "pw", peer="203.0.113.50")

    assert response.status_code == 429
    assert "is paused for 15 minutes after repeated failed logins" in response.content.decode()
    assert not logged_in(client)


def test_a_locked_username_does_not_lock_the_other_accounts_at_that_address(client, shop):
    make_merchant(shop, "merchant-a")
    make_merchant(shop, "merchant-b")
    for _ in range(5):
        log_in(client, "merchant-a", "wrong")

    response = log_in(client, "merchant-b", "pw")

    assert response.status_code == 302
    assert logged_in(client)


def test_failures_during_the_lock_out_do_not_prolong_it(client, shop, settings):
    make_merchant(shop, "merchant-a")
    for _ in range(8):
        log_in(client, "merchant-a", "wrong")

    from axes.models import AccessAttempt

    assert AccessAttempt.objects.get(username="merchant-a").failures_since_start == settings.LOGIN_FAILURE_LIMIT


# --- the client address ----------------------------------------------------------------------------
def test_password_spraying_from_one_address_pauses_that_address_only(client, shop, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 4
    make_merchant(shop, "victim")
    for n in range(4):  # one try per username: no username reaches its limit
        log_in(client, f"guess-{n}", "wrong", peer="10.0.0.2", forwarded="203.0.113.7")

    sprayer = log_in(client, "victim", "pw", peer="10.0.0.2", forwarded="203.0.113.7")
    assert (sprayer.status_code, logged_in(client)) == (429, False)

    # Another client behind the same proxy logs in: the proxy's address is not what is paused.
    other = log_in(client, "victim", "pw", peer="10.0.0.2", forwarded="198.51.100.9")
    assert (other.status_code, logged_in(client)) == (302, True)


def test_without_trusted_proxies_a_forwarded_for_header_changes_nothing(client, shop, settings):
    settings.TRUSTED_PROXIES = []
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 3
    make_merchant(shop, "victim")
    for n in range(3):  # each with a new forged client address
        log_in(client, f"guess-{n}", "wrong", peer="192.0.2.10", forwarded=f"203.0.113.{n + 1}")

    assert set(AccessFailureLog.objects.values_list("ip_address", flat=True)) == {"192.0.2.10"}
    assert log_in(client, "victim", "pw", peer="192.0.2.10", forwarded="198.51.100.9").status_code == 429


def test_refused_attempts_from_a_paused_address_keep_counting(client, shop, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 2
    for n in range(2):
        log_in(client, f"guess-{n}", "wrong", peer="192.0.2.10")

    log_in(client, "guess-9", "wrong", peer="192.0.2.10")

    assert list(AccessFailureLog.objects.order_by("id").values_list("username", "locked_out")) == [
        ("guess-0", False),
        ("guess-1", False),  # the failure that reached the limit (answered 429)
        ("guess-9", True),
    ]


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "client"),
    [
        ([], "192.0.2.1", "203.0.113.7", "192.0.2.1"),  # no trusted proxy: the header is ignored
        (["10.0.0.0/8"], "192.0.2.1", "203.0.113.7", "192.0.2.1"),  # the peer is no proxy of ours
        (["10.0.0.0/8"], "10.0.0.2", "203.0.113.7", "203.0.113.7"),
        (["10.0.0.0/8"], "10.0.0.2", "1.2.3.4, 203.0.113.7", "203.0.113.7"),  # the client wrote 1.2.3.4
        (["10.0.0.0/8"], "10.0.0.2", "203.0.113.7, 10.1.1.1", "203.0.113.7"),  # two proxies of ours
        (["10.0.0.0/8"], "10.0.0.2", "nonsense, 203.0.113.7", "203.0.113.7"),
        (["10.0.0.0/8"], "10.0.0.2", "203.0.113.7, nonsense", "10.0.0.2"),
        (["10.0.0.0/8"], "10.0.0.2", "", "10.0.0.2"),
        (["127.0.0.1", "::1"], "::1", "2001:db8::5", "2001:db8::5"),
    ],
)
def test_the_client_address_believes_x_forwarded_for_only_from_trusted_proxies(
    settings, trusted, peer, forwarded, client
):
    settings.TRUSTED_PROXIES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded)

    assert client_address(request) == client


def test_trusted_proxies_come_from_the_environment_and_a_bad_entry_stops_the_start(monkeypatch):
    monkeypatch.setenv("TRUSTED_PROXIES", " 10.0.0.0/8, 192.168.1.7 ,::1")
    assert networks_from_env("TRUSTED_PROXIES") == ["10.0.0.0/8", "192.168.1.7/32", "::1/128"]

    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal")
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES: 'proxy.internal' is not an IP address or CIDR."):
        networks_from_env("TRUSTED_PROXIES")


# --- the alarm -------------------------------------------------------------------------------------
def test_failed_logins_above_the_threshold_raise_the_alarm_on_the_admin_index(client, db, settings):
    settings.LOGIN_ALARM_FAILURES = 3
    for n in range(4):
        log_in(client, f"guess-{n}", "wrong", peer=f"198.51.100.{n + 1}")
    client.force_login(make_operator())

    page = client.get(reverse("admin:index")).content.decode()

    assert 'id="failed-login-alarm"' in page
    assert "4 failed logins in the last 10 minutes, across all accounts (the alarm is above 3)" in page
    assert reverse("admin:axes_accessfailurelog_changelist") in page


def test_no_alarm_at_or_below_the_threshold(client, db, settings):
    settings.LOGIN_ALARM_FAILURES = 3
    for n in range(3):
        log_in(client, f"guess-{n}", "wrong")
    client.force_login(make_operator())

    assert 'id="failed-login-alarm"' not in client.get(reverse("admin:index")).content.decode()
