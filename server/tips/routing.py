"""Who answers for a tip: the grid by point-in-polygon, then the grid's chief, deputy or a queue.

Rules (DOMAIN.md, "the chief may be the gang's protector"):
- conflict of interest (the reporter says it implicates a local cadre, or the category is 保护伞): the tip skips
  the grid chief and the village and goes to the township's discipline queue, or the county's when
  GRID_CONFLICT_QUEUE=county. The grid's chief and deputies at that moment are recorded as excluded: they never
  see it, even if they later hold a role that otherwise would.
- otherwise: the grid's current chief; if none, a deputy; if none, the township's queue.
- outside every grid beyond the snap distance: the county queue, flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

from server.accounts.assignments import Responsible, responsible_for_grid
from server.areas import services as areas
from server.areas.index_cache import current_index
from server.areas.models import Area
from server.errors import Problem
from server.extensions import db


@dataclass
class Routing:
    generation_id: int
    grid_code: str | None
    area_code: str  # what scope filters on: the grid, or the county for a tip outside every grid
    snap_distance_m: float | None
    outside_grids: bool
    conflict: bool
    queue_kind: str
    queue_area_code: str
    assignee_user_id: int | None = None
    excluded_user_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Place:
    """Where a tip is, on the current map, before anyone is chosen: a grid and its township and county, or (grid
    None) outside every grid beyond the snap distance."""

    generation_id: int
    county: str
    grid_code: str | None = None
    grid_name: str | None = None
    township: str | None = None
    snap_distance_m: float | None = None


def place_of(lon: float, lat: float) -> Place:
    """Place a canonical WGS-84 point with the in-process grid index (no database round trip)."""
    try:
        found = areas.locate(lon, lat, "wgs84")
    except Problem as problem:
        if problem.slug != "outside-all-grids":
            raise
        index = current_index()
        return Place(index.generation_id, county=index.county_code)
    hit = found.hit
    return Place(
        found.generation_id,
        county=hit.chain[2].code,
        grid_code=hit.grid.code,
        grid_name=hit.grid.name,
        township=hit.chain[1].code,
        snap_distance_m=round(hit.distance_m, 1) if hit.snapped else None,
    )


def route_tip(lon: float, lat: float, *, conflict: bool) -> Routing:
    """Route a canonical WGS-84 point."""
    place = place_of(lon, lat)
    return route(place, responsible_for_grid(place.grid_code) if place.grid_code else [], conflict=conflict)


def route_to_grid(grid_code: str, *, conflict: bool) -> Routing:
    """Route to a named grid of the current map (dispatch and transfer by staff), under the same rules as a point:
    a conflict tip goes to the discipline queue above that grid, never to its chief, whose people are excluded."""
    generation = areas.resolve_generation(None)
    grid = db.session.scalar(select(Area).where(Area.generation_id == generation, Area.code == grid_code))
    if grid is None or grid.level != "grid":
        raise Problem(
            422,
            "unknown-grid",
            f"{grid_code} is not a grid of the current map.",
            errors={"grid_code": ["Not a grid of the current map."]},
        )
    chain = areas.area_chain(grid)
    place = Place(generation, county=chain[2].code, grid_code=grid.code, grid_name=grid.name, township=chain[1].code)
    return route(place, responsible_for_grid(grid.code), conflict=conflict)


def route(place: Place, people: list[Responsible], *, conflict: bool) -> Routing:
    """Who answers for a tip at `place`, given the grid's responsible people in order (responsible_query)."""
    if place.grid_code is None:
        return _outside_every_grid(place, conflict)
    base = dict(
        generation_id=place.generation_id,
        grid_code=place.grid_code,
        area_code=place.grid_code,
        snap_distance_m=place.snap_distance_m,
        outside_grids=False,
        conflict=conflict,
    )
    if conflict:
        to_county = current_app.config["GRID"].conflict_queue == "county"
        queue = ("county_discipline", place.county) if to_county else ("township_discipline", place.township)
        return Routing(
            **base, queue_kind=queue[0], queue_area_code=queue[1], excluded_user_ids=[p.user_id for p in people]
        )
    if people:
        first = people[0]
        kind = "grid_chief" if first.role == "chief" else "grid_deputy"
        return Routing(**base, queue_kind=kind, queue_area_code=place.grid_code, assignee_user_id=first.user_id)
    return Routing(**base, queue_kind="township", queue_area_code=place.township)


def _outside_every_grid(place: Place, conflict: bool) -> Routing:
    """No grid, so no chief: the county's queue, or the county's discipline queue for a conflict of interest."""
    return Routing(
        generation_id=place.generation_id,
        grid_code=None,
        area_code=place.county,
        snap_distance_m=None,
        outside_grids=True,
        conflict=conflict,
        queue_kind="county_discipline" if conflict else "county",
        queue_area_code=place.county,
    )
