"""Coverage indicators per grid, rolled up to village, township and county.

Everything is computed from counts: a village's rate is (sum of its grids' numerators) / (sum of denominators),
never an average of percentages; the median accept time of a township is the median of all its tips' times, not a
median of medians; a patrol through three grids of one village is one patrol of that village (distinct ids).

Windows (`Window`), all relative to `now` (services take it; tests freeze it):
- visits: households visited in [now - GRID_VISIT_TARGET_DAYS (30), now];
- patrols: patrols with time in a grid within [now - GRID_COVERAGE_PATROL_DAYS (7), now]; their per-grid
  seconds and metres (server/patrols: patrol_grids) are summed; the last patrol is the latest ever up to `now`;
- tips: every tip (or those submitted in the date range), counted at `now`:
  open = an open status (server.tips.states); overdue = as server.workflow.deadlines flags it (waiting past the
  accept deadline, or not finished past the resolve deadline); due (应结案) = a case (not dismissed, merged or
  referred) whose resolve deadline has passed or that is closed already; postponed (延期) = due with an approved
  postponement; closed on time (按期结案) = due, never postponed, closed (结案) no later than its resolve deadline;
  按期结案率 = closed on time / (due - postponed). Accepted on time = accepted by the (latest) accept deadline.
  Median accept time = accepted_at - clock start (the first dispatch), in wall-clock minutes.
A date range (since / until, whole local days in GRID_TIMEZONE, both inclusive) replaces all three windows: visits,
patrols and tip submissions within it, with `now` = the end of the range when that is earlier.

Tips are counted only where the viewer may see them (server.tips.visibility): a conflict-of-interest tip hidden
from a grid chief is not in that chief's counts. Only counts leave this module: no tip, no reporter, no point.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, func, or_, select

from server.coverage.hierarchy import Hierarchy
from server.extensions import db
from server.households.models import Household, Visit
from server.patrols.models import PatrolGrid
from server.scope import within
from server.timestamps import seconds_between
from server.tips.models import Tip
from server.tips.states import OPEN_STATUSES
from server.workflow import rates
from server.workflow.deadlines import AWAITING, HANDLING

# Tips that never became a case to close: not in 应结案数.


@dataclass(frozen=True)
class Window:
    now: datetime  # the moment 'open' and 'overdue' are judged at (the end of the range, if earlier)
    visits_from: datetime
    patrols_from: datetime
    tips_from: datetime | None
    tips_to: datetime | None
    since: date | None = None
    until: date | None = None

    @classmethod
    def build(
        cls,
        now: datetime,
        *,
        since: date | None = None,
        until: date | None = None,
        visit_days: int = 30,
        patrol_days: int = 7,
        tz: str = "Asia/Shanghai",
    ) -> Window:
        now = now.astimezone(UTC)
        zone = ZoneInfo(tz)
        start = datetime.combine(since, time(0), zone).astimezone(UTC) if since else None
        end = datetime.combine(until + timedelta(days=1), time(0), zone).astimezone(UTC) if until else None
        as_of = min(now, end) if end else now
        return cls(
            now=as_of,
            visits_from=start or as_of - timedelta(days=visit_days),
            patrols_from=start or as_of - timedelta(days=patrol_days),
            tips_from=start,
            tips_to=end,
            since=since,
            until=until,
        )

    def key(self) -> tuple:
        return (self.since, self.until)

    def as_dict(self) -> dict:
        return {
            "now": self.now.isoformat(),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "visits_from": self.visits_from.isoformat(),
            "patrols_from": self.patrols_from.isoformat(),
            "tips_from": self.tips_from.isoformat() if self.tips_from else None,
            "tips_to": self.tips_to.isoformat() if self.tips_to else None,
        }


@dataclass(slots=True)
class Counts:
    """Additive counts for one area: the sum of its own rows and its children's counts."""

    grids: int = 0
    households: int = 0
    households_linked: int = 0
    households_visited: int = 0
    patrolled_grids: int = 0
    patrol_ids: set[int] = field(default_factory=set)
    patrol_seconds: float = 0.0
    patrol_distance_m: float = 0.0
    last_patrol_at: datetime | None = None
    tips: int = 0
    tips_open: int = 0
    tips_overdue: int = 0
    tips_due: int = 0
    tips_postponed: int = 0
    tips_closed_on_time: int = 0
    tips_accepted: int = 0
    tips_accepted_on_time: int = 0
    accept_seconds: list[float] = field(default_factory=list)

    def add(self, other: Counts) -> None:
        self.add_activity(other)
        self.add_tips(other)

    def add_activity(self, o: Counts) -> None:
        self.grids += o.grids
        self.households += o.households
        self.households_linked += o.households_linked
        self.households_visited += o.households_visited
        self.patrolled_grids += o.patrolled_grids
        if o.patrol_ids:
            self.patrol_ids |= o.patrol_ids
        self.patrol_seconds += o.patrol_seconds
        self.patrol_distance_m += o.patrol_distance_m
        if o.last_patrol_at is not None and (self.last_patrol_at is None or o.last_patrol_at > self.last_patrol_at):
            self.last_patrol_at = o.last_patrol_at

    def add_tips(self, o: Counts) -> None:
        self.tips += o.tips
        self.tips_open += o.tips_open
        self.tips_overdue += o.tips_overdue
        self.tips_due += o.tips_due
        self.tips_postponed += o.tips_postponed
        self.tips_closed_on_time += o.tips_closed_on_time
        self.tips_accepted += o.tips_accepted
        self.tips_accepted_on_time += o.tips_accepted_on_time
        if o.accept_seconds:
            self.accept_seconds.extend(o.accept_seconds)


TIP_FIELDS = (
    "tips",
    "tips_open",
    "tips_overdue",
    "tips_due",
    "tips_postponed",
    "tips_closed_on_time",
    "tips_accepted",
    "tips_accepted_on_time",
)


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator > 0 else None


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def scores(c: Counts) -> dict[str, float | None]:
    """The 0..1 scores that the indices weigh (server/coverage/indices.py)."""
    return {
        "link_rate": _ratio(c.households_linked, c.households),
        "visit_rate": _ratio(c.households_visited, c.households),
        "patrolled_grid_rate": _ratio(c.patrolled_grids, c.grids),
        "on_time_close_rate": _ratio(c.tips_closed_on_time, c.tips_due - c.tips_postponed),
        "accepted_on_time_rate": _ratio(c.tips_accepted_on_time, c.tips_accepted),
        "overdue_free_rate": None if c.tips_open == 0 else round(1 - c.tips_overdue / c.tips_open, 4),
    }


def indicators(c: Counts) -> dict:
    """The flat, JSON-ready indicators of one area (the same names in JSON, GeoJSON, CSV, MVT and OGC)."""
    s = scores(c)
    accept = median(c.accept_seconds)
    return {
        "grids": c.grids,
        "households": c.households,
        "households_linked": c.households_linked,
        "link_rate": s["link_rate"],
        "households_visited": c.households_visited,
        "visit_rate": s["visit_rate"],
        "patrols": len(c.patrol_ids),
        "patrol_km": round(c.patrol_distance_m / 1000, 2),
        "patrol_hours": round(c.patrol_seconds / 3600, 2),
        "patrolled_grids": c.patrolled_grids,
        "patrolled_grid_rate": s["patrolled_grid_rate"],
        "last_patrol_at": c.last_patrol_at.isoformat() if c.last_patrol_at else None,
        "tips": c.tips,
        "tips_open": c.tips_open,
        "tips_overdue": c.tips_overdue,
        "tips_due": c.tips_due,
        "tips_postponed": c.tips_postponed,
        "tips_closed_on_time": c.tips_closed_on_time,
        "on_time_close_rate": s["on_time_close_rate"],
        "tips_accepted": c.tips_accepted,
        "tips_accepted_on_time": c.tips_accepted_on_time,
        "accepted_on_time_rate": s["accepted_on_time_rate"],
        "overdue_free_rate": s["overdue_free_rate"],
        "median_accept_minutes": round(accept / 60, 1) if accept is not None else None,
    }


# --- the queries: one GROUP BY per family, over every grid under one area code ------------------------------------


def activity_counts(tree: Hierarchy, root: str, window: Window) -> dict[str, Counts]:
    """Households, links, visits and patrols per area under `root` (viewer-independent: cacheable)."""
    counts = {code: Counts() for code in tree.subtree(root)}
    for code, node in ((c, tree.nodes[c]) for c in counts):
        if node.level == "grid":
            counts[code].grids = 1
    exact = _visited_after(window.now)
    for grid, total, linked, visited in _rows(_households_query(root, window, exact=exact)):
        target = counts.get(tree.owner(grid))
        if target is not None:
            target.households += total
            target.households_linked += linked
            target.households_visited += int(visited or 0)
    patrolled: dict[str, Counts] = {}
    for grid, patrol_id, seconds, metres in _rows(_patrols_query(root, window)):
        target = counts.get(tree.owner(grid))
        if target is not None:
            target.patrol_ids.add(patrol_id)
            target.patrol_seconds += seconds
            target.patrol_distance_m += metres
            if grid in tree.nodes:
                patrolled[grid] = target
    for target in patrolled.values():
        target.patrolled_grids = 1
    for grid, last in _rows(_last_patrol_query(root, window)):
        target = counts.get(tree.owner(grid))
        if target is not None and (target.last_patrol_at is None or last > target.last_patrol_at):
            target.last_patrol_at = last
    return counts


def _rows(query):
    """Plain column rows through Core on the session's connection (the same transaction), not the ORM: its per-row
    loading tripled the time of the tens of thousands of rows these queries return (25,800 rows: 134 vs 54 ms)."""
    return db.session.connection().execute(query).all()


def _households_query(root: str, window: Window, *, exact: bool):
    """Households, linked and visited per grid: one scan of ix_households_coverage (index-only on PostgreSQL).
    `exact`: some household was visited after `now`, so the visits table decides for those (`_visited_after`)."""
    in_window = and_(Household.last_visited_at >= window.visits_from, Household.last_visited_at <= window.now)
    visited = _visited_exactly(window) if exact else in_window
    return (
        select(
            Household.grid_code,
            func.count(),
            func.sum(case((Household.linked, 1), else_=0)),
            func.sum(case((visited, 1), else_=0)),
        )
        .where(within(Household.grid_code, root), Household.created_at <= window.now)
        .group_by(Household.grid_code)
    )


def _visited_after(now: datetime) -> bool:
    """Whether any household was visited after `now` (a past `now`: a date range, a frozen clock); one index probe."""
    return db.session.scalar(select(exists().where(Household.last_visited_at > now)))


def _visited_exactly(window: Window):
    """Visited in the window, when some households' last visit is later than `now` and so says nothing of it."""
    visit_in_window = exists().where(
        Visit.household_id == Household.id, Visit.visited_at >= window.visits_from, Visit.visited_at <= window.now
    )
    # last_visited_at is the latest visit (server/households keeps it), so it decides most rows;
    # only a household visited again after `now` needs the visits table.
    return case(
        (Household.last_visited_at < window.visits_from, False),
        (Household.last_visited_at <= window.now, True),
        else_=visit_in_window,  # CASE keeps the subquery to those few rows
    )


def _patrols_query(root: str, window: Window):
    return select(PatrolGrid.grid_code, PatrolGrid.patrol_id, PatrolGrid.seconds, PatrolGrid.distance_m).where(
        within(PatrolGrid.grid_code, root), PatrolGrid.last_at >= window.patrols_from, PatrolGrid.first_at <= window.now
    )


def _last_patrol_query(root: str, window: Window):
    return (
        select(PatrolGrid.grid_code, func.max(PatrolGrid.last_at))
        .where(within(PatrolGrid.grid_code, root), PatrolGrid.last_at <= window.now)
        .group_by(PatrolGrid.grid_code)
    )


def tip_counts(tree: Hierarchy, root: str, window: Window, visible) -> dict[str, Counts]:
    """Tip counts per area under `root`, counting only the tips the SQL clause `visible` lets the viewer see."""
    counts: dict[str, Counts] = {}
    key = func.coalesce(Tip.grid_code, Tip.area_code)
    where = [visible, within(Tip.area_code, root), *_tip_window(window)]
    for code, *values in _rows(_tips_query(key, where, window)):
        owner = tree.owner(code)
        if owner is None:
            continue
        target = _counts_of(counts, owner)
        for name, value in zip(TIP_FIELDS, values, strict=True):
            setattr(target, name, getattr(target, name) + int(value or 0))
    start = func.coalesce(Tip.clock_started_at, Tip.dispatched_at)
    accepted = select(key, seconds_between(Tip.accepted_at, start)).where(
        *where, Tip.accepted_at.is_not(None), Tip.accepted_at <= window.now, start.is_not(None)
    )
    for code, seconds in _rows(accepted):
        owner = tree.owner(code)
        if owner is not None:
            _counts_of(counts, owner).accept_seconds.append(seconds)
    return counts


def _counts_of(counts: dict[str, Counts], code: str) -> Counts:
    """The area's Counts, made on first use (not setdefault: that builds a Counts for each of 25,000 rows)."""
    found = counts.get(code)
    if found is None:
        found = counts[code] = Counts()
    return found


def _tip_window(window: Window) -> list:
    clauses = [Tip.submitted_at <= window.now]
    if window.tips_from is not None:
        clauses.append(Tip.submitted_at >= window.tips_from)
    if window.tips_to is not None:
        clauses.append(Tip.submitted_at < window.tips_to)
    return clauses


def _tips_query(key, where: list, window: Window):
    now = window.now
    is_open = Tip.status.in_(sorted(OPEN_STATUSES))
    # Overdue exactly as the workflow flags it (server.workflow.deadlines.overdue_flags).
    overdue = or_(
        and_(Tip.status.in_(sorted(AWAITING)), Tip.accept_due_at < now),
        and_(Tip.status.in_(sorted(AWAITING | HANDLING)), Tip.resolve_due_at < now),
    )
    due, postponed, closed_on_time = rates.due(now), rates.postponed(now), rates.closed_on_time(now)
    accepted = and_(Tip.accepted_at.is_not(None), Tip.accepted_at <= now)
    accepted_on_time = and_(accepted, or_(Tip.accept_due_at.is_(None), Tip.accepted_at <= Tip.accept_due_at))

    def n(clause):
        return func.sum(case((clause, 1), else_=0))

    return (
        select(key, func.count(), n(is_open), n(overdue), n(due), n(postponed), n(closed_on_time))
        .add_columns(n(accepted), n(accepted_on_time))
        .where(*where)
        .group_by(key)
    )


def roll_up(tree: Hierarchy, root: str, part: dict[str, Counts], *, tips: bool = False) -> dict[str, Counts]:
    """Add every area's counts into its parent's, deepest first, up to `root` (in place: `part` is fresh)."""
    order = tree.subtree(root)
    for code in order:
        if code not in part:
            part[code] = Counts()
    add = Counts.add_tips if tips else Counts.add_activity
    for code in order:
        parent = tree.nodes[code].parent_code
        if code != root and parent in part:
            add(part[parent], part[code])
    return part
