"""The insights calendar: an ad account's own days, how far back Meta keeps them, and the
jobs a range of days is read in."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Meta keeps insights for 37 months; one day of margin, as the start is computed before the
#: job reaches Meta.
RETENTION_MONTHS = 37
#: Meta's insights best practices (since 2025-06-10): reach "and related fields, such as
#: frequency and cpp" with breakdowns, for start dates more than 13 months back, come from
#: async jobs only, up to 10 a day per ad account. The rule is per day: a job that starts
#: before the boundary is an old-reach job for all its days, so jobs never straddle it.
REACH_HISTORY_MONTHS = 13


def account_today(timezone_name: str | None, now: float) -> date:
    try:
        zone = ZoneInfo(timezone_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.fromtimestamp(now, zone).date()


def windows(since: date, until: date, job_days: int, increment: int,
            split_at: date | None = None) -> list[tuple[date, date]]:
    """[since, until] in consecutive jobs of about `job_days` (whole time increments each);
    with `split_at`, no job holds days on both sides of the first increment starting there."""
    step = max(increment, job_days // increment * increment)
    if split_at is not None and since < split_at <= until:
        whole = -(-(split_at - since).days // increment) * increment
        cut = since + timedelta(days=whole)
        if cut <= until:
            return windows(since, cut - timedelta(days=1), job_days, increment) + \
                windows(cut, until, job_days, increment)
    out = []
    start = since
    while start <= until:
        stop = min(until, start + timedelta(days=step - 1))
        out.append((start, stop))
        start = stop + timedelta(days=1)
    return out


def old_reach_before(today: date) -> date:
    """The first day whose reach with breakdowns is not "more than 13 months back"."""
    return months_before(today, REACH_HISTORY_MONTHS)


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier (the month's last day where it has fewer)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    last_day = (date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month + 1, min(day.day, last_day))
