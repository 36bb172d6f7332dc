"""Writes on after-sales, by actor: `buyer`, `merchant`, `platform` (the parcel's news, interceptions),
`timeouts` (the platform acting on overdue after-sales, one or a chunk) and `operators` (the admin).
Views, admin actions, the events API and tasks all call these, as `services.<name>`.

Lock, then check, then write: the locks are in `aftersales.locks` (lock order written there once),
the history row, versioned save, status transition and refund every write shares in `base`.
"""

from shop.errors import DomainError, NotFound

from ..locks import lock_after_sale, lock_after_sale_by_no, lock_after_sales
from .buyer import application_facts, apply_for_after_sale, cancel_after_sale, record_return_shipped
from .merchant import (
    action_facts,
    agree_refund,
    agree_return,
    confirm_receipt_and_refund,
    flag_and_remark,
    pay_small_amount,
    reject_after_sale,
    send_after_sale_card,
)
from .operators import decide_arbitration, escalate_to_arbitration
from .platform import PARCEL_RESOLUTIONS, react_to_parcel_status, refund_after_interception
from .timeouts import ChunkResult, time_out_after_sale, time_out_after_sales

__all__ = [
    "PARCEL_RESOLUTIONS",
    "ChunkResult",
    "DomainError",
    "NotFound",
    "action_facts",
    "agree_refund",
    "agree_return",
    "application_facts",
    "apply_for_after_sale",
    "cancel_after_sale",
    "confirm_receipt_and_refund",
    "decide_arbitration",
    "escalate_to_arbitration",
    "flag_and_remark",
    "lock_after_sale",
    "lock_after_sale_by_no",
    "lock_after_sales",
    "pay_small_amount",
    "react_to_parcel_status",
    "record_return_shipped",
    "refund_after_interception",
    "reject_after_sale",
    "send_after_sale_card",
    "time_out_after_sale",
    "time_out_after_sales",
]
