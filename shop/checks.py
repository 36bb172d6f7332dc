"""System checks of the deployment (``manage.py check --deploy``)."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


def register_checks() -> None:
    register(check_secrets_are_not_development_defaults, Tags.security, deploy=True)
    register(check_trusted_proxies, Tags.security, deploy=True)


def check_secrets_are_not_development_defaults(app_configs=None, **kwargs) -> list[Error]:
    """An error for every secret that is empty or still its public development default.

    ``settings.DEVELOPMENT_SECRETS`` (config/settings/base.py) lists each secret with its default;
    production settings refuse them too, this catches any other settings module run as production.
    """
    errors = []
    for setting, (variable, default) in getattr(settings, "DEVELOPMENT_SECRETS", {}).items():
        value = getattr(settings, setting, "")
        if not value or value == default:
            errors.append(
                Error(
                    f"{setting} is {'empty' if not value else 'its public development default'}.",
                    hint=f"Set the environment variable {variable} to a random value of its own.",
                    id="shop.E001",
                )
            )
    return errors


def check_trusted_proxies(app_configs=None, **kwargs) -> list[Warning]:
    """A warning when no proxy is trusted: behind the TLS proxy every client would share its address."""
    if getattr(settings, "TRUSTED_PROXIES", None):
        return []
    return [
        Warning(
            "TRUSTED_PROXIES is empty: behind a proxy every client has the proxy's address, and the "
            "per-address login limit pauses logins for all of them at once.",
            hint="Set the environment variable TRUSTED_PROXIES to the proxy's addresses (comma-separated CIDRs).",
            id="shop.W001",
        )
    ]
