#!/usr/bin/env python3
"""Point-to-grid lookup and grid-map import on the 100k-grid synthetic map.

Targets (issue 2): service lookup <= 25 us median and <= 0.15x a brute-force loop of prepared polygons over 1k
grids (same run); the database-only path on PostGIS <= 3x a SELECT 1 round trip; import with validation <= 60 s.
Usage: PYTHONPATH=. .venv/bin/python scripts/bench/bench_locate.py [--grids 100000] [--points 2000]
"""

from __future__ import annotations

import argparse
import random
import time

import shapely
from sqlalchemy import text

from scripts.bench.common import median_us, postgis_url, synthetic_map, table
from server import create_app
from server.areas import services
from server.areas.importer import import_grid_map
from server.areas.index_cache import current_index
from server.extensions import db


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grids", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=2000)
    args = parser.parse_args()
    path = synthetic_map(args.grids)
    app = create_app({"database_url": postgis_url(), "env": "test", "index_check_seconds": 3600})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        started = time.perf_counter()
        import_grid_map(path.read_bytes(), source_name=path.name, imported_by="bench")
        db.session.commit()
        import_s = time.perf_counter() - started
        print(f"imported {args.grids} grids in {import_s:.1f} s", flush=True)
        rows = measure(args.points)
    rows.insert(0, ("metric", "value", "target"))
    rows.append((f"import {args.grids} grids with validation (PostGIS)", f"{import_s:.1f} s", "<= 60 s"))
    print(table(rows))


def measure(n_points: int) -> list[tuple[str, str, str]]:
    index = current_index()
    rng = random.Random(7)
    minx, miny, maxx, maxy = shapely.total_bounds(index.geoms)
    candidates = ((rng.uniform(minx, maxx), rng.uniform(miny, maxy)) for _ in range(n_points * 10))
    points = [p for p in candidates if index.covering(*p) is not None][:n_points]
    it = iter(points * 3)
    service = median_us(lambda: services.locate(*next(it)), n_points * 2)
    prepared = list(index.geoms[:1000])
    box = shapely.total_bounds(prepared)
    around = ((rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])) for _ in range(4000))
    local = [p for p in around if _brute(prepared, *p) is not None][:200]
    it_local = iter(local * 3)
    brute = median_us(lambda: _brute(prepared, *next(it_local)), 400)
    gen = index.generation_id
    it_db = iter(points * 3)
    db_path = median_us(lambda: services.covering_grid_code_in_db(*next(it_db), gen), 1000)
    select_1 = median_us(lambda: db.session.execute(text("SELECT 1")).scalar(), 1000)
    return [
        (f"locate() via in-process index, {len(index)} grids", f"{service:.1f} us", "<= 25 us"),
        ("brute-force prepared covers over 1k grids", f"{brute:.1f} us", "baseline"),
        ("  ratio index / brute force", f"{service / brute:.3f}x", "<= 0.15x"),
        ("database-only ST_Covers lookup (PostGIS)", f"{db_path:.1f} us", ""),
        ("SELECT 1 round trip", f"{select_1:.1f} us", "baseline"),
        ("  ratio database lookup / SELECT 1", f"{db_path / select_1:.2f}x", "<= 3x"),
    ]


def _brute(prepared, lon, lat):
    point = shapely.Point(lon, lat)
    for geom in prepared:
        if geom.covers(point):
            return geom
    return None


if __name__ == "__main__":
    main()
