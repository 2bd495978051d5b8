"""The working-time calendar that time limits are counted in (工作时/工作日), and the urgent clock (紧急工作时).

- Working hours are periods of local time (GRID_WORK_HOURS, default 08:30-12:00 and 13:30-17:30, i.e. 7.5 h a day)
  in GRID_TIMEZONE (default Asia/Shanghai; stored times stay UTC).
- A working day is Monday to Friday, except the dates in GRID_HOLIDAYS, plus the make-up working days in
  GRID_MAKEUP_WORKDAYS (调休: a Saturday or Sunday that is worked). A date in both lists is refused.
- A working day of a time limit is one full day of working hours (7.5 h by default): "3 working days from
  Monday 10:00" ends on Thursday 10:00, and a limit that starts outside working hours starts counting at the next
  working moment (dispatched Friday 20:00 with 2 working hours: due Monday 10:30).
- A limit that ends exactly where a period ends ends there (17:30), not at the start of the next period.
- Urgent categories (TipCategory.urgent, e.g. 涉黑涉恶 and 邪教) count 紧急工作时: the clock runs around the clock,
  24 x 7, holidays included, so 2 urgent hours are 2 hours of wall time and an urgent working day is 24 hours.

Date lists: ISO dates separated by commas, spaces or new lines, `A..B` for an inclusive range, `#` starts a
comment; or the path of a file holding such a list.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_SEARCH_DAYS = 3660
_PERIOD = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_EPOCH = date(2000, 1, 3)  # a Monday: day numbers below count from here


class CalendarError(ValueError):
    """A calendar setting cannot be read; the message names the variable."""


@dataclass(frozen=True)
class WorkCalendar:
    tz: ZoneInfo
    periods: tuple[tuple[int, int], ...]  # seconds after local midnight, [start, end), sorted, disjoint
    holidays: frozenset[date] = frozenset()
    makeup_days: frozenset[date] = frozenset()
    _weekday_holidays: list[int] = field(default_factory=list, compare=False, repr=False)
    _weekend_makeups: list[int] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self):
        self._weekday_holidays.extend(sorted(_ordinal(d) for d in self.holidays if d.weekday() < 5))
        self._weekend_makeups.extend(sorted(_ordinal(d) for d in self.makeup_days if d.weekday() >= 5))

    @property
    def day_seconds(self) -> int:
        return sum(end - start for start, end in self.periods)

    @property
    def day_hours(self) -> float:
        return self.day_seconds / 3600

    def is_workday(self, day: date) -> bool:
        if day in self.makeup_days:
            return True
        return day.weekday() < 5 and day not in self.holidays

    # --- adding time ---------------------------------------------------------------------------------------

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` working hours after `start` (aware datetime); returned in UTC."""
        remaining = hours * 3600.0
        local = start.astimezone(self.tz)
        day = local.date()
        cursor = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        if remaining <= 0:
            return start.astimezone(UTC)
        for _ in range(MAX_SEARCH_DAYS):
            if self.is_workday(day):
                for begin, end in self.periods:
                    if cursor >= end:
                        continue
                    begin = max(begin, cursor)
                    available = end - begin
                    if remaining <= available:
                        return self._at(day, begin + remaining)
                    remaining -= available
                    cursor = end
            day, cursor = day + timedelta(days=1), 0.0
        raise CalendarError(f"no working time within {MAX_SEARCH_DAYS} days of {start.isoformat()}")

    def add(self, start: datetime, hours: float, *, urgent: bool) -> datetime:
        """Working hours on the normal clock, wall-clock hours on the urgent clock."""
        if urgent:
            return (start + timedelta(hours=hours)).astimezone(UTC)
        return self.add_working_hours(start, hours)

    def add_working_days(self, start: datetime, days: float, *, urgent: bool) -> datetime:
        """`days` working days (each a full day of working hours), or `days` x 24 h on the urgent clock."""
        return self.add(start, days * (24.0 if urgent else self.day_hours), urgent=urgent)

    # --- measuring time ------------------------------------------------------------------------------------

    def working_hours_between(self, a: datetime, b: datetime) -> float:
        """Working hours from a to b (negative when b is before a). O(log holidays) per call."""
        return (self._cumulative(b) - self._cumulative(a)) / 3600.0

    def hours_between(self, a: datetime, b: datetime, *, urgent: bool) -> float:
        if urgent:
            return (b - a).total_seconds() / 3600.0
        return self.working_hours_between(a, b)

    def _cumulative(self, moment: datetime) -> float:
        """Working seconds from the calendar's epoch to `moment`."""
        local = moment.astimezone(self.tz)
        day = local.date()
        total = self._workdays_before(day) * self.day_seconds
        if self.is_workday(day):
            now = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
            total += sum(max(0.0, min(end, now) - begin) for begin, end in self.periods)
        return total

    def _workdays_before(self, day: date) -> int:
        """Working days in [epoch, day) (negative for days before the epoch)."""
        n = _ordinal(day)
        weeks, rest = divmod(n, 7)
        weekdays = weeks * 5 + min(rest, 5)
        holidays = bisect.bisect_left(self._weekday_holidays, n) - bisect.bisect_left(self._weekday_holidays, 0)
        makeups = bisect.bisect_left(self._weekend_makeups, n) - bisect.bisect_left(self._weekend_makeups, 0)
        return weekdays - holidays + makeups

    def _at(self, day: date, seconds: float) -> datetime:
        whole = int(seconds)
        micro = round((seconds - whole) * 1e6)
        if micro >= 1_000_000:
            whole, micro = whole + 1, 0
        local = datetime.combine(day, time(0), tzinfo=self.tz) + timedelta(seconds=whole, microseconds=micro)
        return local.astimezone(UTC)


def _ordinal(day: date) -> int:
    return (day - _EPOCH).days


def parse_periods(raw: str, variable: str = "GRID_WORK_HOURS") -> tuple[tuple[int, int], ...]:
    periods = []
    for part in (p.strip() for p in raw.split(",")):
        match = _PERIOD.match(part)
        if not match:
            raise CalendarError(f"{variable}={raw!r}: {part!r} is not HH:MM-HH:MM (e.g. 08:30-12:00,13:30-17:30).")
        h1, m1, h2, m2 = (int(x) for x in match.groups())
        if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2) or (h1 == 24 and m1):
            raise CalendarError(f"{variable}={raw!r}: {part!r} is not a time of day.")
        start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
        if end <= start:
            raise CalendarError(f"{variable}={raw!r}: {part!r} ends before it starts.")
        periods.append((start, end))
    periods.sort()
    for (_, end), (start, _) in zip(periods, periods[1:], strict=False):
        if start < end:
            raise CalendarError(f"{variable}={raw!r}: the periods overlap.")
    return tuple(periods)


def parse_dates(raw: str, variable: str) -> frozenset[date]:
    """ISO dates (and A..B ranges) from the value itself, or from the file it names."""
    text = raw.strip()
    if not text:
        return frozenset()
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        path = Path(text)
        if not path.is_file():
            raise CalendarError(f"{variable}={raw!r} is neither a list of ISO dates nor a readable file.")
        text = path.read_text(encoding="utf-8")
    days: set[date] = set()
    for line in text.splitlines():
        for token in re.split(r"[,\s]+", line.split("#", 1)[0].strip()):
            if token:
                days.update(_dates_of(token, variable))
    return frozenset(days)


def _dates_of(token: str, variable: str) -> list[date]:
    try:
        if ".." in token:
            first, last = (date.fromisoformat(t) for t in token.split("..", 1))
            if last < first or (last - first).days > 366:
                raise CalendarError(f"{variable}: the range {token!r} is reversed or longer than a year.")
            return [first + timedelta(days=i) for i in range((last - first).days + 1)]
        return [date.fromisoformat(token)]
    except ValueError as error:
        if isinstance(error, CalendarError):
            raise
        raise CalendarError(f"{variable}: {token!r} is not an ISO date (YYYY-MM-DD).") from None


def build_calendar(work_hours: str, timezone: str, holidays: str = "", makeup_workdays: str = "") -> WorkCalendar:
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f"GRID_TIMEZONE={timezone!r} is not a time zone name (e.g. Asia/Shanghai).") from None
    periods = parse_periods(work_hours)
    off = parse_dates(holidays, "GRID_HOLIDAYS")
    extra = parse_dates(makeup_workdays, "GRID_MAKEUP_WORKDAYS")
    both = sorted(off & extra)
    if both:
        raise CalendarError(
            f"GRID_HOLIDAYS and GRID_MAKEUP_WORKDAYS both list {', '.join(d.isoformat() for d in both)}."
        )
    return WorkCalendar(tz, periods, off, extra)


@lru_cache(maxsize=16)
def _cached(work_hours: str, timezone: str, holidays: str, makeup_workdays: str, stamp: tuple) -> WorkCalendar:
    return build_calendar(work_hours, timezone, holidays, makeup_workdays)


def calendar_from_settings(settings) -> WorkCalendar:
    """The calendar of these settings (cached; a holiday file is re-read when it changes)."""
    stamp = tuple(_file_stamp(v) for v in (settings.holidays, settings.makeup_workdays))
    return _cached(settings.work_hours, settings.timezone, settings.holidays, settings.makeup_workdays, stamp)


def _file_stamp(value: str):
    text = value.strip()
    if not text or re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return None
    path = Path(text)
    return path.stat().st_mtime_ns if path.is_file() else None
