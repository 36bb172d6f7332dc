"""The open carrier configuration alerts on the Django admin's index page (services.alerts)."""

from django import template

from interception.models import CarrierAlert

register = template.Library()


@register.simple_tag
def open_carrier_alerts() -> list[CarrierAlert]:
    return list(CarrierAlert.objects.filter(status=CarrierAlert.Status.OPEN).select_related("courier"))
