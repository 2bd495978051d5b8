#!/usr/bin/env python3
"""County coverage (JSON and GeoJSON) on PostGIS: the demo county (474 grids) and a synthetic 3,000-grid county.

Target (coverage issue): <= 100 ms median for the county's coverage as JSON and as GeoJSON, on PostGIS.
Each database is filled with synthetic households, primary links, visits, patrols (time per grid) and tips, by
bulk COPY (see `synthesise`). Timings are whole requests through the Flask test client with a county_staff token
(JWT check, scope, queries, roll-up, serialisation):
- cold: the coverage cache emptied before every request (every count computed from the database; the area tree,
  loaded once per map generation and process, stays loaded);
- warm: the per-process cache answering (GRID_COVERAGE_CACHE_SECONDS, <= 60 s), as within a minute of a request.
Usage: PYTHONPATH=. .venv/bin/python scripts/bench/bench_coverage.py [--grids 3000] [--households 100] [--repeat 15]
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from scripts.bench.common import ROOT, postgis_url, synthetic_map, table
from server import create_app
from server.coverage import services
from server.extensions import db

DEMO_MAP = ROOT / "grid_maps" / "demo_county.geojson"
NOW = datetime.now(UTC)


def prepare(url: str, map_path):
    from flask_migrate import upgrade

    from server.areas.importer import import_grid_map

    app = create_app({"database_url": url, "env": "test", "index_check_seconds": 3600})
    with app.app_context():
        upgrade()
        import_grid_map(map_path.read_bytes(), source_name=map_path.name, imported_by="bench")
        db.session.commit()
    return app


def _copy(cursor, table_name: str, columns: list[str], rows) -> int:
    buffer = io.StringIO()
    n = 0
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
        n += 1
    buffer.seek(0)
    with cursor.copy(f"COPY {table_name} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write(buffer.read())
    return n


def synthesise(households_per_grid: int, seed: int = 7) -> dict:
    """Bulk rows for every grid of the current map; returns how many of each were written."""
    from sqlalchemy import text

    rng = random.Random(seed)
    generation = db.session.execute(text("SELECT id, county_code FROM map_generations WHERE is_current")).one()
    grids = db.session.execute(
        text(
            "SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM areas "
            "WHERE generation_id = :g AND level = 'grid' ORDER BY code"
        ),
        {"g": generation.id},
    ).all()
    raw = db.session.connection().connection.driver_connection
    counts = {}
    with raw.cursor() as cur:
        members = max(1, len(grids) * households_per_grid // 11)
        first_user = cur.execute("SELECT coalesce(max(id), 0) + 1 FROM users").fetchone()[0]
        counts["users (members)"] = _copy(
            cur,
            "users",
            ["id", "phone", "name", "active", "home_area_code", "token_version", "created_at"],
            (
                (first_user + i, f"19{i:09d}", f"党员{i}", "t", grids[i % len(grids)][0], 1, NOW.isoformat())
                for i in range(members)
            ),
        )
        cur.execute("SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users))")
        house_rows, link_rows, visit_rows = [], [], []
        hid = 0
        for g_index, (code, x, y) in enumerate(grids):
            for k in range(households_per_grid):
                hid += 1
                last = NOW - timedelta(days=rng.uniform(0, 60)) if rng.random() < 0.9 else None
                point = f"SRID=4326;POINT({x} {y})"
                house_rows.append(
                    (hid, f"B{hid}", "地址", point, "wgs84", x, y, "户主", 3, generation.id, code, last, NOW)
                )
                member = first_user + (g_index * households_per_grid + k) // 11 % members
                if rng.random() < 0.85:
                    link_rows.append((hid, member, "t", NOW))
                if last is not None:
                    visit_rows.append((hid, member, code, last, NOW, point, "wgs84", x, y, 3.0, "f"))
                    if rng.random() < 0.5:
                        earlier = last - timedelta(days=rng.uniform(20, 40))
                        visit_rows.append((hid, member, code, earlier, NOW, point, "wgs84", x, y, 3.0, "f"))
        counts["households"] = _copy(
            cur,
            "households",
            [
                "id",
                "ref",
                "address",
                "location",
                "source_datum",
                "raw_lon",
                "raw_lat",
                "head_name",
                "size",
                "generation_id",
                "grid_code",
                "last_visited_at",
                "created_at",
            ],
            house_rows,
        )
        cur.execute("SELECT setval(pg_get_serial_sequence('households', 'id'), (SELECT max(id) FROM households))")
        counts["primary links"] = _copy(
            cur, "household_links", ["household_id", "member_id", "is_primary", "linked_at"], link_rows
        )
        counts["visits"] = _copy(
            cur,
            "household_visits",
            [
                "household_id",
                "member_id",
                "grid_code",
                "visited_at",
                "recorded_at",
                "location",
                "source_datum",
                "raw_lon",
                "raw_lat",
                "distance_m",
                "far_from_household",
            ],
            visit_rows,
        )
        patrol_rows, grid_rows = [], []
        pid = cur.execute("SELECT coalesce(max(id), 0) FROM patrols").fetchone()[0]
        for g_index in range(len(grids)):
            for _ in range(rng.randint(0, 6)):  # about three patrols a grid over four weeks
                pid += 1
                end = NOW - timedelta(days=rng.uniform(0, 28))
                span = rng.randint(1, 3)
                start = end - timedelta(minutes=30 * span)
                patrol_rows.append(
                    (
                        pid,
                        first_user + g_index % members,
                        grids[g_index][0],
                        "finished",
                        start,
                        end,
                        start,
                        end,
                        1000.0 * span,
                        1800.0 * span,
                        60,
                    )
                )
                for j in range(span):
                    code = grids[min(g_index + j, len(grids) - 1)][0]
                    grid_rows.append((pid, code, 1800.0, 1000.0, end - timedelta(minutes=30), end))
        counts["patrols"] = _copy(
            cur,
            "patrols",
            [
                "id",
                "user_id",
                "home_area_code",
                "status",
                "started_at",
                "finished_at",
                "first_point_at",
                "last_point_at",
                "distance_m",
                "duration_s",
                "points_received",
            ],
            patrol_rows,
        )
        counts["patrol_grids"] = _copy(
            cur,
            "patrol_grids",
            ["patrol_id", "grid_code", "seconds", "distance_m", "first_at", "last_at"],
            {(r[0], r[1]): r for r in grid_rows}.values(),
        )
        tip_rows = []
        statuses = ["dispatched", "accepted", "in_progress", "closed", "closed", "closed", "dismissed"]
        for code, x, y in grids:
            for _ in range(rng.randint(0, 20)):  # about ten tips a grid
                start = NOW - timedelta(days=rng.uniform(0, 90))
                status = rng.choice(statuses)
                accepted = start + timedelta(hours=rng.uniform(0.1, 12)) if status != "dispatched" else None
                closed = start + timedelta(days=rng.uniform(1, 14)) if status == "closed" else None
                tip_rows.append(
                    (
                        "vice.gambling",
                        "合成线索",
                        status,
                        start,
                        start,
                        start,
                        start + timedelta(hours=8),
                        start + timedelta(days=10),
                        accepted,
                        closed,
                        rng.random() < 0.05,
                        f"SRID=4326;POINT({x} {y})",
                        "wgs84",
                        x,
                        y,
                        generation.id,
                        code,
                        code,
                        "f",
                        "grid_chief",
                        code,
                        "member",
                        "f",
                        1,
                        0,
                        0,
                        "f",
                        "f",
                    )
                )
        counts["tips"] = _copy(
            cur,
            "tips",
            [
                "category_code",
                "description",
                "status",
                "submitted_at",
                "dispatched_at",
                "clock_started_at",
                "accept_due_at",
                "resolve_due_at",
                "accepted_at",
                "closed_at",
                "conflict",
                "location",
                "source_datum",
                "raw_lon",
                "raw_lat",
                "generation_id",
                "grid_code",
                "area_code",
                "outside_grids",
                "queue_kind",
                "queue_area_code",
                "reporter_role",
                "anonymous",
                "version",
                "escalation_level",
                "postponements",
                "overdue_notified",
                "implicates_official",
            ],
            tip_rows,
        )
    db.session.commit()
    with db.engine.connect() as conn:  # settled, as autovacuum leaves a live database: statistics, visibility map
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    return counts


def staff_headers(county_code: str) -> dict:
    from server.accounts.models import User
    from server.accounts.passwords import hash_password
    from server.accounts.tokens import issue_pair

    user = User(
        phone="18800000000",
        name="基准测试",
        home_area_code=county_code,
        active=True,
        token_version=1,
        password_hash=hash_password("bench-pass-2026!"),
    )
    user.set_roles(["county_staff"])
    db.session.add(user)
    db.session.commit()
    headers = {"Authorization": f"Bearer {issue_pair(user)['access_token']}"}
    db.session.commit()
    return headers


def median_ms(fn, repeat: int, before=None) -> float:
    samples = []
    for _ in range(repeat):
        if before:
            before()
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def measure(app, label: str, repeat: int) -> list[tuple[str, str, str]]:
    with app.app_context():
        county = db.session.execute(db.text("SELECT county_code FROM map_generations WHERE is_current")).scalar()
        headers = staff_headers(county)
    client = app.test_client()

    def get(fmt: str):
        response = client.get(f"/api/v1/coverage/{county}?format={fmt}", headers=headers)
        assert response.status_code == 200, response.get_data()[:300]
        return response

    def clear():
        with app.app_context():
            services.cache().clear()  # the counts; the area tree stays loaded, as it does once per map generation

    get("json")  # the area tree is loaded once per map generation
    rows = []
    for fmt in ("json", "geojson"):
        cold = median_ms(lambda fmt=fmt: get(fmt), repeat, before=clear)
        get(fmt)
        warm = median_ms(lambda fmt=fmt: get(fmt), repeat)
        rows.append((f"{label}: county coverage {fmt}, cold (computed)", f"{cold:.1f} ms", "<= 100 ms"))
        rows.append((f"{label}: county coverage {fmt}, warm (cached <= 60 s)", f"{warm:.1f} ms", ""))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grids", type=int, default=3000)
    parser.add_argument("--households", type=int, default=100, help="households per grid")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    rows = [("metric", "median", "target")]
    for label, name, path in (
        ("demo county (474 grids)", "grid_c_bench_demo", DEMO_MAP),
        (f"synthetic county ({args.grids} grids)", "grid_c_bench_synth", synthetic_map(args.grids)),
    ):
        app = prepare(postgis_url(name), path)
        with app.app_context():
            started = time.perf_counter()
            counts = synthesise(args.households)
            print(f"{label}: {counts} in {time.perf_counter() - started:.1f} s", flush=True)
        rows += measure(app, label, args.repeat)
    print(table(rows))


if __name__ == "__main__":
    main()
