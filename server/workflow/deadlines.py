"""Time limits of a tip (处置时限), counted on the working-time calendar (server/workflow/calendar.py).

- The clock starts at dispatch. The accept clock restarts at every (re)dispatch: transfer, dispatch, escalation
  and return all hand the tip to someone new, who gets a full accept window (TipCategory.accept_hours).
- The resolve clock starts at the FIRST dispatch (`clock_started_at`) and runs TipCategory.resolve_days working
  days; only an approved postponement moves it (to the approved date), and reopening a closed or dismissed tip
  starts a new one. Escalating or transferring does not extend it: inaction is not rewarded with more time.
- Urgent categories count on the urgent clock (24 x 7), see calendar.py.
- The early warning is due at GRID_EARLY_WARNING_FRACTION (0.75) of the accept window.
- `next_check_at` is when the escalation job must next look at the tip: the early warning, else the accept
  deadline while the tip waits to be accepted, else the resolve deadline while it is being handled; NULL when
  nothing is pending. The job's scan reads only rows with next_check_at <= now (a partial index).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from flask import current_app

from server.workflow.calendar import WorkCalendar, calendar_from_settings

AWAITING = frozenset({"submitted", "dispatched", "escalated", "returned"})  # waiting for someone to accept it
HANDLING = frozenset({"accepted", "in_progress", "postponed", "postpone_requested"})
QUEUE_LEVELS = {
    "grid_chief": 0,
    "grid_deputy": 0,
    "township": 1,
    "township_discipline": 1,
    "county": 2,
    "county_discipline": 2,
}
TOP_LEVEL = 2
LEVEL_LABELS_ZH = {0: "网格", 1: "乡镇(街道)", 2: "县级"}


def calendar(settings=None) -> WorkCalendar:
    return calendar_from_settings(settings or current_app.config["GRID"])


def accept_clock(settings, category, start: datetime) -> dict:
    """A fresh accept window from `start`: the columns to set on (re)dispatch."""
    cal = calendar(settings)
    due = cal.add(start, category.accept_hours, urgent=category.urgent)
    warn = cal.add(start, category.accept_hours * settings.early_warning_fraction, urgent=category.urgent)
    return {
        "dispatched_at": start,
        "accept_due_at": due,
        "warn_at": warn if warn < due else None,
        "warned_level": None,
        "overdue_notified": False,
    }


def resolve_deadline(settings, category, start: datetime) -> datetime:
    return calendar(settings).add_working_days(start, category.resolve_days, urgent=category.urgent)


def initial_clock(settings, category, queue_kind: str, status: str, start: datetime) -> dict:
    """Every clock column of a tip dispatched at `start` (intake, and the migration's backfill)."""
    values = accept_clock(settings, category, start)
    values |= {
        "clock_started_at": start,
        "resolve_due_at": resolve_deadline(settings, category, start),
        "escalation_level": QUEUE_LEVELS[queue_kind],
    }
    values["next_check_at"] = next_check({"status": status, **values})
    return values


def next_check(state: Mapping) -> datetime | None:
    """When the escalation job must next look at a tip in this state (a mapping of Tip columns)."""
    status = state["status"]
    if status in AWAITING and state.get("accept_due_at") is not None:
        warn = state.get("warn_at")
        if warn is not None and state.get("warned_level") != state["escalation_level"]:
            return warn
        if state["escalation_level"] < TOP_LEVEL or not state.get("overdue_notified"):
            return state["accept_due_at"]
        return None
    if status in HANDLING and state.get("resolve_due_at") is not None and not state.get("overdue_notified"):
        return state["resolve_due_at"]
    return None


def overdue_flags(tip, now: datetime) -> dict:
    """Accept overdue while it waits to be accepted; resolve overdue while it is being handled."""
    accept_due, resolve_due = tip.accept_due_at, tip.resolve_due_at
    accept_overdue = tip.status in AWAITING and accept_due is not None and now > accept_due
    resolve_overdue = tip.status in (AWAITING | HANDLING) and resolve_due is not None and now > resolve_due
    return {"accept_overdue": accept_overdue, "resolve_overdue": resolve_overdue}


def current_deadline(tip) -> datetime | None:
    """The deadline that matters now: accepting while it waits, resolving afterwards."""
    return tip.accept_due_at if tip.status in AWAITING else tip.resolve_due_at
