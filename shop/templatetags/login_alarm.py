"""The failed-login alarm on the Django admin's index page (shop.login_throttle)."""

from django import template

from shop.login_throttle import Alarm, failed_login_alarm

register = template.Library()


@register.simple_tag
def login_alarm() -> Alarm | None:
    return failed_login_alarm()
