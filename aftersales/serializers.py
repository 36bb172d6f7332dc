"""The after-sale object of platform-api.md."""

from django.utils import timezone

from .models import AfterSale


def after_sale_json(after_sale: AfterSale) -> dict:
    deadline = after_sale.deadline
    return {
        "after_sale_no": after_sale.after_sale_no,
        "order_no": after_sale.order.order_no,
        "line_no": after_sale.line.line_no,
        "type": after_sale.type,
        "status": after_sale.status,
        "amount": f"{after_sale.amount:.2f}",
        "sequence": after_sale.sequence,
        "multi_refund": after_sale.multi_refund,
        "deadline": timezone.localtime(deadline).isoformat() if deadline and after_sale.is_open else None,
        "refunded_amount": f"{after_sale.refunded_amount:.2f}",
    }
