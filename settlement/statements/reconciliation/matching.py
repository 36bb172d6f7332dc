"""Matching a bill against the statement's lines, by tracking number. Pure functions, no database."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from ..models import ReconciliationRow
from .bills import BillLine, tracking_text

KIND = ReconciliationRow.Kind


@dataclass(frozen=True)
class OurLine:
    tracking_no: str
    amount: Decimal


@dataclass(frozen=True)
class Row:
    kind: str
    tracking_no: str
    billed_fee: Decimal | None
    our_fee: Decimal | None
    bill_line: int | None


@dataclass(frozen=True)
class KindTotals:
    count: int = 0
    billed: Decimal = Decimal("0.00")
    ours: Decimal = Decimal("0.00")


@dataclass
class MatchResult:
    rows: list[Row] = field(default_factory=list)

    def totals(self) -> dict[str, KindTotals]:
        """Count, billed and our total per kind, every kind present (zero when none)."""
        totals = {kind: KindTotals() for kind in KIND.values}
        for row in self.rows:
            current = totals[row.kind]
            totals[row.kind] = KindTotals(
                count=current.count + 1,
                billed=current.billed + (row.billed_fee or 0),
                ours=current.ours + (row.our_fee or 0),
            )
        return totals

    def summary(self) -> dict:
        """What the Reconciliation row keeps (JSON: amounts as "0.00" strings)."""
        totals = self.totals()
        billed = sum((t.billed for t in totals.values()), Decimal("0.00"))
        ours = sum((t.ours for t in totals.values()), Decimal("0.00"))
        return {
            "bill_lines": sum(1 for row in self.rows if row.bill_line is not None),
            "bill_total": f"{billed:.2f}",
            "our_lines": sum(1 for row in self.rows if row.our_fee is not None),
            "our_total": f"{ours:.2f}",
            "difference": f"{billed - ours:.2f}",
            "kinds": {
                kind: {
                    "count": t.count,
                    "billed": f"{t.billed:.2f}",
                    "ours": f"{t.ours:.2f}",
                    "difference": f"{t.billed - t.ours:.2f}",
                }
                for kind, t in totals.items()
            },
        }


def match(*, bill_lines: Iterable[BillLine], our_lines: Iterable[OurLine]) -> MatchResult:
    """Each bill line against our lines by tracking number, in bill order.

    The n-th time the bill names a tracking number pairs with our n-th line of it (there is normally
    one): same fee → matched, else fee differs. A bill line with no line of ours left is "billed twice"
    when the bill named that number before, else "not ours / not intercepted". Our lines the bill never
    named are "not billed".
    """
    ours: dict[str, list[OurLine]] = defaultdict(list)
    for line in our_lines:
        ours[tracking_text(line.tracking_no)].append(line)
    named: dict[str, int] = defaultdict(int)
    rows: list[Row] = []
    for bill in bill_lines:
        key = tracking_text(bill.tracking_no)
        seen = named[key]
        named[key] += 1
        candidates = ours.get(key, [])
        if seen < len(candidates):
            our = candidates[seen]
            kind = KIND.MATCHED if our.amount == bill.fee else KIND.FEE_DIFFERS
            rows.append(Row(kind, bill.tracking_no, bill.fee, our.amount, bill.line))
        else:
            kind = KIND.BILLED_TWICE if seen else KIND.NOT_OURS
            rows.append(Row(kind, bill.tracking_no, bill.fee, None, bill.line))
    for key, lines in ours.items():
        for our in lines[named.get(key, 0) :]:
            rows.append(Row(KIND.NOT_BILLED, our.tracking_no, None, our.amount, None))
    return MatchResult(rows=rows)
