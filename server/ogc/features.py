"""The queries behind the OGC collections: areas of one level, filtered by bbox and scope, paged by code."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select, text

from server.areas.models import Area
from server.extensions import db
from server.geo.sql import is_spatialite, make_envelope
from server.scope import Scope


@dataclass(frozen=True)
class Collection:
    id: str
    level: str
    title: str
    description: str


COLLECTIONS = {
    c.id: c
    for c in (
        Collection("grids", "grid", "网格 Grids", "全科网格: the grids of the current map, with coverage indicators."),
        Collection("villages", "village", "村/社区 Villages", "Villages and communities, with 堡垒指数."),
        Collection("townships", "township", "乡镇/街道 Townships", "Townships and sub-districts, with 服务指数."),
    )
}


def _bbox_clause(bbox):
    envelope = make_envelope(*bbox)
    if is_spatialite():
        minx, miny, maxx, maxy = bbox
        hit = Area.id.in_(
            text(
                "SELECT pkid FROM idx_areas_geom WHERE xmax >= :minx AND xmin <= :maxx AND ymax >= :miny "
                "AND ymin <= :maxy"
            ).bindparams(minx=minx, maxx=maxx, miny=miny, maxy=maxy)
        )
        return hit & (func.ST_Intersects(Area.geom, envelope) == 1)
    return func.ST_Intersects(Area.geom, envelope)


def items(generation_id: int, level: str, scope: Scope | None, bbox, limit: int, offset: int):
    query = select(Area).where(Area.generation_id == generation_id, Area.level == level)
    if scope is not None:
        query = query.where(scope.filter(Area.code))
    if bbox is not None:
        query = query.where(_bbox_clause(bbox))
    total = db.session.scalar(select(func.count()).select_from(query.with_only_columns(Area.id).subquery()))
    rows = list(db.session.scalars(query.order_by(Area.code).limit(limit).offset(offset)))
    return rows, total


def item(generation_id: int, level: str, code: str) -> Area | None:
    return db.session.scalar(
        select(Area).where(Area.generation_id == generation_id, Area.level == level, Area.code == code)
    )


_EXTENT_SQL = {
    "postgresql": "SELECT min(ST_XMin(geom)), min(ST_YMin(geom)), max(ST_XMax(geom)), max(ST_YMax(geom))",
    "sqlite": "SELECT min(MbrMinX(geom)), min(MbrMinY(geom)), max(MbrMaxX(geom)), max(MbrMaxY(geom))",
}


def extent(generation_id: int, level: str) -> list[float] | None:
    """The bbox of every area of a level (a generation never changes, so it is kept per app)."""
    cache = current_app.extensions.setdefault("ogc_extents", {})
    key = (generation_id, level)
    if key not in cache:
        sql = _EXTENT_SQL[db.engine.dialect.name] + " FROM areas WHERE generation_id = :g AND level = :level"
        row = db.session.execute(text(sql), {"g": generation_id, "level": level}).one()
        cache[key] = [round(v, 7) for v in row] if row[0] is not None else None
    return cache[key]
