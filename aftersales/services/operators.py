"""Platform operators' writes (the admin actions): escalate to arbitration and decide it."""

from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from shop.errors import DomainError

from .. import locks, notifications
from ..models import Actor, AfterSale
from . import base

S = AfterSale.Status


@transaction.atomic
def escalate_to_arbitration(*, after_sale_id: int, user, note: str = "", at: datetime | None = None) -> AfterSale:
    """Platform intervention (平台介入): operators will decide. No merchant deadline runs meanwhile."""
    after_sale = locks.lock_after_sale(after_sale_id)
    base.transition(
        after_sale,
        S.ARBITRATION,
        actor=Actor.OPERATOR,
        user=user,
        message=note or _("Escalated to platform arbitration"),
        deadline=None,
        at=at,
    )
    return after_sale


@transaction.atomic
def decide_arbitration(
    *, after_sale_id: int, user, refund: bool, note: str = "", at: datetime | None = None
) -> AfterSale:
    """An operator's ruling on an after-sale in arbitration: refund the buyer, or reject for the merchant."""
    after_sale = locks.lock_after_sale(after_sale_id)
    if after_sale.status != S.ARBITRATION:
        raise DomainError(
            _("After-sale %(no)s is “%(status)s”, not in platform arbitration: nothing was done.")
            % {"no": after_sale.after_sale_no, "status": after_sale.get_status_display()},
            code="invalid_transition",
        )
    if refund:
        if after_sale.line.refundable_amount <= 0:
            raise DomainError(
                _("Nothing is left to refund on the line of after-sale %(no)s.") % {"no": after_sale.after_sale_no},
                code="nothing_refundable",
            )
        base.refund(
            after_sale, actor=Actor.OPERATOR, user=user, at=at, reason=note or _("Platform arbitration: refund")
        )
    else:
        message = note or _("Platform arbitration: rejected")
        base.transition(after_sale, S.REJECTED, actor=Actor.OPERATOR, user=user, at=at, message=message)
        notifications.notify_buyer(after_sale, "rejected", at=at, reason=str(message), note=note)
    return after_sale
