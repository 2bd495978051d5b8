"""Helpers for the household tests: points inside demo grids, direct inserts, links, and the planted personal data."""

from __future__ import annotations

from datetime import UTC, datetime

import shapely

from server.areas.index_cache import current_index
from server.areas.services import locate
from server.extensions import db
from server.households.models import Household, HouseholdLink, HouseholdTag
from tests.areas.helpers import covering_codes

PLANTED_NAME = "欧阳铁柱"
PLANTED_PHONE = "13912345678"
T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


def grid_geom(code: str) -> shapely.Geometry:
    index = current_index()
    return index.geoms[index.grid_codes.index(code)]


def inside(code: str, k: int = 0) -> tuple[float, float]:
    """A point well inside a grid (k moves it a little, so several households do not share one point)."""
    geom = grid_geom(code)
    centre = geom.representative_point()
    target = shapely.Point(centre.x + 0.00005 * k, centre.y + 0.00003 * k)
    assert geom.buffer(-0.0001).covers(target), "test point must be well inside its grid"
    return target.x, target.y


def add_household(
    grid: str | None = None,
    *,
    point: tuple[float, float] | None = None,
    k: int = 0,
    head_name: str = "王小明",
    head_phone: str | None = "13800001111",
    tags=(),
    size: int = 3,
    ref: str | None = None,
    created_at: datetime = T0,
    last_visited_at: datetime | None = None,
) -> Household:
    lon, lat = point or inside(grid, k)
    found = locate(lon, lat)
    household = Household(
        ref=ref,
        address="测试地址1号",
        location=f"SRID=4326;POINT({lon!r} {lat!r})",
        source_datum="wgs84",
        raw_lon=lon,
        raw_lat=lat,
        head_name=head_name,
        head_phone=head_phone,
        size=size,
        generation_id=found.generation_id,
        grid_code=found.hit.grid.code,
        created_at=created_at,
        last_visited_at=last_visited_at,
    )
    household.tag_rows = [HouseholdTag(tag=t) for t in tags]
    db.session.add(household)
    db.session.commit()
    return household


def link(member, *households, primary: bool = True) -> None:
    for h in households:
        db.session.add(HouseholdLink(household_id=h.id, member_id=member.id, is_primary=primary))
    db.session.commit()


def location(lon: float, lat: float, datum: str = "wgs84", accuracy_m: float | None = 5.0) -> dict:
    return {"lon": lon, "lat": lat, "datum": datum, "accuracy_m": accuracy_m}


def shared_edge_midpoint(shapes):
    """The midpoint of an edge shared by exactly two grids (by shapely's own covers, not by our index)."""
    for geom in sorted(shapes.items())[:40]:
        coords = shapely.get_coordinates(geom[1])
        for (x1, y1), (x2, y2) in zip(coords[:-1], coords[1:], strict=True):
            mid = ((x1 + x2) / 2, (y1 + y2) / 2)
            owners = covering_codes(shapes, *mid)
            if len(owners) == 2:
                return mid, owners
    raise AssertionError("no shared edge found in the demo map")
