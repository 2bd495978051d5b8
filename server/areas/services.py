"""Area look-ups: the hierarchy, grid listings and point-to-grid location. Plain functions; they never commit."""

from __future__ import annotations

import re
from dataclasses import dataclass

from geoalchemy2.shape import to_shape
from sqlalchemy import func, select, text

from server.areas.index_cache import current_generation_id, index_cache
from server.areas.models import Area, MapGeneration
from server.errors import NotFound, Problem
from server.extensions import db
from server.geo import datum
from server.geo.grid_index import AreaRef, GridHit
from server.geo.sql import is_spatialite, make_envelope

AREA_CODE = re.compile(r"\d{6}(\d{3}){0,3}")


@dataclass(slots=True)
class Location:
    hit: GridHit
    generation_id: int
    wgs84: tuple[float, float]

    @property
    def chain(self) -> tuple[AreaRef, ...]:
        return self.hit.chain


def no_map_loaded() -> Problem:
    return Problem(503, "no-map-loaded", "No grid map is loaded yet. Import one with `flask grids import FILE`.")


def resolve_generation(generation_id: int | None) -> int:
    if generation_id is not None:
        if db.session.get(MapGeneration, generation_id) is None:
            raise NotFound("map generation")
        return generation_id
    current = current_generation_id()
    if current is None:
        raise no_map_loaded()
    return current


def get_area(code: str, generation_id: int | None = None) -> Area:
    if not AREA_CODE.fullmatch(code):  # also keeps NUL bytes and the like away from the database
        raise NotFound("area")
    area = db.session.scalar(
        select(Area).where(Area.generation_id == resolve_generation(generation_id), Area.code == code)
    )
    if area is None:
        raise NotFound("area")
    return area


def get_children(code: str, generation_id: int | None = None) -> list[Area]:
    parent = get_area(code, generation_id)
    query = select(Area).where(Area.generation_id == parent.generation_id, Area.parent_code == parent.code)
    return list(db.session.scalars(query.order_by(Area.code)))


def area_chain(area: Area) -> list[Area]:
    """The area's ancestors, nearest first (village, township, county for a grid)."""
    chain, parent_code = [], area.parent_code
    while parent_code:
        parent = get_area(parent_code, area.generation_id)
        chain.append(parent)
        parent_code = parent.parent_code
    return chain


def locate(lon: float, lat: float, datum_name: str = "wgs84") -> Location:
    """The grid that answers for a point given in any supported datum; 404 problem beyond the snap distance."""
    wgs_lon, wgs_lat = datum.to_wgs84(lon, lat, datum_name)
    cache = index_cache()
    index = cache.get()
    if index is None or len(index) == 0:
        raise no_map_loaded()
    hit = index.locate(wgs_lon, wgs_lat, cache.snap_metres)
    if hit is None:
        raise _far_miss(index, wgs_lon, wgs_lat, cache.snap_metres)
    return Location(hit, index.generation_id, (wgs_lon, wgs_lat))


def _far_miss(index, lon: float, lat: float, snap: float) -> Problem:
    i, distance = index.nearest(lon, lat)
    nearest = index.areas[index.grid_codes[i]]
    return Problem(
        404,
        "outside-all-grids",
        f"The point is {distance:.0f} m from the nearest grid, {nearest.name} ({nearest.code}), beyond the "
        f"{snap:.0f} m snap distance. Check the datum (a GCJ-02 point read as WGS-84 is about 500 m off).",
        title="Outside every grid",
        nearest_grid={"code": nearest.code, "name": nearest.name},
        distance_m=round(distance, 1),
    )


# The database path of point-to-grid, as plain SQL per dialect: it is a hot, fixed query, and the ORM's bound
# parameters made PostgreSQL plan a scan of the level index instead of the spatial one (1.25 ms against 0.16 ms
# on 100k grids; scripts/bench/bench_locate.py). SpatiaLite needs its R*Tree named explicitly.
_COVERING_GRID_SQL = {
    "postgresql": text(
        "SELECT code FROM areas WHERE generation_id = :g AND level = 'grid'"
        " AND geom && ST_SetSRID(ST_MakePoint(:x, :y), 4326)"
        " AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) ORDER BY code LIMIT 1"
    ),
    "sqlite": text(
        "SELECT code FROM areas WHERE generation_id = :g AND level = 'grid'"
        " AND id IN (SELECT pkid FROM idx_areas_geom WHERE xmin <= :x AND xmax >= :x AND ymin <= :y AND ymax >= :y)"
        " AND ST_Covers(geom, MakePoint(:x, :y, 4326)) = 1 ORDER BY code LIMIT 1"
    ),
}


def covering_grid_code_in_db(lon: float, lat: float, generation_id: int) -> str | None:
    """The database's answer to the same question as the index: boundary-inclusive ST_Covers, smallest code."""
    sql = _COVERING_GRID_SQL[db.engine.dialect.name]
    return db.session.execute(sql, {"g": generation_id, "x": lon, "y": lat}).scalar()


def _spatialite_index_hit(minx: float, miny: float, maxx: float, maxy: float):
    """SpatiaLite does not use its R*Tree by itself: restrict to the rows whose box meets the search box."""
    return Area.id.in_(
        text(
            "SELECT pkid FROM idx_areas_geom WHERE xmax >= :minx AND xmin <= :maxx AND ymax >= :miny AND ymin <= :maxy"
        ).bindparams(minx=minx, maxx=maxx, miny=miny, maxy=maxy)
    )


def list_grids(bbox: tuple[float, float, float, float] | None, within: str | None, limit: int, offset: int):
    """Grids of the current generation, by code, filtered by a WGS-84 bbox and/or an ancestor's code."""
    query = select(Area).where(Area.generation_id == resolve_generation(None), Area.level == "grid")
    if within:
        query = query.where(Area.code.startswith(get_area(within).code, autoescape=True))
    if bbox:
        query = query.where(_bbox_filter(bbox))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = list(db.session.scalars(query.order_by(Area.code).limit(limit).offset(offset)))
    return rows, total


def _bbox_filter(bbox: tuple[float, float, float, float]):
    envelope = make_envelope(*bbox)
    if is_spatialite():
        return _spatialite_index_hit(*bbox) & (func.ST_Intersects(Area.geom, envelope) == 1)
    return func.ST_Intersects(Area.geom, envelope)


def area_shape(area: Area):
    return to_shape(area.geom)
