#!/usr/bin/env python3
"""The triage inbox with 100k tips in the database: one page of 50, through the whole Flask stack.

Target (issue "Triage for grid chiefs"): an inbox page of 50 tips with 100k tips in the database <= 30 ms median on
PostGIS. The tips are bulk-generated (COPY on PostGIS, executemany on SpatiaLite), not sent through the API; they
spread over the 474 grids of the demo county, a year of submissions, every status, 5 % conflict-of-interest tips.
Timings are whole GET requests through the Flask test client (auth, scope, visibility, counts, paging, views).
Usage: PYTHONPATH=. .venv/bin/python scripts/bench/bench_inbox.py [--tips 100000] [--repeat 60] [--backend postgis]
The PostGIS database is `grid_w_bench` on the local server (created afresh; see scripts/dev/ensure_postgis.sh).
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scripts.bench.common import ROOT, postgis_url, table
from server import create_app
from server.extensions import db

DEMO_MAP = ROOT / "grid_maps" / "demo_county.geojson"
BENCH_DB = "grid_w_bench"
NOW = datetime.now(UTC).replace(microsecond=0)
STATUSES = (
    ["dispatched"] * 20
    + ["escalated"] * 3
    + ["returned"] * 2
    + ["accepted"] * 10
    + ["in_progress"] * 15
    + ["postponed"] * 2
    + ["resolved"] * 8
    + ["closed"] * 35
    + ["dismissed"] * 3
    + ["referred"] * 1
    + ["merged"] * 1
)
OPEN = {"dispatched", "escalated", "returned", "accepted", "in_progress", "postponed"}
COLUMNS = [
    "category_code",
    "description",
    "status",
    "submitted_at",
    "dispatched_at",
    "clock_started_at",
    "accept_due_at",
    "resolve_due_at",
    "warn_at",
    "next_check_at",
    "accepted_at",
    "resolved_at",
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
    "assignee_user_id",
    "reporter_role",
    "anonymous",
    "version",
    "escalation_level",
    "postponements",
    "overdue_notified",
    "implicates_official",
]


def build(backend: str, n_tips: int, *, open_only: bool = False, due: int = 0, seed: int = 7):
    """A fresh database with the demo county, staff accounts and `n_tips` bulk tips. Returns (app, people)."""
    url = postgis_url(BENCH_DB) if backend == "postgis" else f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite'}"
    app = create_app({"database_url": url, "env": "test", "index_check_seconds": 3600})
    with app.app_context():
        from flask_migrate import upgrade

        from server.areas.importer import import_grid_map

        upgrade()
        import_grid_map(DEMO_MAP.read_bytes(), source_name=DEMO_MAP.name, imported_by="bench")
        db.session.commit()
        people = _people()
        started = time.perf_counter()
        rows = list(_tips(n_tips, people, open_only=open_only, due=due, seed=seed))
        _insert(backend, rows)
        seconds = time.perf_counter() - started
        _vacuum_analyze(backend)
    print(f"{backend}: {n_tips} tips bulk-inserted in {seconds:.1f} s", flush=True)
    return app, people


def _people() -> dict:
    from datetime import date

    from sqlalchemy import select

    from server.accounts.assignments import assign_grid
    from server.accounts.models import User
    from server.accounts.tokens import issue_pair
    from server.areas.models import Area

    grids = list(db.session.scalars(select(Area.code).where(Area.level == "grid").order_by(Area.code)))
    spec = [
        ("county", "county_staff", grids[0][:6]),
        ("township", "township_staff", grids[0][:9]),
        ("chief", "grid_chief", grids[0][:12]),
    ]
    people = {"grids": grids}
    for i, (name, role, area) in enumerate(spec):
        user = User(phone=f"1350000{i:04d}", name=name, home_area_code=area, active=True, token_version=1)
        user.set_roles([role])
        db.session.add(user)
        db.session.flush()
        if role == "grid_chief":
            assign_grid(user, grids[0], "chief", date.today())
        people[name] = {"id": user.id, "token": issue_pair(user)["access_token"]}
    for i, code in enumerate(grids[1:], start=10):  # every other grid has a chief too
        user = User(phone=f"1351{i:07d}", name=f"chief{i}", home_area_code=code[:12], active=True, token_version=1)
        user.set_roles(["grid_chief"])
        db.session.add(user)
        db.session.flush()
        assign_grid(user, code, "chief", date.today())
        people.setdefault("chief_of", {})[code] = user.id
    people.setdefault("chief_of", {})[grids[0]] = people["chief"]["id"]
    db.session.commit()
    return people


def _tips(n: int, people: dict, *, open_only: bool, due: int, seed: int):
    from sqlalchemy import text

    rng = random.Random(seed)
    generation = db.session.scalar(text("SELECT id FROM map_generations WHERE is_current"))
    points = db.session.execute(
        text(
            "SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM areas "
            "WHERE generation_id = :g AND level = 'grid' ORDER BY code"
        ),
        {"g": generation},
    ).all()
    statuses = [s for s in STATUSES if s in OPEN] if open_only else STATUSES
    categories = ["vice.gambling", "vice.drugs", "gang.village_bully", "cult", "other"]
    for i in range(n):
        code, x, y = points[i % len(points)]
        status = rng.choice(statuses)
        start = NOW - timedelta(days=rng.uniform(0.5, 365))
        conflict = rng.random() < 0.05
        awaiting = status in ("dispatched", "escalated", "returned")
        level = {"escalated": 1, "returned": 1}.get(status, 0)
        queue = (
            ("township_discipline", code[:9])
            if conflict
            else (("grid_chief", code) if level == 0 else ("township", code[:9]))
        )
        accept_due = start + timedelta(hours=rng.uniform(2, 40))
        resolve_due = start + timedelta(days=14)
        # the escalation job's next look: `due` tips are due now, the rest later (or never)
        if i < due:
            check = NOW - timedelta(minutes=rng.uniform(1, 50))
        elif status in OPEN:
            check = NOW + timedelta(hours=rng.uniform(1, 200))
        else:
            check = None
        accepted = start + timedelta(hours=rng.uniform(0.5, 8)) if not awaiting else None
        resolved = start + timedelta(days=rng.uniform(1, 12)) if status in ("resolved", "closed") else None
        closed = resolved + timedelta(hours=4) if status == "closed" else None
        yield (
            rng.choice(categories),
            "合成线索 bench",
            status,
            start,
            start,
            start,
            accept_due,
            resolve_due,
            start + (accept_due - start) * 0.75,
            check,
            accepted,
            resolved,
            closed,
            conflict,
            f"SRID=4326;POINT({x + rng.uniform(-1e-4, 1e-4)} {y + rng.uniform(-1e-4, 1e-4)})",
            "wgs84",
            x,
            y,
            generation,
            code,
            code,
            False,
            queue[0],
            queue[1],
            people["chief_of"].get(code) if queue[0] == "grid_chief" else None,
            "member",
            False,
            1,
            1 if conflict else level,
            0,
            False,
            conflict,
        )


def _insert(backend: str, rows: list[tuple]) -> None:
    if backend == "postgis":
        raw = db.session.connection().connection.dbapi_connection
        with raw.cursor() as cursor:
            buffer = io.StringIO()
            for row in rows:
                buffer.write("\t".join(_copy_value(v) for v in row) + "\n")
            buffer.seek(0)
            with cursor.copy(f"COPY tips ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                copy.write(buffer.read())
        db.session.commit()
        return
    from sqlalchemy import text

    values = ", ".join(f":{c}" if c != "location" else "GeomFromEWKT(:location)" for c in COLUMNS)
    statement = text(f"INSERT INTO tips ({', '.join(COLUMNS)}) VALUES ({values})")  # noqa: S608 - fixed columns
    db.session.execute(statement, [dict(zip(COLUMNS, row, strict=True)) for row in rows])
    db.session.commit()


def _vacuum_analyze(backend: str) -> None:
    """The steady state autovacuum keeps: statistics, and the visibility map that index-only scans need."""
    db.session.commit()
    if backend == "postgis":
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    else:
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()


def _copy_value(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def median_ms(fn, repeat: int) -> float:
    fn()  # warm up
    samples = []
    for _ in range(repeat):
        started = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - started) / 1e6)
    return statistics.median(samples)


def measure(app, people, repeat: int, backend: str) -> list[tuple[str, str, str]]:
    client = app.test_client()
    rows = []
    cases = [
        ("county staff, all 100k visible, newest first", "county", "/api/v1/tips?limit=50"),
        ("county staff, page 20 (offset 950)", "county", "/api/v1/tips?limit=50&offset=950"),
        ("county staff, status=dispatched", "county", "/api/v1/tips?limit=50&status=dispatched"),
        ("county staff, overdue=true", "county", "/api/v1/tips?limit=50&overdue=true"),
        ("county staff, sort=accept_due_at", "county", "/api/v1/tips?limit=50&sort=accept_due_at"),
        ("township staff (one township)", "township", "/api/v1/tips?limit=50"),
        ("grid chief (one grid)", "chief", "/api/v1/tips?limit=50"),
    ]
    for label, who, path in cases:
        headers = {"Authorization": f"Bearer {people[who]['token']}"}
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        ms = median_ms(lambda p=path, h=headers: client.get(p, headers=h), repeat)
        rows.append(
            (
                f"{label} [{len(body['items'])} of {body['total']}]",
                f"{ms:.1f} ms",
                "<= 30 ms" if backend == "postgis" else "-",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tips", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=60)
    parser.add_argument("--backend", choices=["postgis", "spatialite"], default="postgis")
    args = parser.parse_args()
    app, people = build(args.backend, args.tips)
    rows = measure(app, people, args.repeat, args.backend)  # no outer app context: each request has its own
    rows.insert(0, (f"inbox page of 50, {args.tips} tips ({args.backend}), median of {args.repeat}", "value", "target"))
    print(table(rows))


if __name__ == "__main__":
    main()
