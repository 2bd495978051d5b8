"""The standard case metrics (DOMAIN.md), per grid, per township and in total, over the tips the caller may see.

Definitions (period = [since, until)):
- opened (立案数): tips whose clock started (first dispatch) in the period, not dismissed (不予立案) or merged
  (a duplicate is not a case of its own);
- closed (结案数): of those, closed now; closure_rate (结案率) = closed / opened;
- due (应结案数): tips whose resolve deadline fell in the period and has passed (deadline < now), not dismissed or
  merged; postponed (延期数): of those, with an approved postponement (their deadline is the postponed one);
- closed_on_time (按期结案数): of the due tips NOT postponed, closed no later than the deadline;
  on_time_rate (按期结案率) = closed_on_time / (due - postponed). Postponed tips leave both sides of the ratio, so
  it stays within 0..1;
- avg_accept_hours / avg_resolve_hours: from the first dispatch to the (first) acceptance / the resolution, in
  working hours on the configured calendar, for every tip (urgent ones too, so that all share one unit);
- overdue_now: visible tips in the area overdue at this moment (the inbox's `overdue` filter);
- by_status: the opened tips by current status.
A rate whose denominator is 0 is null. Everything goes through the one visibility filter: a chief's figures never
include a conflict-of-interest tip about their grid.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from server.areas import services as areas
from server.areas.models import Area
from server.errors import NotFound
from server.extensions import db
from server.scope import current_scope
from server.tips.models import Tip
from server.tips.queries import custom_plans, overdue_clause
from server.tips.visibility import visible_tips
from server.workflow import rates
from server.workflow.deadlines import calendar

NOT_OPENED = ("dismissed", "merged")  # not counted as opened cases (结案率)
DEFAULT_DAYS = 30


@dataclass
class Tally:
    opened: int = 0
    closed: int = 0
    due: int = 0
    postponed: int = 0
    closed_on_time: int = 0
    overdue_now: int = 0
    accept_hours: list[float] = field(default_factory=list)
    resolve_hours: list[float] = field(default_factory=list)
    by_status: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        base = self.due - self.postponed
        return {
            "opened": self.opened,
            "closed": self.closed,
            "closure_rate": _ratio(self.closed, self.opened),
            "due": self.due,
            "postponed": self.postponed,
            "closed_on_time": self.closed_on_time,
            "on_time_rate": _ratio(self.closed_on_time, base),
            "avg_accept_hours": _mean(self.accept_hours),
            "avg_resolve_hours": _mean(self.resolve_hours),
            "overdue_now": self.overdue_now,
            "by_status": dict(sorted(self.by_status.items())),
        }


def metrics(user, area_code: str, since: datetime | None, until: datetime | None, now: datetime) -> dict:
    if not current_scope().allows(area_code):
        raise NotFound("area")
    custom_plans()
    area = areas.get_area(area_code)
    until = until or now
    since = since or until - timedelta(days=DEFAULT_DAYS)
    townships = _township_of_grids(area_code)
    names = _names(area.generation_id)
    tallies: dict[tuple[str, str | None], Tally] = defaultdict(Tally)
    cal = calendar()
    base = (visible_tips(user), Tip.area_code.startswith(area_code, autoescape=True))

    def keys(grid_code):
        township = townships.get(grid_code) if grid_code else None
        return (
            [("total", None)]
            + ([("grid", grid_code)] if grid_code else [])
            + ([("township", township)] if township else [])
        )

    opened = select(Tip.grid_code, Tip.status, Tip.clock_started_at, Tip.accepted_at, Tip.resolved_at).where(
        *base, Tip.clock_started_at >= since, Tip.clock_started_at < until, Tip.status.not_in(NOT_OPENED)
    )
    for grid, status, started, accepted, resolved in db.session.execute(opened):
        for key in keys(grid):
            t = tallies[key]
            t.opened += 1
            t.closed += status == "closed"
            t.by_status[status] += 1
            if accepted is not None:
                t.accept_hours.append(cal.working_hours_between(started, accepted))
            if resolved is not None:
                t.resolve_hours.append(cal.working_hours_between(started, resolved))
    due = (
        select(Tip.grid_code, func.count(), _count(rates.postponed(now)), _count(rates.closed_on_time(now)))
        .where(*base, Tip.resolve_due_at >= since, Tip.resolve_due_at < until, rates.due(now))
        .group_by(Tip.grid_code)
    )
    for grid, n_due, n_postponed, n_on_time in db.session.execute(due):
        for key in keys(grid):
            t = tallies[key]
            t.due += n_due
            t.postponed += n_postponed
            t.closed_on_time += n_on_time
    late = select(Tip.grid_code, func.count()).where(*base, overdue_clause(now)).group_by(Tip.grid_code)
    for grid, count in db.session.execute(late):
        for key in keys(grid):
            tallies[key].overdue_now += count
    return {
        "area": {"code": area.code, "name": area.name, "level": area.level},
        "since": since.isoformat(),
        "until": until.isoformat(),
        "totals": {"code": area.code, "name": area.name} | tallies[("total", None)].as_dict(),
        "townships": _rows(tallies, "township", names),
        "grids": _rows(tallies, "grid", names),
    }


def _rows(tallies, kind: str, names: dict) -> list[dict]:
    return [
        {"code": code, "name": names.get(code)} | tally.as_dict()
        for (k, code), tally in sorted(tallies.items(), key=lambda item: (item[0][0], item[0][1] or ""))
        if k == kind
    ]


def _township_of_grids(area_code: str) -> dict[str, str]:
    """grid code -> township code, from the current map (every grid under the area's township or county)."""
    generation = areas.resolve_generation(None)
    rows = db.session.execute(
        select(Area.code, Area.level, Area.parent_code).where(Area.generation_id == generation)
    ).all()
    parent = {code: p for code, _, p in rows}
    level = {code: lv for code, lv, _ in rows}
    found = {}
    for code, lv, _ in rows:
        if lv != "grid" or not (code.startswith(area_code) or area_code.startswith(code)):
            continue
        up = parent.get(code)
        while up is not None and level.get(up) != "township":
            up = parent.get(up)
        if up is not None:
            found[code] = up
    return found


def _names(generation_id: int) -> dict[str, str]:
    return dict(db.session.execute(select(Area.code, Area.name).where(Area.generation_id == generation_id)).all())


def _count(clause):
    return func.sum(case((clause, 1), else_=0))


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None
