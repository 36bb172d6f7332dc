from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = _("Shops, orders and parcels")

    def ready(self):
        from . import activity, checks, event_handlers

        event_handlers.register()
        activity.register(activity.staff_changes)
        checks.register_checks()
