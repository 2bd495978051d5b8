#!/usr/bin/env python3
"""Vector tiles of the grids with their indicators (GET /tiles/grids/{z}/{x}/{y}.mvt) on PostGIS (ST_AsMVT).

Target (coverage issue): <= 10 ms median for a z12 tile. Same synthetic data as bench_coverage.py. Whole requests
through the Flask test client with a county_staff token, over every z12 tile that touches the county:
- warm: the indicators of the viewer's grids cached (<= GRID_COVERAGE_CACHE_SECONDS), the normal case when a map
  asks for many tiles within a minute; the tile itself is encoded by PostGIS on every request;
- cold: the coverage cache emptied before every request (indicators computed for the whole county first).
Usage: PYTHONPATH=. .venv/bin/python scripts/bench/bench_tiles.py [--grids 3000] [--households 100] [--zoom 12]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import mapbox_vector_tile

from scripts.bench.bench_coverage import prepare, staff_headers, synthesise
from scripts.bench.common import postgis_url, synthetic_map, table
from server.extensions import db


def tiles_over(bbox: tuple[float, float, float, float], z: int) -> list[tuple[int, int]]:
    def tile(lon: float, lat: float) -> tuple[int, int]:
        n = 1 << z
        return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)

    x0, y0 = tile(bbox[0], bbox[3])
    x1, y1 = tile(bbox[2], bbox[1])
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grids", type=int, default=3000)
    parser.add_argument("--households", type=int, default=100)
    parser.add_argument("--zoom", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    app = prepare(postgis_url("grid_c_bench_tiles"), synthetic_map(args.grids))
    with app.app_context():
        print(synthesise(args.households), flush=True)
        county = db.session.execute(db.text("SELECT county_code FROM map_generations WHERE is_current")).scalar()
        bbox = db.session.execute(
            db.text("SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM areas WHERE code = :c"),
            {"c": county},
        ).one()
        headers = staff_headers(county)
    client = app.test_client()
    z = args.zoom
    tiles = tiles_over(tuple(bbox), z)

    def fetch(x: int, y: int) -> bytes:
        response = client.get(f"/tiles/grids/{z}/{x}/{y}.mvt", headers=headers)
        assert response.status_code == 200, response.get_data()[:300]
        return response.get_data()

    features = [len(mapbox_vector_tile.decode(fetch(x, y)).get("grids", {}).get("features", [])) for x, y in tiles]
    warm, cold = [], []
    for _ in range(args.rounds):
        for x, y in tiles:
            start = time.perf_counter()
            fetch(x, y)
            warm.append((time.perf_counter() - start) * 1000)
    for x, y in tiles[: max(3, len(tiles) // 2)]:
        app.extensions.pop("coverage", None)
        start = time.perf_counter()
        fetch(x, y)
        cold.append((time.perf_counter() - start) * 1000)
    busy = [t for t, n in zip(warm, features * args.rounds, strict=True) if n]
    print(
        table(
            [
                ("metric", "median", "target"),
                (f"z{z} tiles over the county", f"{len(tiles)} tiles", f"{sum(features)} grid features"),
                (f"z{z} tile, warm (indicators cached), all tiles", f"{statistics.median(warm):.1f} ms", "<= 10 ms"),
                (f"z{z} tile, warm, tiles with grids only", f"{statistics.median(busy):.1f} ms", "<= 10 ms"),
                ("  largest tile (features)", f"{max(features)}", ""),
                (f"z{z} tile, cold (county indicators computed)", f"{statistics.median(cold):.1f} ms", ""),
            ]
        )
    )


if __name__ == "__main__":
    main()
