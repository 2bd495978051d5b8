#!/usr/bin/env python3
"""Login latency and the cost of the scope filter, on SpatiaLite (the embedded default), in one run.

Targets (issue "Accounts, roles and area-scoped access"): login median <= 250 ms through the test client;
the scope filter adds <= 0.2 ms to the same query (with vs without it, measured interleaved).
Usage: PYTHONPATH=. .venv/bin/python scripts/bench/bench_accounts.py [--users 2000] [--logins 20] [--repeat 300]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from scripts.bench.common import ROOT, median_us, table
from server import create_app
from server.extensions import db

DEMO_MAP = ROOT / "grid_maps" / "demo_county.geojson"
PASSWORD = "bench-pass-2026"  # noqa: S105 - a throwaway database


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--logins", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        app = create_app({"database_url": url, "env": "test", "index_check_seconds": 3600})
        with app.app_context():
            setup(args.users)
            rows = measure(app, args.logins, args.repeat)
    rows.insert(0, ("metric", "value", "target"))
    print(table(rows))


def setup(n_users: int) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import select

    from server.accounts.models import User
    from server.accounts.passwords import hash_password
    from server.areas.importer import import_grid_map
    from server.areas.models import Area

    upgrade()
    import_grid_map(DEMO_MAP.read_bytes(), source_name=DEMO_MAP.name, imported_by="bench")
    db.session.commit()
    grids = list(db.session.scalars(select(Area.code).where(Area.level == "grid").order_by(Area.code)))
    digest = hash_password(PASSWORD)
    people = [("admin", "330899"), ("county_staff", "330899"), ("township_staff", grids[0][:9])]
    people += [("grid_chief", grids[0][:12])] + [("member", grids[i % len(grids)]) for i in range(n_users)]
    for i, (role, area) in enumerate(people):
        user = User(phone=f"135{i:08d}", name=f"bench{i}", home_area_code=area, active=True, token_version=1)
        user.password_hash = digest
        user.set_roles([role])
        db.session.add(user)
    db.session.commit()
    from datetime import date

    from server.accounts.assignments import assign_grid

    assign_grid(db.session.scalar(select(User).where(User.phone == "13500000003")), grids[0], "chief", date.today())
    db.session.commit()


def _paired_ms(a, b, repeat: int) -> tuple[float, float, float]:
    """Medians of a and b and the median of their per-pair difference (b - a), interleaved to cancel drift."""
    a(), b()  # warm up
    times_a, times_b = [], []
    for _ in range(repeat):
        for fn, out in ((a, times_a), (b, times_b)):
            start = time.perf_counter_ns()
            fn()
            out.append((time.perf_counter_ns() - start) / 1e6)
    diffs = [y - x for x, y in zip(times_a, times_b, strict=True)]
    return statistics.median(times_a), statistics.median(times_b), statistics.median(diffs)


def measure(app, n_logins: int, repeat: int) -> list[tuple[str, str, str]]:
    from sqlalchemy import select

    from server.accounts import services
    from server.accounts.models import User
    from server.accounts.tokens import issue_pair
    from server.scope import Scope, scope_for

    client = app.test_client()
    login = lambda: client.post("/api/v1/auth/login", json={"phone": "13500000001", "password": PASSWORD})  # noqa: E731
    assert login().status_code == 200
    login_ms = median_us(login, n_logins) / 1000

    everything, county = Scope.all(), Scope.of(["330899"])
    assert services.list_users(everything)[1] == services.list_users(county)[1]  # same rows either way
    plain, scoped, service_diff = _paired_ms(
        lambda: services.list_users(everything, limit=50), lambda: services.list_users(county, limit=50), repeat
    )

    def headers(phone):
        user = db.session.scalar(select(User).where(User.phone == phone))
        pair = issue_pair(user)
        db.session.commit()
        return {"Authorization": f"Bearer {pair['access_token']}"}

    admin, staff = headers("13500000000"), headers("13500000001")
    get_admin = lambda: client.get("/api/v1/users?limit=50", headers=admin)  # noqa: E731
    get_staff = lambda: client.get("/api/v1/users?limit=50", headers=staff)  # noqa: E731
    assert get_admin().get_json()["total"] == get_staff().get_json()["total"]
    request_plain, request_scoped, request_diff = _paired_ms(get_admin, get_staff, repeat)

    chief = db.session.scalar(select(User).where(User.phone == "13500000003"))
    chief_scope_us = median_us(lambda: scope_for(chief), repeat)
    me = lambda: client.get("/api/v1/me", headers=staff)  # noqa: E731
    health = lambda: client.get("/healthz")  # noqa: E731
    health_ms, me_ms, auth_diff = _paired_ms(health, me, repeat)
    total = services.list_users(everything)[1]
    return [
        (f"login median over {n_logins} (test client, argon2id t=2 m=64MiB p=2)", f"{login_ms:.1f} ms", "<= 250 ms"),
        (f"list_users() page of 50 of {total}, no scope filter", f"{plain:.3f} ms", "baseline"),
        ("list_users() same page, county scope filter", f"{scoped:.3f} ms", ""),
        ("  scope filter overhead (median paired difference)", f"{service_diff:+.3f} ms", "<= 0.2 ms"),
        ("GET /api/v1/users?limit=50 as admin (no filter)", f"{request_plain:.3f} ms", "baseline"),
        ("GET /api/v1/users?limit=50 as county staff (filter)", f"{request_scoped:.3f} ms", ""),
        ("  scope overhead per request (median paired difference)", f"{request_diff:+.3f} ms", "<= 0.2 ms"),
        ("scope_for(grid chief) (assignments + home-level queries)", f"{chief_scope_us / 1000:.3f} ms", ""),
        ("GET /healthz (no auth)", f"{health_ms:.3f} ms", "baseline"),
        ("GET /api/v1/me (JWT + user + blocklist + scope)", f"{me_ms:.3f} ms", ""),
        ("  authentication overhead per request", f"{auth_diff:+.3f} ms", ""),
    ]


if __name__ == "__main__":
    main()
