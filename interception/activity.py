"""The interception rows of the staff activity (shop.activity): launches, partnerships, the assistant rule."""

import heapq

from django.utils.translation import gettext as _

from shop.activity import Entry, Kind, window

from .models import AssistantRuleLog, Partnership, PartnershipLog, ServiceOrderLog


def source(*, shop, user_ids, kinds, since, until, limit):
    streams = []
    if Kind.INTERCEPTION in kinds:
        launched = ServiceOrderLog.objects.filter(
            service_order__shop=shop, user_id__in=user_ids, from_status=""
        ).values_list("at", "user_id", "service_order__parcel__tracking_no", "message", "id")
        streams.append(
            Entry(at, user_id, Kind.INTERCEPTION, _("interception launched"), tracking_no, message)
            for at, user_id, tracking_no, message, _id in window(launched, since=since, until=until, limit=limit)
        )
    if Kind.SETTINGS in kinds:
        statuses = dict(Partnership.Status.choices)
        partnerships = PartnershipLog.objects.filter(partnership__shop=shop, user_id__in=user_ids).values_list(
            "at", "user_id", "to_status", "partnership__outlet__code", "note", "id"
        )
        streams.append(
            Entry(
                at, user_id, Kind.SETTINGS, _("partnership → %(status)s") % {"status": statuses.get(to, to)}, code, note
            )
            for at, user_id, to, code, note, _id in window(partnerships, since=since, until=until, limit=limit)
        )
        rules = AssistantRuleLog.objects.filter(rule__shop=shop, user_id__in=user_ids).values_list(
            "at", "user_id", "enabled", "min_amount", "max_amount", "id"
        )
        streams.append(
            Entry(
                at,
                user_id,
                Kind.SETTINGS,
                _("assistant rule saved"),
                _("on") if enabled else _("off"),
                f"{low}–{high}",
            )
            for at, user_id, enabled, low, high, _id in window(rules, since=since, until=until, limit=limit)
        )
    return heapq.merge(*streams, key=lambda entry: entry.at, reverse=True)
