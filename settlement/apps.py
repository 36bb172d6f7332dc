from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SettlementConfig(AppConfig):
    name = "settlement"
    verbose_name = _("Settlement and claims")

    def ready(self):
        # The claim link on the service-order query (理赔): interception offers the hook, settlement
        # fills it, so that interception never names a settlement URL.
        from shop import activity as staff_activity

        from . import activity
        from .claims import extensions

        extensions.register()
        staff_activity.register(activity.source)
