"""Shared helpers for area tests: the current generation's grids as shapely geometries."""

from __future__ import annotations

import shapely
from sqlalchemy import select

from server.areas.index_cache import current_generation_id
from server.areas.models import Area
from server.extensions import db

PROBLEM = "application/problem+json"


def grid_shapes() -> dict[str, shapely.Geometry]:
    rows = db.session.execute(
        select(Area.code, Area.geom.ST_AsBinary()).where(
            Area.generation_id == current_generation_id(), Area.level == "grid"
        )
    ).all()
    return {code: shapely.from_wkb(bytes(wkb)) for code, wkb in rows}


def covering_codes(shapes: dict[str, shapely.Geometry], lon: float, lat: float) -> list[str]:
    """Every grid that covers the point, by shapely's own boundary-inclusive predicate, sorted by code."""
    point = shapely.Point(lon, lat)
    return sorted(code for code, geom in shapes.items() if geom.covers(point))


def assert_problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["type"] == f"/problems/{slug}", body
    assert body["status"] == status and body["title"] and body["detail"]
    return body
