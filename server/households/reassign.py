"""Re-assign households to the grids of a (new) map generation: `reassign_households(generation_id) -> report`.

Every household is routed again from its stored WGS-84 point with that generation's index (edges inclusive,
smallest code on ties, snapping within GRID_SNAP_METRES), exactly as at intake. Households that moved get
their new grid_code; every routed household gets the new generation_id. A household outside every grid of
the new map keeps its old grid and generation and is listed under `outside`, for a person to look at.

Links are not changed, but a primary or secondary link whose household moved out of its member's area is
listed under `links_outside_member_area`, so that someone can unlink or rebalance it.
Visits keep the grid they were logged in (history is not rewritten).

The caller owns the transaction (the CLI commits; a grid import can call this before its own commit).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import bindparam, func, select, update

from server.accounts.models import User
from server.areas.index_cache import build_index, current_index, index_cache
from server.errors import NotFound
from server.extensions import db
from server.households.models import Household, HouseholdLink

CHUNK = 20_000


@dataclass
class ReassignReport:
    generation_id: int
    households: int = 0
    moved: list[tuple[int, str, str]] = field(default_factory=list)  # (household id, from grid, to grid)
    outside: list[int] = field(default_factory=list)
    links_outside_member_area: list[tuple[int, int]] = field(default_factory=list)  # (household id, member id)

    def as_dict(self) -> dict:
        return {
            "generation_id": self.generation_id,
            "households": self.households,
            "moved": [{"household_id": h, "from": a, "to": b} for h, a, b in self.moved],
            "outside": self.outside,
            "links_outside_member_area": [
                {"household_id": h, "member_id": m} for h, m in self.links_outside_member_area
            ],
        }


def _index_for(generation_id: int):
    index = current_index()
    if index is not None and index.generation_id == generation_id:
        return index
    from server.areas.models import MapGeneration

    if db.session.get(MapGeneration, generation_id) is None:
        raise NotFound("map generation")
    return build_index(generation_id)


def reassign_households(generation_id: int, *, dry_run: bool = False) -> ReassignReport:
    index = _index_for(generation_id)
    report = ReassignReport(generation_id)
    snap_m = index_cache().snap_metres
    last_id = 0
    while True:
        rows = db.session.execute(
            select(Household.id, Household.grid_code, func.ST_X(Household.location), func.ST_Y(Household.location))
            .where(Household.id > last_id)
            .order_by(Household.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        last_id = rows[-1][0]
        report.households += len(rows)
        _route_chunk(rows, index, snap_m, report, generation_id, dry_run)
    report.links_outside_member_area = _links_outside(report.moved)
    return report


def _route_chunk(rows, index, snap_m: float, report: ReassignReport, generation_id: int, dry_run: bool) -> None:
    ids = np.array([r[0] for r in rows])
    xs = np.array([r[2] for r in rows], dtype=np.float64)
    ys = np.array([r[3] for r in rows], dtype=np.float64)
    found = index.cells.covering_many(xs, ys)
    changes, routed = [], []
    for k, (hid, old, _, _) in enumerate(rows):
        snap = None
        if found[k] >= 0:
            new = index.grid_codes[found[k]]
        else:
            hit = index.locate(float(xs[k]), float(ys[k]), snap_m)
            if hit is None:
                report.outside.append(int(hid))
                continue
            new, snap = hit.grid.code, hit.distance_m
        routed.append(int(ids[k]))
        if new != old:
            report.moved.append((int(hid), old, new))
            changes.append({"b_id": int(hid), "b_grid": new, "b_snap": snap})
    if dry_run:
        return
    if changes:
        statement = (
            update(Household.__table__)
            .where(Household.__table__.c.id == bindparam("b_id"))
            .values(grid_code=bindparam("b_grid"), snap_distance_m=bindparam("b_snap"))
        )
        db.session.execute(statement, changes)
    for start in range(0, len(routed), 1000):
        chunk = routed[start : start + 1000]
        db.session.execute(update(Household).where(Household.id.in_(chunk)).values(generation_id=generation_id))


def _links_outside(moved: list[tuple[int, str, str]]) -> list[tuple[int, int]]:
    """Links whose household moved to a grid outside its member's home area (judged on the new grid)."""
    new_grid = {hid: to for hid, _, to in moved}
    ids, out = list(new_grid), []
    for start in range(0, len(ids), 1000):
        rows = db.session.execute(
            select(HouseholdLink.household_id, HouseholdLink.member_id, User.home_area_code)
            .join(User, User.id == HouseholdLink.member_id)
            .where(HouseholdLink.household_id.in_(ids[start : start + 1000]))
        ).all()
        out += [(h, m) for h, m, home in rows if not new_grid[h].startswith(home)]
    return sorted(out)


def on_generation_imported(generation_id: int) -> str:
    """Receiver of server.areas.importer.generation_imported: every household follows the new map."""
    report = reassign_households(generation_id)
    return (
        f"households: {report.households} re-assigned, {len(report.moved)} moved grid, "
        f"{len(report.outside)} outside every grid (kept in their old grid; see `flask households reassign --dry-run`)"
    )
