"""One GridIndex per process, for the current generation, refreshed when another process imports a map.

Every `GRID_INDEX_CHECK_SECONDS` (default 5) the first lookup asks the database which generation is current;
if it changed, the index is rebuilt. The importing process refreshes at once. So every gunicorn worker
serves the new map within that many seconds, and a tip always records the generation it was routed with.
"""

from __future__ import annotations

import threading
import time

import shapely
from flask import current_app
from sqlalchemy import select

from server.areas.models import Area, MapGeneration
from server.extensions import db
from server.geo.grid_index import AreaRef, GridIndex


class IndexCache:
    def __init__(self, check_seconds: float, snap_metres: float = 150.0):
        self.check_seconds = check_seconds
        self.snap_metres = snap_metres
        self.index: GridIndex | None = None
        self.checked_at = float("-inf")
        self.lock = threading.Lock()

    def get(self) -> GridIndex | None:
        if time.monotonic() - self.checked_at < self.check_seconds:
            return self.index
        with self.lock:
            generation_id = current_generation_id()
            if generation_id is None:
                self.index = None
            elif self.index is None or self.index.generation_id != generation_id:
                self.index = build_index(generation_id)
            self.checked_at = time.monotonic()
        return self.index

    def invalidate(self) -> None:
        self.checked_at = float("-inf")


def current_generation_id() -> int | None:
    return db.session.scalar(select(MapGeneration.id).where(MapGeneration.is_current.is_(True)))


def build_index(generation_id: int) -> GridIndex:
    rows = db.session.execute(
        select(Area.code, Area.name, Area.level, Area.parent_code, Area.geom.ST_AsBinary())
        .where(Area.generation_id == generation_id)
        .order_by(Area.code)
    ).all()
    areas = [AreaRef(r.code, r.name, r.level, r.parent_code) for r in rows]
    grid_wkb = [bytes(r[4]) for r in rows if r.level == "grid"]
    return GridIndex(generation_id, areas, list(shapely.from_wkb(grid_wkb)))


def index_cache() -> IndexCache:
    return current_app.extensions["grid_index"]


def current_index() -> GridIndex | None:
    return index_cache().get()
