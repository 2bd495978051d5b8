"""SQL geometry constructors that differ between PostGIS and SpatiaLite, in one place."""

from __future__ import annotations

from sqlalchemy import func

from server.extensions import db


def is_spatialite() -> bool:
    return db.engine.dialect.name == "sqlite"


def make_envelope(minx: float, miny: float, maxx: float, maxy: float):
    if is_spatialite():
        return func.BuildMbr(minx, miny, maxx, maxy, 4326)
    return func.ST_MakeEnvelope(minx, miny, maxx, maxy, 4326)
