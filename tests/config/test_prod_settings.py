"""Production settings refuse every missing secret and every public development default."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings.base import DEVELOPMENT_SECRETS

ROOT = Path(__file__).resolve().parent.parent.parent
# What the README's deploy table asked for before the carrier callback secret was in it.
PREVIOUSLY_DOCUMENTED = {
    "DJANGO_SECRET_KEY": "k" * 50,
    "DJANGO_ALLOWED_HOSTS": "backoffice.example.com",
    "DATABASE_URL": "postgres://user:password@db.example.com:5432/backoffice",
    "PLATFORM_EVENTS_SECRET": "platform-secret-of-production",
}
ALL_REQUIRED = {**PREVIOUSLY_DOCUMENTED, "CARRIER_CALLBACK_SECRET": "carrier-secret-of-production"}


def load_prod_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Import config.settings.prod in a fresh interpreter with exactly these variables (and PATH)."""
    clean = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-c", "import config.settings.prod as s; print(s.CARRIER_CALLBACK_SECRET)"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_with_only_the_previously_documented_variables():
    result = load_prod_settings(PREVIOUSLY_DOCUMENTED)

    assert result.returncode != 0
    assert "ImproperlyConfigured: Environment variable CARRIER_CALLBACK_SECRET is required in production." in (
        result.stderr
    )


def test_production_starts_with_every_required_variable_and_uses_the_carrier_secret_given():
    result = load_prod_settings(ALL_REQUIRED)

    assert (result.returncode, result.stdout.strip()) == (0, "carrier-secret-of-production"), result.stderr


@pytest.mark.parametrize("variable", [variable for variable, _default in DEVELOPMENT_SECRETS.values()])
def test_production_refuses_to_start_without_each_secret(variable):
    env = {name: value for name, value in ALL_REQUIRED.items() if name != variable}

    result = load_prod_settings(env)

    assert result.returncode != 0
    assert f"Environment variable {variable} is required in production." in result.stderr


@pytest.mark.parametrize("variable, default", list(DEVELOPMENT_SECRETS.values()))
def test_production_refuses_to_start_with_a_secret_set_to_its_development_default(variable, default):
    result = load_prod_settings({**ALL_REQUIRED, variable: default})

    assert result.returncode != 0
    assert f"Environment variable {variable} is set to its public development default" in result.stderr


def test_every_secret_with_a_development_default_is_listed():
    assert DEVELOPMENT_SECRETS == {
        "SECRET_KEY": ("DJANGO_SECRET_KEY", "dev-insecure-secret-key-change-me"),
        "PLATFORM_EVENTS_SECRET": ("PLATFORM_EVENTS_SECRET", "dev-platform-secret"),
        "CARRIER_CALLBACK_SECRET": ("CARRIER_CALLBACK_SECRET", "dev-carrier-secret"),
    }
