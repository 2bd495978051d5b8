"""Direct inserts for coverage tests: households, links, visits, patrols (with time per grid) and tips with known
numbers. Rows are written straight through the models, so every count in a test is known by construction."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import shapely
from sqlalchemy import select

from server.areas.index_cache import current_generation_id
from server.areas.models import Area
from server.extensions import db
from server.households.models import Household, HouseholdLink, Visit
from server.patrols.models import Patrol, PatrolGrid
from server.tips.models import Tip, TipExclusion, TipReporter

PLANTED_DESCRIPTION = "村东头仓库聚赌 PLANTED-COVERAGE-TIP-7731"
PLANTED_RECEIPT = "RCPT7731ABCD"
_refs = itertools.count(1)


def point_in(code: str) -> tuple[float, float]:
    wkb = db.session.scalar(
        select(Area.geom.ST_AsBinary()).where(Area.generation_id == current_generation_id(), Area.code == code)
    )
    p = shapely.from_wkb(bytes(wkb)).representative_point()
    return p.x, p.y


def _point(code: str) -> dict:
    lon, lat = point_in(code)
    return {"location": f"SRID=4326;POINT({lon!r} {lat!r})", "source_datum": "wgs84", "raw_lon": lon, "raw_lat": lat}


def household(grid: str, *, created_at: datetime, last_visited_at: datetime | None = None) -> Household:
    row = Household(
        ref=f"COV-{next(_refs)}",
        address="覆盖测试地址",
        head_name="覆盖测试户主",
        head_phone="13900000000",
        size=3,
        generation_id=current_generation_id(),
        grid_code=grid,
        created_at=created_at,
        last_visited_at=last_visited_at,
        **_point(grid),
    )
    db.session.add(row)
    db.session.flush()
    return row


def link(member, home: Household, *, primary: bool = True) -> None:
    db.session.add(HouseholdLink(household_id=home.id, member_id=member.id, is_primary=primary))
    db.session.flush()


def visit(member, home: Household, at: datetime) -> None:
    db.session.add(
        Visit(
            household_id=home.id,
            member_id=member.id,
            grid_code=home.grid_code,
            visited_at=at,
            distance_m=5.0,
            far_from_household=False,
            **_point(home.grid_code),
        )
    )
    if home.last_visited_at is None or at > home.last_visited_at:
        home.last_visited_at = at
    db.session.flush()


def patrol(user, per_grid: list[tuple[str, float, float, datetime]]) -> Patrol:
    """A finished patrol: per_grid = [(grid, seconds, metres, last_at)], each grid entered 10 minutes before last_at."""
    first = min(t for *_, t in per_grid) - timedelta(minutes=10)
    last = max(t for *_, t in per_grid)
    row = Patrol(
        user_id=user.id,
        home_area_code=user.home_area_code,
        status="finished",
        started_at=first,
        finished_at=last,
        first_point_at=first,
        last_point_at=last,
        distance_m=sum(m for _, _, m, _ in per_grid),
        duration_s=sum(s for _, s, _, _ in per_grid),
        points_received=10,
    )
    db.session.add(row)
    db.session.flush()
    for grid, seconds, metres, at in per_grid:
        db.session.add(
            PatrolGrid(
                patrol_id=row.id,
                grid_code=grid,
                seconds=seconds,
                distance_m=metres,
                first_at=at - timedelta(minutes=10),
                last_at=at,
            )
        )
    db.session.flush()
    return row


def tip(
    grid: str | None,
    status: str,
    *,
    area_code: str | None = None,
    start: datetime,
    accept_due: datetime | None = None,
    accepted: datetime | None = None,
    resolve_due: datetime | None = None,
    closed: datetime | None = None,
    postponements: int = 0,
    conflict: bool = False,
    reporter=None,
) -> Tip:
    code = grid or area_code
    row = Tip(
        category_code="vice.gambling",
        description=PLANTED_DESCRIPTION,
        status=status,
        submitted_at=start,
        dispatched_at=start,
        clock_started_at=start,
        accept_due_at=accept_due or start + timedelta(hours=8),
        resolve_due_at=resolve_due or start + timedelta(days=10),
        accepted_at=accepted,
        closed_at=closed,
        postponements=postponements,
        generation_id=current_generation_id(),
        grid_code=grid,
        area_code=code,
        outside_grids=grid is None,
        conflict=conflict,
        queue_kind="township_discipline" if conflict else "grid_chief",
        queue_area_code=code[:9] if conflict else code,
        reporter_role="member",
        **_point(code),
    )
    db.session.add(row)
    db.session.flush()
    if reporter is not None:
        db.session.add(TipReporter(tip_id=row.id, user_id=reporter.id, receipt_code=PLANTED_RECEIPT))
        db.session.flush()
    return row


def exclude(tip_row: Tip, user) -> None:
    db.session.add(TipExclusion(tip_id=tip_row.id, user_id=user.id))
    db.session.flush()
