"""Mapbox vector tiles of the grids of a viewer's scope, with the coverage indicators as attributes.

- PostGIS: ST_AsMVTGeom + ST_AsMVT in SQL; the indicators (computed and cached in Python, see services.py) are
  passed in as one JSON parameter and joined on the grid code.
- SpatiaLite: the same geometry steps in Python (web-mercator projection, scale to tile units with y down, clip to
  the tile plus a 256-unit buffer) and mapbox-vector-tile's encoder (which rounds to whole units).
Both give one layer `grids`, extent 4096, with the same attributes (NULL / None values are left out, as MVT has no
null). A tile with no grid is an empty body on both.
"""

from __future__ import annotations

import json
import math

import mapbox_vector_tile
import numpy as np
import shapely
from sqlalchemy import bindparam, text

from server.coverage.fields import INDICATOR_FIELDS
from server.extensions import db

LAYER = "grids"
EXTENT = 4096
BUFFER = 256
HALF = 20037508.342789244  # half the web-mercator world, metres
MVT_MIME = "application/vnd.mapbox-vector-tile"
TILE_FIELDS = (("code", "text"), ("name", "text")) + tuple(
    (f.name, {"count": "int8", "time": "text"}.get(f.kind, "float8")) for f in INDICATOR_FIELDS
)


def tile_bounds_3857(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    size = 2 * HALF / (1 << z)
    return -HALF + x * size, HALF - (y + 1) * size, -HALF + (x + 1) * size, HALF - y * size


def _lon_lat(mx: float, my: float) -> tuple[float, float]:
    return math.degrees(mx / 6378137.0), math.degrees(2 * math.atan(math.exp(my / 6378137.0)) - math.pi / 2)


def tile_bounds_4326(z: int, x: int, y: int, margin: float = 0.0) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = tile_bounds_3857(z, x, y)
    pad = (maxx - minx) * margin
    west, south = _lon_lat(max(minx - pad, -HALF), max(miny - pad, -HALF))
    east, north = _lon_lat(min(maxx + pad, HALF), min(maxy + pad, HALF))
    return west, south, east, north


def to_3857(geom):
    def project(coords: np.ndarray) -> np.ndarray:
        lon, lat = coords[:, 0], np.clip(coords[:, 1], -85.05112878, 85.05112878)
        x = np.radians(lon) * 6378137.0
        y = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * 6378137.0
        return np.column_stack([x, y])

    return shapely.transform(geom, project)


_CODES_SQL = {
    "postgresql": text(
        "SELECT code FROM areas WHERE generation_id = :g AND level = 'grid'"
        " AND geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)"
    ),
    "sqlite": text(
        "SELECT code FROM areas WHERE generation_id = :g AND level = 'grid' AND id IN (SELECT pkid FROM idx_areas_geom"
        " WHERE xmax >= :w AND xmin <= :e AND ymax >= :s AND ymin <= :n)"
    ),
}


def grid_codes_in_tile(generation_id: int, z: int, x: int, y: int) -> list[str]:
    w, s, e, n = tile_bounds_4326(z, x, y, margin=BUFFER / EXTENT)
    sql = _CODES_SQL[db.engine.dialect.name]
    return list(db.session.scalars(sql, {"g": generation_id, "w": w, "s": s, "e": e, "n": n}))


def _postgis_sql():
    # The attributes come as one JSON array of rows (positional, in TILE_FIELDS order): binding one jsonb parameter
    # is several times cheaper than one array parameter per attribute (scripts/bench/bench_tiles.py).
    columns = ", ".join(f"(j->>{i})::{kind} AS {name}" for i, (name, kind) in enumerate(TILE_FIELDS))
    return text(
        f"WITH attrs AS (SELECT {columns} FROM jsonb_array_elements(CAST(:attrs AS jsonb)) AS j),"
        " env AS (SELECT ST_TileEnvelope(:z, :x, :y) AS e)"
        f" SELECT ST_AsMVT(t.*, '{LAYER}', {EXTENT}, 'geom') FROM ("
        f"  SELECT ST_AsMVTGeom(ST_Transform(ar.geom, 3857), env.e, {EXTENT}, {BUFFER}, true) AS geom, attrs.*"
        "   FROM attrs JOIN areas ar ON ar.generation_id = :g AND ar.code = attrs.code, env"
        "   OFFSET 0"  # a fence: without it the planner pushes the filter below and clips every polygon twice
        " ) AS t WHERE t.geom IS NOT NULL"
    )


_POSTGIS_TILE = None


def encode_postgis(generation_id: int, z: int, x: int, y: int, rows: list[dict]) -> bytes:
    global _POSTGIS_TILE
    if not rows:
        return b""
    if _POSTGIS_TILE is None:
        _POSTGIS_TILE = _postgis_sql()
    names = [name for name, _ in TILE_FIELDS]
    attrs = json.dumps([[row.get(name) for name in names] for row in rows], ensure_ascii=False)
    data = db.session.execute(_POSTGIS_TILE, {"attrs": attrs, "g": generation_id, "z": z, "x": x, "y": y}).scalar()
    return bytes(data) if data else b""


def encode_python(generation_id: int, z: int, x: int, y: int, rows: list[dict]) -> bytes:
    if not rows:
        return b""
    by_code = {row["code"]: row for row in rows}
    wkb = db.session.execute(
        text(
            "SELECT code, ST_AsBinary(geom) FROM areas WHERE generation_id = :g AND level = 'grid' AND code IN :codes"
        ).bindparams(bindparam("codes", expanding=True)),
        {"g": generation_id, "codes": list(by_code)},
    ).all()
    minx, miny, maxx, maxy = tile_bounds_3857(z, x, y)
    scale = EXTENT / (maxx - minx)

    def tile_units(coords: np.ndarray) -> np.ndarray:  # web mercator -> tile units, y down (as the MVT spec)
        return np.column_stack([(coords[:, 0] - minx) * scale, (maxy - coords[:, 1]) * scale])

    features = []
    for code, blob in sorted(wkb):
        projected = shapely.transform(to_3857(shapely.from_wkb(bytes(blob))), tile_units)
        geom = shapely.clip_by_rect(projected, -BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
        if geom.is_empty or geom.area == 0:
            continue
        props = {name: by_code[code].get(name) for name, _ in TILE_FIELDS}
        features.append({"geometry": geom, "properties": {k: v for k, v in props.items() if v is not None}})
    if not features:
        return b""
    return mapbox_vector_tile.encode(
        [{"name": LAYER, "features": features}], default_options={"extents": EXTENT, "y_coord_down": True}
    )


def encode(generation_id: int, z: int, x: int, y: int, rows: list[dict]) -> bytes:
    if db.engine.dialect.name == "postgresql":
        return encode_postgis(generation_id, z, x, y, rows)
    return encode_python(generation_id, z, x, y, rows)
