"""Dates and times on the command line: naive values are in the gallery's time zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import click


def parse_day(value: str, option: str) -> date:
    """``YYYY-MM-DD`` or a one-line usage error naming ``option``."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date: use YYYY-MM-DD",
                                 param_hint=option) from None


def parse_moment(value: str, option: str, tz: str) -> datetime:
    """An ISO date-time (``2026-11-30T08:00``, ``2026-11-30 08:00+01:00``, a bare date);
    without an offset, in ``tz``."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a time: use YYYY-MM-DD[THH:MM[:SS]][+HH:MM]",
                                 param_hint=option) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo(tz))


def parse_range(day: str | None, since: str | None, until: str | None,
                tz: str) -> tuple[date | None, datetime | None, datetime | None]:
    """Exactly ``--date`` or both ``--since`` and ``--until``; the range must not be empty."""
    if day is not None:
        if since is not None or until is not None:
            raise click.UsageError("give --date, or --since with --until, not both")
        return parse_day(day, "--date"), None, None
    if since is None or until is None:
        raise click.UsageError("give --date YYYY-MM-DD, or both --since and --until")
    start = parse_moment(since, "--since", tz)
    end = parse_moment(until, "--until", tz)
    if end <= start:
        raise click.UsageError(f"--until ({until}) must be after --since ({since})")
    return None, start, end
