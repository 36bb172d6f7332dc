from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InterceptionConfig(AppConfig):
    name = "interception"
    verbose_name = _("Courier interception")

    def ready(self):
        from shop import activity as staff_activity

        from . import activity, event_handlers, extensions

        event_handlers.register()
        staff_activity.register(activity.source)
        extensions.register()
