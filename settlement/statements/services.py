"""Offline statements per shop × outlet × month: gather the lines, close the month, answer, settle.

Status flow (every move through `_transition`, which refuses illegal ones and writes the history):

    open ──close month──▶ issued ──outlet confirms──▶ confirmed ──merchant records payment──▶ settled
                            │  ▲
              outlet disputes  merchant reissues (after sorting the dispute out with the outlet)
                            ▼  │
                          disputed

Lines are snapshots of the month's offline fee charges (one fee charge is on at most one statement:
the one-to-one `StatementLine.fee_charge` makes gathering idempotent). Months are calendar months in
Asia/Shanghai. A fee charge whose own month is already closed (the carrier reported a success late)
is carried over to the next open statement of the same shop and outlet, so that no fee is lost.

Services lock the statement row, check, then write; totals are recomputed from the lines under the lock.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from interception.models import FeeCharge, ServiceOrder
from shop import permissions
from shop.errors import DomainError
from shop.models import Outlet, Shop
from shop.permissions import PermissionSet

from .. import locks
from . import reconciliation
from .models import (
    NOTE_MAX_LENGTH,
    REFERENCE_MAX_LENGTH,
    Reconciliation,
    ReconciliationRow,
    Statement,
    StatementLine,
    StatementLog,
)

# The months are the statements' calendar: callers reach them here too (`statements.current_month()`).
from .rules import add_months, current_month, month_bounds, month_of, month_start  # noqa: F401

ST = Statement.Status
OFFLINE = ServiceOrder.Mode.OFFLINE


# --- history ---------------------------------------------------------------------------------------


def _log(statement: Statement, from_status: str, to_status: str, user, note: str = "", at=None) -> None:
    StatementLog.objects.create(
        statement=statement,
        from_status=from_status,
        to_status=to_status,
        user=user,
        note=note[:NOTE_MAX_LENGTH],
        at=at or timezone.now(),
    )


def _transition(statement: Statement, to_status: str, *, user, note: str = "", fields=(), at=None) -> None:
    """Move a locked statement to `to_status`, saving `fields` with it, and write the history row."""
    current = statement.status
    if to_status not in Statement.TRANSITIONS[current]:
        raise DomainError(
            _("A statement that is %(current)s cannot become %(target)s.")
            % {"current": ST(current).label, "target": ST(to_status).label},
            code="invalid_transition",
        )
    statement.status = to_status
    statement.save(update_fields=["status", *fields])
    _log(statement, current, to_status, user, note, at=at)


# --- gathering the lines ---------------------------------------------------------------------------


def _unlined_offline_charges():
    return FeeCharge.objects.filter(mode=OFFLINE).exclude(
        Exists(StatementLine.objects.filter(fee_charge=OuterRef("pk")))
    )


def _charges_for(statement: Statement) -> list[FeeCharge]:
    """Offline fee charges of the statement's shop and outlet that belong on it and are on no statement.

    Those of its month, and earlier ones whose own month's statement was already issued (reported late).
    An earlier charge whose month has no statement yet waits for that month's own statement.
    """
    start, end = month_bounds(statement.month)
    candidates = list(
        _unlined_offline_charges()
        .filter(shop_id=statement.shop_id, outlet_id=statement.outlet_id, charged_at__lt=end)
        .select_related("service_order__parcel")
        .order_by("charged_at", "id")
    )
    earlier_months = {month_of(c.charged_at) for c in candidates if c.charged_at < start}
    closed = set(
        Statement.objects.filter(shop_id=statement.shop_id, outlet_id=statement.outlet_id, month__in=earlier_months)
        .exclude(status=ST.OPEN)
        .values_list("month", flat=True)
    )
    return [c for c in candidates if c.charged_at >= start or month_of(c.charged_at) in closed]


def months_with_unlined_fees(*, before: date) -> set[date]:
    """Months before `before` with offline fee charges on no statement (their close is still to run)."""
    moments = _unlined_offline_charges().filter(charged_at__lt=month_start(before)).values_list("charged_at", flat=True)
    return {month_of(moment) for moment in moments.iterator()}


def _recount(statement: Statement) -> None:
    """line_count and total from the lines themselves (the caller holds the statement's lock)."""
    figures = StatementLine.objects.filter(statement=statement).aggregate(count=Count("id"), total=Sum("amount"))
    statement.line_count = figures["count"]
    statement.total = figures["total"] or Decimal("0.00")
    statement.save(update_fields=["line_count", "total"])


def _get_or_open(*, shop_id: int, outlet_id: int, month: date, at: datetime) -> Statement:
    statement = Statement.objects.filter(shop_id=shop_id, outlet_id=outlet_id, month=month).first()
    if statement is not None:
        return statement
    try:
        with transaction.atomic():
            statement = Statement.objects.create(shop_id=shop_id, outlet_id=outlet_id, month=month, created_at=at)
    except IntegrityError:  # opened meanwhile by a concurrent refresh
        return Statement.objects.get(shop_id=shop_id, outlet_id=outlet_id, month=month)
    _log(statement, "", ST.OPEN, None, _("Opened with the month's first offline interception"), at=at)
    return statement


@transaction.atomic
def refresh_open_statement(*, shop: Shop, outlet: Outlet, month: date, at: datetime | None = None) -> Statement | None:
    """Add the month's new offline fee charges to the open statement of shop × outlet (opening it if need be).

    Safe to run any number of times: a fee charge is never on two statements. A statement that is no
    longer open is left as it is (its late charges go to the next open one); returns None when there is
    nothing to gather and no statement yet.
    """
    month = date(month.year, month.month, 1)
    if not Statement.objects.filter(shop=shop, outlet=outlet, month=month).exists():
        if not _charges_for(Statement(shop=shop, outlet=outlet, month=month)):
            return None  # nothing to gather: no empty statement is opened
    opened = _get_or_open(shop_id=shop.pk, outlet_id=outlet.pk, month=month, at=at or timezone.now())
    statement = locks.statement(opened.pk)
    if statement.status != ST.OPEN:
        return statement
    charges = _charges_for(statement)
    if charges:
        StatementLine.objects.bulk_create(
            [
                StatementLine(
                    statement=statement,
                    fee_charge=charge,
                    service_order_id=charge.service_order_id,
                    tracking_no=charge.service_order.parcel.tracking_no,
                    amount=charge.amount,
                    succeeded_at=charge.charged_at,
                )
                for charge in charges
            ],
            ignore_conflicts=True,  # a concurrent refresh of another open statement took it first
        )
        _recount(statement)
    return statement


def _pairs_for_month(month: date, shop: Shop | None = None) -> list[tuple[int, int]]:
    """(shop id, outlet id) with offline charges in the month, or unlined ones from before it."""
    start, end = month_bounds(month)
    charges = FeeCharge.objects.filter(mode=OFFLINE)
    if shop is not None:
        charges = charges.filter(shop=shop)
    in_month = charges.filter(charged_at__gte=start, charged_at__lt=end)
    late = _unlined_offline_charges().filter(charged_at__lt=start)
    if shop is not None:
        late = late.filter(shop=shop)
    pairs = set(in_month.values_list("shop_id", "outlet_id").distinct())
    pairs |= set(late.values_list("shop_id", "outlet_id").distinct())
    return sorted(pairs)


def build_statements_for_month(*, month: date, shop: Shop | None = None, at: datetime | None = None) -> list[Statement]:
    """Refresh (or open) the month's statement of every shop × outlet with offline fees; one transaction each."""
    month = date(month.year, month.month, 1)
    pairs = _pairs_for_month(month, shop)
    shops = Shop.objects.in_bulk({shop_id for shop_id, _outlet_id in pairs})
    outlets = Outlet.objects.in_bulk({outlet_id for _shop_id, outlet_id in pairs})
    statements = []
    for shop_id, outlet_id in pairs:
        statement = refresh_open_statement(shop=shops[shop_id], outlet=outlets[outlet_id], month=month, at=at)
        if statement is not None:
            statements.append(statement)
    return statements


def refresh_current_statements(*, shop: Shop | None = None, now: datetime | None = None) -> int:
    """The running month's statements brought up to date (hourly task, and the merchant's button)."""
    return len(build_statements_for_month(month=current_month(now), shop=shop, at=now))


@transaction.atomic
def issue_statement(*, statement_id: int, user=None, now: datetime | None = None) -> Statement:
    """Close one open statement of a past month: gather its last lines, then issue it to both sides."""
    now = now or timezone.now()
    statement = locks.statement(statement_id)
    if statement.status != ST.OPEN:
        raise DomainError(_("Only an open statement can be issued."), code="invalid_transition")
    if statement.month >= current_month(now):
        raise DomainError(_("A statement can be issued only once its month is over."), code="month_running")
    refresh_open_statement(shop=statement.shop, outlet=statement.outlet, month=statement.month, at=now)
    statement.refresh_from_db()
    statement.issued_at = now
    _transition(statement, ST.ISSUED, user=user, note=_("Month closed"), fields=["issued_at"], at=now)
    return statement


def close_month(*, month: date, user=None, now: datetime | None = None) -> int:
    """Issue every statement of a past month: lines gathered first, then each open one issued.

    Returns how many were issued. Running it again issues nothing more (and refuses a running month).
    """
    now = now or timezone.now()
    month = date(month.year, month.month, 1)
    if month >= current_month(now):
        raise DomainError(
            _("%(month)s is not over yet: only a past month can be closed.") % {"month": f"{month:%Y-%m}"},
            code="month_running",
        )
    build_statements_for_month(month=month, at=now)
    issued = 0
    for statement_id in Statement.objects.filter(month=month, status=ST.OPEN).values_list("pk", flat=True):
        try:
            issue_statement(statement_id=statement_id, user=user, now=now)
        except DomainError:
            continue  # issued meanwhile by another run
        issued += 1
    return issued


# --- answers and payment ---------------------------------------------------------------------------


@transaction.atomic
def confirm_statement(
    *, statement_id: int, outlet: Outlet, user, note: str = "", at: datetime | None = None
) -> Statement:
    """The outlet agrees with an issued statement."""
    permissions.require(user, PermissionSet.OUTLET_SETTLEMENT)
    statement = locks.statement(statement_id, outlet=outlet)
    statement.answered_at = at or timezone.now()
    _transition(statement, ST.CONFIRMED, user=user, note=note.strip(), fields=["answered_at"], at=statement.answered_at)
    return statement


@transaction.atomic
def dispute_statement(*, statement_id: int, outlet: Outlet, user, note: str, at: datetime | None = None) -> Statement:
    """The outlet disagrees with an issued statement and says why (the merchant sees the note)."""
    permissions.require(user, PermissionSet.OUTLET_SETTLEMENT)
    note = note.strip()
    if not note:
        raise DomainError(_("Say what is wrong with the statement."), code="note_required")
    statement = locks.statement(statement_id, outlet=outlet)
    statement.answered_at, statement.dispute_note = at or timezone.now(), note[:NOTE_MAX_LENGTH]
    _transition(
        statement, ST.DISPUTED, user=user, note=note, fields=["answered_at", "dispute_note"], at=statement.answered_at
    )
    return statement


@transaction.atomic
def reissue_statement(*, statement_id: int, shop: Shop, user, note: str, at: datetime | None = None) -> Statement:
    """The merchant sends a disputed statement back to the outlet, saying how the dispute was settled."""
    permissions.require(user, PermissionSet.SETTLEMENT)
    note = note.strip()
    if not note:
        raise DomainError(_("Say how the dispute was sorted out."), code="note_required")
    statement = locks.statement(statement_id, shop=shop)
    if statement.status != ST.DISPUTED:
        raise DomainError(_("Only a disputed statement can be sent back to the outlet."), code="invalid_transition")
    statement.answered_at = None  # waiting for the outlet's answer again
    _transition(statement, ST.ISSUED, user=user, note=note, fields=["answered_at"], at=at)
    return statement


@transaction.atomic
def record_payment(
    *, statement_id: int, shop: Shop, user, reference: str, amount: Decimal, at: datetime | None = None
) -> Statement:
    """The merchant paid a confirmed statement offline: its reference and amount (the confirmed total)."""
    permissions.require(user, PermissionSet.SETTLEMENT)
    reference = reference.strip()
    if not reference:
        raise DomainError(_("Enter the payment reference."), code="reference_required")
    statement = locks.statement(statement_id, shop=shop)
    if statement.status != ST.CONFIRMED:
        raise DomainError(_("Only a statement the outlet has confirmed can be settled."), code="invalid_transition")
    if amount != statement.total:
        raise DomainError(
            _("The amount paid must be the confirmed total, %(total)s yuan.") % {"total": f"{statement.total:.2f}"},
            code="amount",
        )
    statement.payment_reference = reference[:REFERENCE_MAX_LENGTH]
    statement.paid_amount, statement.settled_at = amount, at or timezone.now()
    _transition(
        statement,
        ST.SETTLED,
        at=statement.settled_at,
        user=user,
        note=_("Paid %(amount)s yuan, reference %(reference)s") % {"amount": f"{amount:.2f}", "reference": reference},
        fields=["payment_reference", "paid_amount", "settled_at"],
    )
    return statement


# --- reconciliation --------------------------------------------------------------------------------


@transaction.atomic
def reconcile_statement(
    *, statement_id: int, shop: Shop, user, file_name: str, bill_lines, at: datetime | None = None
) -> Reconciliation:
    """Match a bill (already read and valid) against the statement's lines and keep the result.

    The bill is read before this is called (`reconciliation.read_bill`): an unreadable file never
    gets here, so nothing of it is stored.
    """
    permissions.require(user, PermissionSet.SETTLEMENT)
    statement = locks.statement(statement_id, shop=shop)
    ours = [
        reconciliation.OurLine(tracking_no=t, amount=a) for t, a in statement.lines.values_list("tracking_no", "amount")
    ]
    result = reconciliation.match(bill_lines=bill_lines, our_lines=ours)
    record = Reconciliation.objects.create(
        statement=statement,
        uploaded_by=user,
        file_name=file_name[:200],
        summary=result.summary(),
        created_at=at or timezone.now(),
    )
    ReconciliationRow.objects.bulk_create(
        ReconciliationRow(
            reconciliation=record,
            kind=row.kind,
            tracking_no=row.tracking_no[:64],
            billed_fee=row.billed_fee,
            our_fee=row.our_fee,
            bill_line=row.bill_line,
        )
        for row in result.rows
    )
    return record
