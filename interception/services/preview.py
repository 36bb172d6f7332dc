"""The preview of a launch: what it will cost (fees and the refunds success pays), per courier and in
total, and its warnings, each with its after-sales and whether the merchant left them out.

Reads only; the launch checks it all again on the locked rows (launch.launch_with_warnings).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from shop.models import Shop

from .. import rules
from .launch import Candidate, add_warnings, candidates_for

ZERO = Decimal("0.00")


@dataclass
class WarningGroup:
    """One warning of the preview: its code, its words, the after-sales it concerns."""

    code: str
    label: str
    candidates: list[Candidate] = field(default_factory=list)
    left_out: bool = False  # the merchant chose "leave these out" (a refused parcel is always out)
    leavable: bool = True

    @property
    def count(self) -> int:
        return len(self.candidates)

    @property
    def after_sale_nos(self) -> list[str]:
        return [c.after_sale.after_sale_no for c in self.candidates]


def warning_groups(candidates: list[Candidate], *, leave_out: frozenset[str]) -> list[WarningGroup]:
    """The warnings that concern at least one candidate, in rules.WARNING_CODES order.

    A leavable warning counts the launchable candidates that carry it; the pre-check's, the refused ones.
    """
    groups = {
        code: WarningGroup(
            code=code,
            label=rules.warning_label(code),
            left_out=code in leave_out or code not in rules.LEAVABLE_WARNING_CODES,
            leavable=code in rules.LEAVABLE_WARNING_CODES,
        )
        for code in rules.WARNING_CODES
    }
    refused = rules.LaunchWarning.PRECHECK_REFUSED
    for candidate in candidates:
        if not candidate.ok:  # refused now, also when the launch's re-check found another reason since
            groups[refused].candidates.append(candidate)
            continue
        for code in candidate.warnings:
            if code != refused:
                groups[code].candidates.append(candidate)
    return [group for group in groups.values() if group.count]


@dataclass
class Preview:
    candidates: list[Candidate]
    kept: list[Candidate]  # what the confirm launches
    left_out: list[Candidate]  # launchable, but carrying a warning the merchant left out
    refused: list[Candidate]
    warnings: list[WarningGroup]
    leave_out: frozenset[str]

    @property
    def groups(self) -> list[dict]:
        """Per courier and settlement mode: parcels, fees and the refunds success pays."""
        groups: dict[tuple, dict] = defaultdict(lambda: {"count": 0, "fee": ZERO, "refund": ZERO, "items": []})
        for candidate in self.kept:
            courier = candidate.parcel.courier
            group = groups[(courier.code, courier.name, candidate.fee.mode)]
            group["count"] += 1
            group["fee"] += candidate.fee.amount
            group["refund"] += candidate.refund
            group["items"].append(candidate)
        return [
            {"code": code, "courier": name, "mode": mode, **values}
            for (code, name, mode), values in sorted(groups.items())
        ]

    @property
    def total_fee(self) -> Decimal:
        return sum((c.fee.amount for c in self.kept), ZERO)

    @property
    def total_refund(self) -> Decimal:
        return sum((c.refund for c in self.kept), ZERO)


def preview_of(candidates: list[Candidate], *, leave_out: frozenset[str] = frozenset()) -> Preview:
    """Split candidates whose warnings are filled (launch.add_warnings) into kept, left out and refused."""
    leave_out = frozenset(leave_out) & rules.LEAVABLE_WARNING_CODES
    kept, left_out, refused = [], [], []
    for candidate in candidates:
        if not candidate.ok:
            refused.append(candidate)
        elif leave_out.intersection(candidate.warnings):
            left_out.append(candidate)
        else:
            kept.append(candidate)
    return Preview(
        candidates=candidates,
        kept=kept,
        left_out=left_out,
        refused=refused,
        warnings=warning_groups(candidates, leave_out=leave_out),
        leave_out=leave_out,
    )


def preview_launch(
    *,
    shop: Shop,
    after_sale_ids: list[int],
    leave_out: frozenset[str] = frozenset(),
    precheck: bool = True,
    now: datetime | None = None,
) -> Preview:
    """The preview of launching interceptions for these after-sales of the shop. Fixed query count:
    the after-sales with their history flags, the partnerships, the buyers' abuse hint."""
    candidates = candidates_for(shop=shop, after_sale_ids=after_sale_ids, precheck=precheck, history=True)
    add_warnings(candidates, shop=shop, now=now or timezone.now())
    return preview_of(candidates, leave_out=leave_out)
