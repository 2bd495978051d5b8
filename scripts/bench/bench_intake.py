#!/usr/bin/env python3
"""JSON tip intake throughput through gunicorn (2 workers), against a bare Flask endpoint in the same run.

Targets (issue 4): >= 50% of hello-world's req/s on SpatiaLite, >= 35% on PostGIS, p99 <= 3x hello-world's p99.
SpatiaLite is measured twice: GRID_SQLITE_SYNCHRONOUS=normal (the default: the log synced at checkpoints) and full
(every write commit synced before it returns); PostGIS twice too: GRID_PG_INTAKE_SYNCHRONOUS_COMMIT=off (the default:
intake answers before its commit's WAL is flushed) and on (after).
Load: wrk on loopback, 2 threads, 16 connections, each request a new Idempotency-Key (distinct phones).
A second reference, measured in the same run: a bare INSERT + commit of the body (scripts/bench/ceiling_app.py),
the least any durable intake can cost on this database and disk. Hello-world is measured before and after the others
and averaged, because this machine's speed drifts within a run.
Usage: PYTHONPATH=. .venv/bin/python scripts/bench/bench_intake.py [--seconds 10] [--only spatialite|postgis]
       [--threads N]  every server (hello-world, bare insert, intake) with gunicorn's gthread workers, N threads each
       [--close]      wrk sends Connection: close, as nginx does to its upstream by default (each request connects)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts.bench.common import ROOT, postgis_url, table

WORKERS = 2
GUNICORN = [str(ROOT / ".venv/bin/gunicorn"), "-w", str(WORKERS), "--log-level", "warning"]
SERVING = {"threads": 1, "close": False}  # set from the command line: gunicorn --threads, wrk sends Connection: close
READY_CONFIG = ROOT / "scripts/bench/gunicorn_ready.py"
LUA = ROOT / "scripts/bench/lua/post_tip.lua"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(database_url: str) -> tuple[str, str]:
    """Migrate, load the demo county, make a member; return (token, tip body)."""
    code = f"""
import json
from datetime import date
from flask_migrate import upgrade
from server import create_app
from server.extensions import db
from server.areas.importer import import_grid_map
from server.accounts.models import User
from server.accounts.tokens import issue_pair
from tests.tips.helpers import grid_point, payload
app = create_app({{"database_url": {database_url!r}, "env": "test", "access_token_minutes": 120}})
with app.app_context():
    upgrade()
    raw = open("grid_maps/demo_county.geojson", "rb").read()
    import_grid_map(raw, source_name="demo", imported_by="bench")
    user = User(phone="13600000009", name="压测", home_area_code="330899001001001", active=True, token_version=1)
    user.set_roles(["member"])
    db.session.add(user)
    db.session.flush()
    token = issue_pair(user)["access_token"]
    body = payload(*grid_point("330899001001001"))
    db.session.commit()
    print(json.dumps({{"token": token, "body": body}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | {"PYTHONPATH": str(ROOT), "GRID_ACCESS_TOKEN_MINUTES": "120"},
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["token"], json.dumps(data["body"])


def serve(app_path: str, env: dict) -> tuple[subprocess.Popen, int]:
    """Start gunicorn and return once every worker has loaded the app (scripts/bench/gunicorn_ready.py)."""
    port = free_port()
    ready = Path(tempfile.mkdtemp(prefix="bench-ready-"))
    threads = ["--threads", str(SERVING["threads"])]
    command = [*GUNICORN, *threads, "-c", str(READY_CONFIG), "-b", f"127.0.0.1:{port}", app_path]
    proc = subprocess.Popen(command, cwd=ROOT, env=env | {"BENCH_READY_DIR": str(ready)})
    deadline = time.monotonic() + 120
    while len(list(ready.iterdir())) < WORKERS:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"gunicorn did not start {WORKERS} workers for {app_path}")
        time.sleep(0.1)
    return proc, port


def wrk(url: str, seconds: int, body: str, token: str) -> tuple[float, float, int]:
    """(requests per second, p99 latency in ms, non-2xx count)."""
    env = os.environ | {"BODY": body, "TOKEN": token, "CLOSE": "1" if SERVING["close"] else ""}
    subprocess.run(["wrk", "-t2", "-c16", "-d2s", "-s", str(LUA), url], env=env, capture_output=True, check=True)
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-s", str(LUA), url],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p99, int(bad.group(1)) if bad else 0


def _ms(text: str) -> float:
    value, unit = float(re.match(r"[\d.]+", text).group()), re.search(r"[a-z]+", text).group()
    return value * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def measure(name: str, database_url: str, seconds: int, extra_env: dict | None = None) -> list[tuple[str, str, str]]:
    token, body = prepare(database_url)
    env = (
        os.environ
        | (extra_env or {})
        | {
            "GRID_DATABASE_URL": database_url,
            "GRID_ENV": "test",
            "PYTHONPATH": str(ROOT),
            "GRID_ACCESS_TOKEN_MINUTES": "120",
        }
    )
    subprocess.run(
        [sys.executable, "-c", "from scripts.bench.ceiling_app import create_table; create_table()"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    before = run_served("scripts.bench.hello_app:app", "/hello", env, seconds, body, "")
    floor_rps, floor_p99, floor_bad = run_served("scripts.bench.ceiling_app:app", "/ceiling", env, seconds, body, "")
    if floor_bad:
        raise RuntimeError(f"the bare insert failed {floor_bad} times: its figure would mean nothing")
    rps, p99, bad = run_served("server.wsgi:app", "/api/v1/tips", env, seconds, body, token)
    after = run_served("scripts.bench.hello_app:app", "/hello", env, seconds, body, "")
    # The machine's speed drifts over a run: the baseline is hello-world measured before and after, averaged.
    base_rps, base_p99 = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
    waiting, drain_rate = drain(env)
    target = 0.35 if name.startswith("postgis") else 0.50
    return [
        (
            f"hello world (gunicorn -w 2), {name} run, before and after",
            f"{base_rps:.0f} req/s ({before[0]:.0f}, {after[0]:.0f}), p99 {base_p99:.1f} ms",
            "baseline",
        ),
        (
            f"bare INSERT + commit (ceiling_app), {name}",
            f"{floor_rps:.0f} req/s = {floor_rps / base_rps:.0%}, p99 {floor_p99 / base_p99:.2f}x",
            "reference",
        ),
        (f"POST /api/v1/tips JSON, {name}", f"{rps:.0f} req/s, p99 {p99:.1f} ms, {bad} non-2xx", ""),
        ("  throughput ratio", f"{rps / base_rps:.0%} (of the bare insert: {rps / floor_rps:.0%})", f">= {target:.0%}"),
        ("  p99 ratio", f"{p99 / base_p99:.2f}x", "<= 3x"),
        (f"worker writing the {waiting} accepted tips, {name}", f"{drain_rate:.0f} tips/s", f">= {rps:.0f} (intake)"),
    ]


DRAIN = """
import json, time
from server import create_app
from server.extensions import db
from server.tips.materialise import materialise_waiting, waiting
app = create_app()
with app.app_context():
    total = waiting()
    start = time.perf_counter()
    while materialise_waiting(200):
        db.session.commit()
    print(json.dumps([total, total / (time.perf_counter() - start)]))
"""


def drain(env: dict) -> tuple[int, float]:
    """The worker's side: route and write every tip the run accepted, in its batches; (how many, tips/s)."""
    out = subprocess.run([sys.executable, "-c", DRAIN], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    total, rate = json.loads(out.stdout.strip().splitlines()[-1])
    return total, rate


def run_served(app_path: str, path: str, env: dict, seconds: int, body: str, token: str) -> tuple[float, float, int]:
    server, port = serve(app_path, env)
    try:
        return wrk(f"http://127.0.0.1:{port}{path}", seconds, body, token)
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--only", choices=["spatialite", "postgis"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--close", action="store_true")
    args = parser.parse_args()
    SERVING.update(threads=args.threads, close=args.close)
    rows = [("metric", "value", "target")]
    if args.only in (None, "spatialite"):
        for synchronous in ("normal", "full"):  # GRID_SQLITE_SYNCHRONOUS: the log synced at checkpoints, or per commit
            with tempfile.TemporaryDirectory() as tmp:
                url, env = f"sqlite:///{Path(tmp) / 'bench.sqlite'}", {"GRID_SQLITE_SYNCHRONOUS": synchronous}
                rows += measure(f"spatialite, synchronous={synchronous}", url, args.seconds, env)
    if args.only in (None, "postgis"):
        os.environ["GRID_TEST_PG_DB"] = "grid_bench_intake"
        for commit in ("off", "on"):  # GRID_PG_INTAKE_SYNCHRONOUS_COMMIT: answer before the WAL flush, or after
            env = {"GRID_PG_INTAKE_SYNCHRONOUS_COMMIT": commit}
            rows += measure(f"postgis, intake synchronous_commit={commit}", postgis_url(), args.seconds, env)
    print(table(rows))


if __name__ == "__main__":
    main()
