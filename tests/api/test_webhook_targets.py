"""Webhook URLs may not point at the machines inside (SSRF): checked when the endpoint is registered
and again, on a fresh DNS answer, before every delivery. Dev and test settings allow this machine
(WEBHOOK_ALLOW_PRIVATE_TARGETS); these tests switch it off as production has it."""

import socket
from unittest import mock

import pytest

from api import tasks, webhooks
from api.models import WebhookDelivery, WebhookEndpoint
from shop import changes
from shop.errors import DomainError
from tests.api.conftest import error_of
from tests.api.test_webhooks import Receiver

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("172.31.255.255", False),
        ("172.32.0.1", True),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # shared address space (carrier-grade NAT)
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped
        ("::ffff:93.184.216.34", True),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
    ],
)
def test_only_public_addresses_are_webhook_targets(address, public):
    assert webhooks.is_public(address) is public


def answers(*addresses):
    """A getaddrinfo that answers these addresses for any host."""

    def getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    return mock.patch.object(webhooks.socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://10.1.2.3/hook",
        "http://[::1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/",
        "http://localhost/hook",
    ],
)
def test_registering_a_private_target_is_refused_and_stores_nothing(api, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = api.post("/webhook-endpoints", {"url": url, "events": ["after_sale.updated"]})
    assert (response.status_code, error_of(response)["field"]) == (422, "url")
    assert "private, loopback or reserved" in error_of(response)["message"]
    assert WebhookEndpoint.objects.count() == 0


def test_a_host_name_is_refused_when_any_of_its_addresses_is_private(api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    with answers("93.184.216.34", "10.0.0.7"):
        response = api.post("/webhook-endpoints", {"url": "https://erp.example.com/h", "events": ["order.paid"]})
    assert response.status_code == 422
    assert WebhookEndpoint.objects.count() == 0


def test_a_host_name_that_does_not_resolve_is_refused_with_its_reason(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with mock.patch.object(webhooks.socket, "getaddrinfo", no_such_host), pytest.raises(DomainError) as refused:
        webhooks.check_url("https://erp.example.invalid/hook")
    assert refused.value.message == "The URL's host name does not resolve."


def test_a_public_host_name_is_registered(api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    with answers("93.184.216.34"):
        response = api.post(
            "/webhook-endpoints", {"url": "https://erp.example.com/h", "events": ["after_sale.updated"]}
        )
    assert response.status_code == 201
    assert WebhookEndpoint.objects.get().url == "https://erp.example.com/h"


def test_a_local_receiver_is_allowed_where_the_settings_say_so(api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    response = api.post("/webhook-endpoints", {"url": "http://127.0.0.1:9/h", "events": ["after_sale.updated"]})
    assert response.status_code == 201


def test_a_delivery_whose_host_now_resolves_inside_is_not_sent(api, settings, after_sale):
    """DNS rebinding: public when registered, loopback when delivered. Nothing reaches the receiver."""
    receiver = Receiver()
    try:
        settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
        url = f"http://erp.example.com:{receiver.port}/hooks"
        with answers("93.184.216.34"):
            assert api.post("/webhook-endpoints", {"url": url, "events": ["after_sale.updated"]}).status_code == 201
        changes.record_change(shop_id=after_sale.shop_id, event=changes.AFTER_SALE_UPDATED, object_id=after_sale.pk)
        with answers("127.0.0.1"):
            tasks.run_webhooks()
        delivery = WebhookDelivery.objects.get()
        assert receiver.received == []
        assert (delivery.status, delivery.attempts, delivery.last_status) == ("pending", 1, None)
        assert "private, loopback or reserved" in delivery.last_error
    finally:
        receiver.close()


def test_a_delivery_connects_to_the_vetted_address_with_the_host_name_in_the_host_header(settings):
    """The connection goes to the address checked a moment ago, not to a second DNS answer."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    receiver = Receiver()
    try:
        connected = []

        def create_connection(address, timeout=None, *args, **kwargs):
            connected.append(address)
            sock = socket.socket()  # to the receiver, whatever the address: no DNS, nothing leaves the machine
            sock.settimeout(timeout)
            sock.connect(("127.0.0.1", receiver.port))
            return sock

        with answers("93.184.216.34"), mock.patch.object(webhooks.socket, "create_connection", create_connection):
            status, error = webhooks.post(f"http://erp.example.com:{receiver.port}/h", b"{}", "whsec_x")
        assert (status, error) == (200, "")
        assert connected == [("93.184.216.34", receiver.port)]
        assert receiver.received[0]["headers"]["Host"] == f"erp.example.com:{receiver.port}"
    finally:
        receiver.close()


def test_private_targets_are_refused_unless_a_settings_module_allows_them():
    from config.settings import base

    assert base.WEBHOOK_ALLOW_PRIVATE_TARGETS is False  # production's settings do not change it
