"""Time as the back office shows it: stored in UTC, shown and cut into days in Asia/Shanghai.

The one definition of the Shanghai zone; every day boundary, local date and local format goes
through these helpers.
"""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.utils import timezone

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_date(moment: datetime) -> date:
    """The calendar day in Shanghai of an aware moment."""
    return timezone.localtime(moment, SHANGHAI).date()


def start_of_day(day: date) -> datetime:
    """Midnight at the start of a calendar day in Shanghai (an aware datetime)."""
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


def end_of_day(day: date) -> datetime:
    """The last representable moment of a calendar day in Shanghai."""
    return datetime.combine(day, time.max, tzinfo=SHANGHAI)


def local_format(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An aware moment written in Shanghai time; "" for None."""
    return timezone.localtime(moment, SHANGHAI).strftime(fmt) if moment else ""
