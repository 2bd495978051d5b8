"""The working-time calendar: weekends, holidays, make-up working Saturdays (调休), lunch, the urgent clock.

Every expected moment below was worked out by hand from the rules in server/workflow/calendar.py (working hours
08:30-12:00 and 13:30-17:30, Asia/Shanghai), not by running the code.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.config import ConfigError, load_settings
from server.workflow.calendar import CalendarError, build_calendar, parse_dates
from tests.workflow.helpers import local

HOURS = "08:30-12:00,13:30-17:30"
# New Year 2027 as a test case: Thu 31 Dec and Fri 1 Jan off, Saturday 2 Jan worked instead.
CAL = build_calendar(HOURS, "Asia/Shanghai", "2026-12-31..2027-01-01", "2027-01-02")
PLAIN = build_calendar(HOURS, "Asia/Shanghai")


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        ("2026-12-07 09:00", 2, "2026-12-07 11:00"),  # Monday morning
        ("2026-12-07 11:00", 2, "2026-12-07 14:30"),  # across lunch: 1 h before, 1 h after 13:30
        ("2026-12-07 08:30", 3.5, "2026-12-07 12:00"),  # ends exactly when the period ends
        ("2026-12-07 06:00", 1, "2026-12-07 09:30"),  # before hours: counts from 08:30
        ("2026-12-04 16:00", 8, "2026-12-07 16:30"),  # Friday: 1.5 h, weekend, Monday 6.5 h
        ("2026-12-04 20:00", 2, "2026-12-07 10:30"),  # dispatched Friday night: Monday 10:30
        ("2026-12-05 10:00", 2, "2026-12-07 10:30"),  # dispatched on a Saturday
        ("2026-12-07 10:00", 7.5 * 3, "2026-12-10 10:00"),  # 3 working days: same time Thursday
    ],
)
def test_working_hours_on_an_ordinary_week(start, hours, due):
    assert PLAIN.add_working_hours(local(start), hours) == local(due)


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        ("2026-12-30 16:00", 8, "2027-01-02 16:30"),  # Wed 1.5 h, holiday Thu+Fri, make-up Saturday 6.5 h
        ("2026-12-30 16:00", 6, "2027-01-02 14:30"),  # the 75 % early warning of that window
        ("2026-12-30 17:30", 1, "2027-01-02 09:30"),  # Wednesday closing time: next working time is Saturday
        ("2027-01-02 16:30", 8, "2027-01-04 17:00"),  # Saturday 1 h, Sunday off, Monday 7 h
        ("2027-01-04 17:00", 8, "2027-01-05 17:30"),  # Monday 0.5 h, then all of Tuesday (ends at 17:30)
        ("2026-12-30 16:00", 75, "2027-01-14 16:00"),  # 10 working days: Sat 2, Mon 4 .. Thu 14
    ],
)
def test_holidays_and_make_up_saturdays(start, hours, due):
    assert CAL.add_working_hours(local(start), hours) == local(due)


def test_which_days_are_working_days():
    assert not CAL.is_workday(local("2026-12-31 10:00").date())  # holiday (a Thursday)
    assert not CAL.is_workday(local("2027-01-01 10:00").date())  # holiday (a Friday)
    assert CAL.is_workday(local("2027-01-02 10:00").date())  # make-up Saturday
    assert not CAL.is_workday(local("2027-01-03 10:00").date())  # Sunday
    assert PLAIN.is_workday(local("2026-12-31 10:00").date()) and not PLAIN.is_workday(local("2027-01-02 10:00").date())
    assert CAL.day_hours == 7.5


def test_the_urgent_clock_runs_around_the_clock():
    start = local("2026-12-04 20:00")  # Friday night
    assert CAL.add(start, 2, urgent=True) == local("2026-12-04 22:00")
    assert CAL.add_working_days(start, 10, urgent=True) == local("2026-12-14 20:00")
    assert CAL.add(local("2026-12-31 23:00"), 2, urgent=True) == local("2027-01-01 01:00")  # holidays too
    assert CAL.hours_between(start, local("2026-12-05 20:00"), urgent=True) == 24


def test_working_hours_between():
    assert CAL.working_hours_between(local("2026-12-30 16:00"), local("2027-01-02 16:30")) == 8
    assert CAL.working_hours_between(local("2026-12-31 09:00"), local("2027-01-01 17:00")) == 0  # holidays
    assert CAL.working_hours_between(local("2027-01-02 16:30"), local("2026-12-30 16:00")) == -8
    assert CAL.working_hours_between(local("2026-12-07 12:30"), local("2026-12-07 13:00")) == 0  # lunch


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(
        min_value=local("2026-09-01 00:00").replace(tzinfo=None),
        max_value=local("2027-03-01 00:00").replace(tzinfo=None),
    ),
    hours=st.floats(min_value=0.01, max_value=200),
)
def test_adding_then_measuring_gives_the_hours_back(start, hours):
    begin = start.replace(tzinfo=CAL.tz)
    due = CAL.add_working_hours(begin, hours)
    assert due > begin
    assert CAL.working_hours_between(begin, due) == pytest.approx(hours, abs=1e-6)
    assert CAL.is_workday(due.astimezone(CAL.tz).date())


def test_date_lists_from_a_file_with_ranges_and_comments(tmp_path):
    path = tmp_path / "holidays-2026.txt"
    path.write_text("# 国庆节\n2026-10-01..2026-10-07\n2026-09-25, 2026-12-31  # 元旦前\n", encoding="utf-8")
    days = parse_dates(str(path), "GRID_HOLIDAYS")
    assert len(days) == 9 and local("2026-10-04 00:00").date() in days


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WORK_HOURS", "8:30-12:00,11:00-17:30", "overlap"),
        ("WORK_HOURS", "08:30-07:00", "ends before"),
        ("WORK_HOURS", "morning", "HH:MM-HH:MM"),
        ("TIMEZONE", "Mars/Olympus", "time zone"),
        ("HOLIDAYS", "2026-13-01", "ISO date"),
        ("HOLIDAYS", "/nonexistent/holidays.txt", "readable file"),
        ("MAKEUP_WORKDAYS", "2026-10-07..2026-10-01", "reversed"),
        ("EARLY_WARNING_FRACTION", "1.5", "between 0 and 1"),
        ("NOTIFY_LEASE_SECONDS", "5", "longer than"),
        ("INPROCESS_WORKER", "maybe", "1 or 0"),
    ],
)
def test_bad_settings_refuse_to_start(monkeypatch, name, value, message):
    monkeypatch.setenv(f"GRID_{name}", value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_a_day_both_off_and_worked_is_refused():
    with pytest.raises(CalendarError, match="both list"):
        build_calendar(HOURS, "Asia/Shanghai", "2027-01-02", "2027-01-02")


def test_settings_read_the_calendar_from_the_environment(monkeypatch, tmp_path):
    path = tmp_path / "makeup.txt"
    path.write_text("2027-01-02\n", encoding="utf-8")
    monkeypatch.setenv("GRID_HOLIDAYS", "2026-12-31,2027-01-01")
    monkeypatch.setenv("GRID_MAKEUP_WORKDAYS", str(path))
    monkeypatch.setenv("GRID_INPROCESS_WORKER", "1")
    loaded = load_settings()
    assert loaded.inprocess_worker is True and loaded.makeup_workdays == str(path)
    from server.workflow.calendar import calendar_from_settings

    cal = calendar_from_settings(loaded)
    assert cal.add_working_hours(local("2026-12-30 16:00"), 8) == local("2027-01-02 16:30")
