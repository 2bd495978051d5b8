#!/usr/bin/env python3
"""Finishing a 10,000-point patrol on the 100k-grid synthetic map (PostGIS).

Targets (issue "Households, party-member links, home visits and volunteer patrols"):
- finishing a 10k-point track (load its batches, clean, simplify, split time per grid, store, commit) <= 300 ms;
- <= 0.1x the time of routing each of its points one by one through services.locate, measured in the same run.
Both ratios are printed: the whole finish against the loop, and the routing step alone (vectorised cell cover +
splitting segments at grid edges) against the loop.

Usage: PYTHONPATH=. .venv/bin/python scripts/bench/bench_patrols.py [--grids 100000] [--points 10000] [--repeat 7]
The PostGIS database is GRID_TEST_PG_DB (default grid_h_bench); it is dropped and re-created.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import numpy as np

from scripts.bench.common import postgis_url, synthetic_map, table

BATCH = 500


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grids", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("GRID_TEST_PG_DB", "grid_h_bench")
    path = synthetic_map(args.grids)

    from server import create_app

    app = create_app({"database_url": postgis_url(), "env": "test", "index_check_seconds": 3600})
    with app.app_context():
        rows = run(app, path, args)
    rows.insert(0, ("metric", "value", "target"))
    print(table(rows))


def run(app, path, args) -> list[tuple[str, str, str]]:
    from flask_migrate import upgrade

    from server.areas.importer import import_grid_map
    from server.areas.index_cache import current_index
    from server.extensions import db

    upgrade()
    started = time.perf_counter()
    import_grid_map(path.read_bytes(), source_name=path.name, imported_by="bench")
    db.session.commit()
    print(f"imported {args.grids} grids in {time.perf_counter() - started:.1f} s", flush=True)
    index = current_index()
    points = random_walk(index, args.points)
    user = bench_user()
    with app.test_request_context():
        return measure(index, user, points, args.repeat)


def bench_user():
    from server.accounts.models import User
    from server.extensions import db

    user = User(phone="13700000999", name="巡查员", home_area_code="339999", active=True, token_version=1)
    user.set_roles(["member"])
    db.session.add(user)
    db.session.commit()
    return user


def random_walk(index, n: int) -> list[list[float]]:
    """A walk at 1.4 m/s, one fix a second, turning gently, inside the map; a few GPS outliers and bad fixes."""
    rng = np.random.default_rng(2026)
    minx, miny, maxx, maxy = index.cells.x0, index.cells.y0, index.cells.x1, index.cells.y1
    lon, lat = (minx + maxx) / 2, (miny + maxy) / 2
    kx = math.cos(math.radians(lat)) * 111_320.0
    heading = rng.uniform(0, 2 * math.pi)
    t0 = 1_790_000_000
    out = []
    for k in range(n):
        heading += rng.normal(0, 0.08)
        lon += 1.4 * math.cos(heading) / kx
        lat += 1.4 * math.sin(heading) / 111_320.0
        out.append([lon, lat, t0 + k, float(rng.uniform(3, 15))])
    for k in rng.choice(n, size=n // 500, replace=False):
        out[k][0] += 0.01  # ~1 km jumps: dropped as too fast
    for k in rng.choice(n, size=n // 500, replace=False):
        out[k][3] = 250.0  # bad fixes: dropped as inaccurate
    return out


def new_patrol(user, points) -> int:
    from server.extensions import db
    from server.patrols import services

    patrol = services.open_patrol(user, "bench")
    order = list(range(0, len(points), BATCH))
    for seq in reversed(order):  # out of order, as phones on weak signal send them
        services.add_batch(patrol.id, user, seq // BATCH, "wgs84", points[seq : seq + BATCH])
    db.session.commit()
    return patrol.id


def measure(index, user, points, repeat: int) -> list[tuple[str, str, str]]:
    from server.areas import services as areas
    from server.extensions import db
    from server.patrols import services, track

    finish_ms, kept = [], None
    for _ in range(repeat + 1):
        patrol_id = new_patrol(user, points)
        db.session.expire_all()
        started = time.perf_counter()
        patrol = services.finish(patrol_id, user)
        db.session.commit()
        finish_ms.append((time.perf_counter() - started) * 1000)
        kept = patrol.points_kept, len(services.grid_rows(patrol_id)), patrol.distance_m
    finish = statistics.median(finish_ms[1:])  # the first run warms the caches

    # The batches as finish reads them from the database (packed float64 rows), out of order.
    batches = [
        track.Batch(k // BATCH, "wgs84", track.unpack_points(track.pack_points(points[k : k + BATCH])))
        for k in reversed(range(0, len(points), BATCH))
    ]
    lon, lat, t, acc = track.gather(batches)
    lon, lat, t, gaps, _ = track.clean(lon, lat, t, acc, max_speed=15.0, max_accuracy=100.0)
    routing_ms = statistics.median(_timed(lambda: track.grid_times(index, lon, lat, t, gaps)) for _ in range(repeat))
    processing_ms = statistics.median(
        _timed(lambda: track.process(batches, index, max_speed=15.0, max_accuracy=100.0, simplify_m=5.0))
        for _ in range(repeat)
    )
    loop_ms = statistics.median(
        _timed(lambda: [areas.locate(p[0], p[1], "wgs84") for p in points]) for _ in range(max(3, repeat // 2))
    )
    n = len(points)
    return [
        (f"finish a {n}-point patrol ({len(index)} grids, PostGIS)", f"{finish:.0f} ms", "<= 300 ms"),
        ("  kept points, grids traversed, distance", f"{kept[0]}, {kept[1]}, {kept[2] / 1000:.1f} km", ""),
        (f"services.locate for each of the {n} points, one by one", f"{loop_ms:.0f} ms", "baseline"),
        ("  ratio whole finish / one-by-one locate", f"{finish / loop_ms:.2f}x", "<= 0.1x"),
        ("track processing: outlier filter + simplification + grids traversed", f"{processing_ms:.1f} ms", ""),
        ("  ratio processing / one-by-one locate", f"{processing_ms / loop_ms:.3f}x", "<= 0.1x"),
        ("routing step alone (covering_many + split at edges)", f"{routing_ms:.1f} ms", ""),
        ("  ratio routing step / one-by-one locate", f"{routing_ms / loop_ms:.3f}x", "<= 0.1x"),
    ]


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


if __name__ == "__main__":
    main()
