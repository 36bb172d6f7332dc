"""`manage.py check --deploy` fails on any secret left at its public development default."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from shop.checks import check_secrets_are_not_development_defaults, check_trusted_proxies

REAL = {
    "SECRET_KEY": "a-long-random-secret-key-of-production-0123456789abcdef",
    "PLATFORM_EVENTS_SECRET": "platform-secret-of-production",
    "CARRIER_CALLBACK_SECRET": "carrier-secret-of-production",
}


def test_check_deploy_fails_when_the_carrier_callback_secret_is_the_development_default(settings):
    for name, value in REAL.items():
        setattr(settings, name, value)
    settings.CARRIER_CALLBACK_SECRET = "dev-carrier-secret"

    with pytest.raises(SystemCheckError) as raised:
        call_command("check", deploy=True, tags=["security"])

    assert "shop.E001" in str(raised.value)
    assert "CARRIER_CALLBACK_SECRET is its public development default." in str(raised.value)


@pytest.mark.parametrize("setting", list(REAL))
def test_each_default_secret_is_an_error_naming_its_variable(settings, setting):
    for name, value in REAL.items():
        setattr(settings, name, value)
    variable, default = settings.DEVELOPMENT_SECRETS[setting]
    setattr(settings, setting, default)

    errors = check_secrets_are_not_development_defaults()

    assert [(e.id, e.level, e.msg, e.hint) for e in errors] == [
        (
            "shop.E001",
            40,
            f"{setting} is its public development default.",
            f"Set the environment variable {variable} to a random value of its own.",
        )
    ]


def test_an_empty_secret_is_an_error(settings):
    for name, value in REAL.items():
        setattr(settings, name, value)
    settings.PLATFORM_EVENTS_SECRET = ""

    assert [e.msg for e in check_secrets_are_not_development_defaults()] == ["PLATFORM_EVENTS_SECRET is empty."]


def test_real_secrets_pass(settings):
    for name, value in REAL.items():
        setattr(settings, name, value)

    assert check_secrets_are_not_development_defaults() == []


def test_check_deploy_warns_when_no_proxy_is_trusted(settings):
    settings.TRUSTED_PROXIES = []

    assert [w.id for w in check_trusted_proxies()] == ["shop.W001"]

    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert check_trusted_proxies() == []
