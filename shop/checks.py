"""System checks of the deployment (``manage.py check --deploy``)."""

from django.conf import settings
from django.core.checks import Error, Tags, register


def register_checks() -> None:
    register(check_secrets_are_not_development_defaults, Tags.security, deploy=True)


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
