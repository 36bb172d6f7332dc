"""Calendar months in Asia/Shanghai: the period of a statement and of the fee ledger's rows.

Pure functions, no database. A fee charge belongs to the month of its `charged_at`, read in
Asia/Shanghai; a month is written as the date of its first day.
"""

from datetime import date, datetime, time

from django.utils import timezone

from shop.localtime import SHANGHAI


def month_of(moment: datetime) -> date:
    """The first day of the Asia/Shanghai calendar month of an aware datetime."""
    local = timezone.localtime(moment, SHANGHAI)
    return date(local.year, local.month, 1)


def current_month(now: datetime | None = None) -> date:
    return month_of(now or timezone.now())


def add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_start(month: date) -> datetime:
    """Midnight of the month's first day in Asia/Shanghai (aware)."""
    return datetime.combine(date(month.year, month.month, 1), time.min, tzinfo=SHANGHAI)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[start, end) of the month as aware datetimes."""
    return month_start(month), month_start(add_months(month, 1))
