"""The after-sales assistant rule "快递拦截自动退": the shop's settings, saved with a history row.

The rule itself is in rules.py, its page's reads (and the dry run) in selectors.py, and the launch
when a matching request arrives in event_handlers.py.
"""

from django.db import transaction
from django.utils import timezone

from shop import permissions
from shop.models import Shop
from shop.permissions import PermissionSet

from .. import locks
from ..models import AssistantRule, AssistantRuleLog


def open_assistant_rule(*, shop: Shop) -> AssistantRule:
    """The shop's rule row for a save, created with the defaults if it has none yet.

    Only the settings page's POST calls it (a GET shows the defaults unsaved and writes nothing); a
    default row is the same rule as none: off, it matches nothing, so it gets no history row.
    """
    rule, _created = AssistantRule.objects.get_or_create(shop=shop)
    return rule


@transaction.atomic
def save_assistant_rule(*, shop: Shop, user, enabled: bool, min_amount, max_amount, couriers) -> AssistantRule:
    """Set the shop's rule and write what was set, and by whom, in its history."""
    permissions.require(user, PermissionSet.INTERCEPTION)
    rule = locks.assistant_rule(shop=shop)
    rule.enabled, rule.min_amount, rule.max_amount = enabled, min_amount, max_amount
    rule.save(update_fields=["enabled", "min_amount", "max_amount", "updated_at"])
    rule.couriers.set(couriers)
    AssistantRuleLog.objects.create(
        rule=rule,
        user=user,
        enabled=enabled,
        min_amount=min_amount,
        max_amount=max_amount,
        couriers=sorted(courier.code for courier in couriers),
        at=timezone.now(),
    )
    return rule
