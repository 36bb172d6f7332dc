from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AftersalesConfig(AppConfig):
    name = "aftersales"
    verbose_name = _("After-sales")

    def ready(self):
        from shop import activity as staff_activity

        from . import activity, event_handlers

        event_handlers.register()
        staff_activity.register(activity.source)
