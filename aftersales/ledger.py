"""The refund ledger: the only code that moves money back to a buyer.

A refund is one append-only RefundEntry plus guarded increments of the line's, the order's and the
after-sale's refunded counters. Each increment is an `UPDATE … WHERE refunded + amount <= paid`;
if any matches no row the whole refund is refused, and CHECK constraints on the three tables are
the last line behind it. Callers hold the order → line → after-sale row locks already.
"""

from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from shop.errors import DomainError
from shop.models import Order, OrderLine

from .models import AfterSale, RefundEntry


@transaction.atomic  # a savepoint: a refused refund leaves no half-moved counter behind
def record_refund(
    *,
    line: OrderLine,
    after_sale: AfterSale | None,
    kind: str,
    amount: Decimal,
    actor: str,
    user=None,
    reason: str = "",
    idempotency_key: str,
) -> RefundEntry:
    """Pay `amount` back on `line`. The same idempotency key twice records one refund."""
    existing = RefundEntry.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    if amount <= 0:
        raise DomainError(_("A refund must be more than 0.00 yuan."), code="invalid_amount")
    moved = OrderLine.objects.filter(pk=line.pk, refunded_amount__lte=F("paid_amount") - amount).update(
        refunded_amount=F("refunded_amount") + amount
    )
    if moved:
        moved = Order.objects.filter(pk=line.order_id, refunded_amount__lte=F("paid_amount") - amount).update(
            refunded_amount=F("refunded_amount") + amount
        )
    if moved and after_sale is not None:
        moved = AfterSale.objects.filter(pk=after_sale.pk, refunded_amount__lte=F("amount") - amount).update(
            refunded_amount=F("refunded_amount") + amount
        )
    if not moved:
        # Nothing was written that survives: the caller's transaction rolls back with this error.
        raise DomainError(
            _("Refusing to refund %(amount)s yuan: refunds would exceed what the buyer paid.")
            % {"amount": f"{amount:.2f}"},
            code="amount_exceeds_refundable",
        )
    line.refresh_from_db(fields=["refunded_amount"])
    if after_sale is not None:
        after_sale.refresh_from_db(fields=["refunded_amount"])
    return RefundEntry.objects.create(
        shop_id=line.order.shop_id,
        order_id=line.order_id,
        line=line,
        after_sale=after_sale,
        kind=kind,
        amount=amount,
        actor=actor,
        user=user,
        reason=reason[:200],
        idempotency_key=idempotency_key,
    )
