"""Small helpers shared by the benchmarks: medians of repeated timings, app set-up on a chosen database."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def median_us(fn, repeat: int) -> float:
    """Median wall time of one call, in microseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1000)
    return statistics.median(samples)


def postgis_url(name: str | None = None) -> str:
    """A fresh PostGIS database (dropped and recreated): `name`, else $GRID_TEST_PG_DB, else the test suite's."""
    env = os.environ | ({"GRID_TEST_PG_DB": name} if name else {})
    script = ROOT / "scripts/dev/ensure_postgis.sh"
    out = subprocess.run([str(script)], capture_output=True, text=True, check=True, env=env)
    return out.stdout.strip().splitlines()[-1]


def synthetic_map(grids: int) -> Path:
    path = Path(tempfile.gettempdir()) / f"grid_synthetic_{grids}.geojson"
    if not path.exists():
        script = ROOT / "scripts/make_synthetic_map.py"
        subprocess.run([sys.executable, str(script), "--grids", str(grids), "--out", str(path)], check=True)
    return path


def table(rows: list[tuple[str, str, str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows)
