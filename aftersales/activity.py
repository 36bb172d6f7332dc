"""The after-sales rows of the staff activity (shop.activity): decisions, flags and remarks."""

from shop.activity import Entry, Kind, window

from .models import AfterSale, AfterSaleLog

A = AfterSaleLog.Action
KIND_OF_ACTION = {A.STATUS: Kind.DECISION, A.REFUND: Kind.DECISION, A.FLAG: Kind.FLAG, A.REMARK: Kind.FLAG}


def source(*, shop, user_ids, kinds, since, until, limit):
    actions = [action for action, kind in KIND_OF_ACTION.items() if kind in kinds]
    if not actions:
        return []
    rows = AfterSaleLog.objects.filter(after_sale__shop=shop, user_id__in=user_ids, action__in=actions).values_list(
        "at", "user_id", "action", "to_status", "message", "after_sale__after_sale_no", "id"
    )
    labels, statuses = dict(A.choices), dict(AfterSale.Status.choices)
    for at, user_id, action, to_status, message, after_sale_no, _id in window(
        rows, since=since, until=until, limit=limit
    ):
        what = str(labels[action]) + (f" → {statuses.get(to_status, to_status)}" if to_status else "")
        yield Entry(at, user_id, KIND_OF_ACTION[action], what, after_sale_no, message)
