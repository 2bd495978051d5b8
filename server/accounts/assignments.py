"""Grid chiefs and deputies over time (网格长/副网格长). History is kept: a handover ends the old assignment.

An assignment is current on day D when starts_on <= D and (ends_on is None or D <= ends_on); `ends_on`
is the last day served. A grid has at most one current chief; it may have several deputies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Date, bindparam, case, or_, select

from server.accounts.models import GridAssignment, User
from server.accounts.roles import ASSIGNMENT_KINDS, ASSIGNMENT_LABELS_ZH
from server.areas.index_cache import current_generation_id
from server.areas.models import Area
from server.audit import record
from server.errors import Problem
from server.extensions import db


@dataclass(frozen=True)
class Responsible:
    user_id: int
    name: str
    role: str  # chief | deputy
    starts_on: date
    ends_on: date | None

    @property
    def role_zh(self) -> str:
        return ASSIGNMENT_LABELS_ZH[self.role]


def _current(on: date):
    return (GridAssignment.starts_on <= on) & or_(GridAssignment.ends_on.is_(None), GridAssignment.ends_on >= on)


def responsible_query():
    """Who answers for the grid `:grid_code` on the day `:on`: chiefs first, then deputies by seniority (start date,
    then order of appointment); only active accounts. Tip intake (server.tips.intake_sql) runs it precompiled.
    """
    kind_order = case({kind: i for i, kind in enumerate(ASSIGNMENT_KINDS)}, value=GridAssignment.kind)
    return (
        select(GridAssignment.user_id, User.name, GridAssignment.kind, GridAssignment.starts_on, GridAssignment.ends_on)
        .join(User, User.id == GridAssignment.user_id)
        .where(
            GridAssignment.grid_code == bindparam("grid_code"),
            User.active.is_(True),
            _current(bindparam("on", type_=Date)),
        )
        .order_by(kind_order, GridAssignment.starts_on, GridAssignment.id)
    )


def responsible_for_grid(grid_code: str, on: date | None = None) -> list[Responsible]:
    """Who answers for a grid on a day (today by default), in order (see responsible_query); [] if nobody.

    Only active accounts count: a deactivated chief is nobody's contact.
    """
    rows = db.session.execute(responsible_query(), {"grid_code": grid_code, "on": on or date.today()})
    return [Responsible(*row) for row in rows]


def current_grid_codes(user_id: int, on: date | None = None) -> list[str]:
    on = on or date.today()
    query = select(GridAssignment.grid_code).where(GridAssignment.user_id == user_id, _current(on))
    return list(db.session.scalars(query.distinct()))


def current_assignments(user_id: int, on: date | None = None) -> list[GridAssignment]:
    on = on or date.today()
    query = select(GridAssignment).where(GridAssignment.user_id == user_id, _current(on))
    return list(db.session.scalars(query.order_by(GridAssignment.grid_code)))


def area_level(code: str | None) -> str | None:
    """The level of an area of the current map, or None if the code is not in it (or no map is loaded)."""
    generation = current_generation_id()
    if not code or generation is None:
        return None
    return db.session.scalar(select(Area.level).where(Area.generation_id == generation, Area.code == code))


def is_grid(code: str | None) -> bool:
    return area_level(code) == "grid"


def assign_grid(user: User, grid_code: str, kind: str, starts_on: date, ends_on: date | None = None) -> GridAssignment:
    """Make the user chief or deputy of a grid from a day. A new chief ends the previous chief's term the day before.

    Both accounts' token_version is bumped (their scope changed) and the change is audited.
    """
    if kind not in ASSIGNMENT_KINDS:
        raise Problem(422, "invalid-assignment", f"kind must be one of {', '.join(ASSIGNMENT_KINDS)}, not {kind!r}.")
    if not is_grid(grid_code):
        raise Problem(422, "unknown-grid", f"{grid_code} is not a grid of the current map (see GET /api/v1/grids).")
    if ends_on is not None and ends_on < starts_on:
        raise Problem(422, "invalid-assignment", "The end date is before the start date.")
    if "grid_chief" not in user.roles:
        raise Problem(422, "invalid-assignment", "Only accounts with the grid_chief role can chief or deputise a grid.")
    existing = db.session.scalar(
        select(GridAssignment).where(
            GridAssignment.user_id == user.id,
            GridAssignment.grid_code == grid_code,
            GridAssignment.kind == kind,
            GridAssignment.ends_on.is_(None),
            GridAssignment.starts_on <= starts_on,
        )
    )
    if existing is not None and ends_on is None:
        return existing  # already serving, open-ended: nothing to change
    if kind == "chief":
        _hand_over(grid_code, starts_on, incoming=user)
    assignment = GridAssignment(user_id=user.id, grid_code=grid_code, kind=kind, starts_on=starts_on, ends_on=ends_on)
    db.session.add(assignment)
    user.token_version += 1
    db.session.flush()
    record("grid_assigned", "user", user.id, grid_code=grid_code, kind=kind, starts_on=starts_on.isoformat())
    return assignment


def _hand_over(grid_code: str, starts_on: date, incoming: User) -> None:
    outgoing = db.session.scalars(
        select(GridAssignment).where(
            GridAssignment.grid_code == grid_code,
            GridAssignment.kind == "chief",
            or_(GridAssignment.ends_on.is_(None), GridAssignment.ends_on >= starts_on),
        )
    ).all()
    for old in outgoing:
        if old.starts_on >= starts_on:
            raise Problem(
                409,
                "assignment-conflict",
                f"Grid {grid_code} already has a chief from {old.starts_on}; choose a later start date.",
            )
        old.ends_on = starts_on - timedelta(days=1)
        if old.user_id != incoming.id:
            previous = db.session.get(User, old.user_id)
            previous.token_version += 1
            record("scope_changed", "user", previous.id, grid_code=grid_code, ended_on=old.ends_on.isoformat())
