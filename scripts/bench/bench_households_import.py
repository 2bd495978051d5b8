#!/usr/bin/env python3
"""Importing 100,000 households from CSV on the 100k-grid synthetic map (PostGIS). Target: <= 60 s.

The file is generated here, deterministically: points spread over the map (a few hundred just outside its edge, so
that snapping is exercised), valid phones, tags from the configured list, a ref per row; half of it in GCJ-02 is
timed as well (vectorised datum conversion). Each import is all or nothing, with its validation.

Usage: PYTHONPATH=. .venv/bin/python scripts/bench/bench_households_import.py [--grids 100000] [--households 100000]
The PostGIS database is GRID_TEST_PG_DB (default grid_h_bench); it is dropped and re-created.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import time

import numpy as np

from scripts.bench.common import postgis_url, synthetic_map, table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grids", type=int, default=100_000)
    parser.add_argument("--households", type=int, default=100_000)
    args = parser.parse_args()
    os.environ.setdefault("GRID_TEST_PG_DB", "grid_h_bench")
    path = synthetic_map(args.grids)

    from server import create_app

    app = create_app({"database_url": postgis_url(), "env": "test", "index_check_seconds": 3600})
    with app.app_context():
        rows = run(path, args)
    rows.insert(0, ("metric", "value", "target"))
    print(table(rows))


def run(path, args) -> list[tuple[str, str, str]]:
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from server.areas.importer import import_grid_map
    from server.areas.index_cache import current_index
    from server.extensions import db
    from server.households.importer import import_households
    from server.households.models import Household

    upgrade()
    started = time.perf_counter()
    import_grid_map(path.read_bytes(), source_name=path.name, imported_by="bench")
    db.session.commit()
    print(f"imported {args.grids} grids in {time.perf_counter() - started:.1f} s", flush=True)
    index = current_index()
    n = args.households
    wgs = households_csv(index, n, "wgs84", prefix="W")
    gcj = households_csv(index, n // 2, "gcj02", prefix="G")

    started = time.perf_counter()
    import_households(wgs, filename="households.csv", dry_run=True)
    dry_s = time.perf_counter() - started

    started = time.perf_counter()
    report = import_households(wgs, filename="households.csv", progress=True)
    db.session.commit()
    import_s = time.perf_counter() - started

    started = time.perf_counter()
    import_households(gcj, filename="households_gcj.csv", source_datum="gcj02")
    db.session.commit()
    gcj_s = time.perf_counter() - started
    stored = db.session.scalar(select(func.count()).select_from(Household))
    return [
        (f"import {n} households, CSV, WGS-84 ({len(index)} grids, PostGIS)", f"{import_s:.1f} s", "<= 60 s"),
        ("  of which validation and routing (dry run alone)", f"{dry_s:.1f} s", ""),
        ("  snapped to a grid within the snap distance", str(report.snapped), ""),
        (f"import {n // 2} households, CSV, GCJ-02", f"{gcj_s:.1f} s", ""),
        ("households stored", str(stored), f"{n + n // 2}"),
    ]


def households_csv(index, n: int, datum_name: str, prefix: str) -> bytes:
    from server.config import DEFAULT_HOUSEHOLD_TAGS
    from server.geo import datum

    rng = np.random.default_rng(7 if prefix == "W" else 8)
    cells = index.cells
    lon = rng.uniform(cells.x0, cells.x1, 2 * n)
    lat = rng.uniform(cells.y0, cells.y1, 2 * n)
    found = cells.covering_many(lon, lat)
    edge = n // 500  # points outside every grid but within 100 m of one: they snap
    near = [i for i in np.flatnonzero(found < 0)[: 50 * edge] if index.locate(lon[i], lat[i], 100.0)][:edge]
    keep = np.concatenate((np.array(near, dtype=np.int64), np.flatnonzero(found >= 0)[: n - len(near)]))
    lon, lat = lon[keep], lat[keep]
    if datum_name != "wgs84":
        converted = np.array([datum.from_wgs84(x, y, datum_name) for x, y in zip(lon, lat, strict=True)])
        lon, lat = converted[:, 0], converted[:, 1]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["ref", "address", "lon", "lat", "head_name", "head_phone", "size", "tags"])
    tags = list(DEFAULT_HOUSEHOLD_TAGS)
    for i in range(n):
        tag = tags[i % len(tags)] if i % 3 == 0 else ""
        ref, phone = f"{prefix}{i:07d}", f"138{i:08d}"
        writer.writerow([ref, f"合成路{i}号", f"{lon[i]:.7f}", f"{lat[i]:.7f}", f"户主{i}", phone, 1 + i % 6, tag])
    return out.getvalue().encode()


if __name__ == "__main__":
    main()
