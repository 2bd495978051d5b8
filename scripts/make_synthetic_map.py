#!/usr/bin/env python3
"""Generate a large synthetic grid map (GeoJSON) for benchmarks.

The map is a jittered lattice: a rectangular lattice of shared vertices, each moved by a
deterministic random offset of at most 20 % of the cell size, then quantised to 1e-7 degrees.
Every grid is one lattice cell (a quadrilateral of four shared vertices, always a simple
polygon because the jitter is below 25 %). Villages are blocks of 3 x 3 cells, townships are
blocks of villages, the county is everything. Parent outlines are traced from the same lattice
vertices (every vertex along the block boundary is kept), so the levels tile each other exactly
and ``server.geo.validate`` reports no gaps and no overlaps.

If ``--grids`` is not a multiple of the block sizes, blocks are filled in row-major order and the
last village / township / row of townships is partial (a staircase outline, never a diagonal
touch), so every area is still a single simple polygon.

The output is NOT committed; it defaults to /tmp/synthetic_<N>.geojson.

    .venv/bin/python scripts/make_synthetic_map.py --grids 100000 --out /tmp/synthetic_100k.geojson
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tqdm import tqdm

METRES_PER_DEGREE = 111_320.0
QUANTUM = 10_000_000  # coordinates are multiples of 1e-7 degrees

VILLAGE_W, VILLAGE_H = 3, 3  # cells per village block
CENTRE_LON, CENTRE_LAT = 118.87, 28.94  # near Quzhou
CELL_M = 350.0
JITTER = 0.2  # fraction of the cell size


def _township_suffix(seq: int) -> str:
    if seq < 100:
        return "街道"
    if seq < 200:
        return "镇"
    if seq < 400:
        return "乡"
    return "镇"


def _layout(n_grids: int) -> tuple[int, int, int, int]:
    """Return (villages per township across, down, township columns, township rows)."""
    n_villages = math.ceil(n_grids / (VILLAGE_W * VILLAGE_H))
    tw = th = 6
    while math.ceil(n_villages / (tw * th)) > 999:
        tw += 1
        th += 1
    if tw * th > 999:
        raise SystemExit(f"{n_grids} grids do not fit the 3-digit township and village code space")
    n_townships = math.ceil(n_villages / (tw * th))
    cols = math.ceil(math.sqrt(n_townships))
    rows = math.ceil(n_townships / cols)
    return tw, th, cols, rows


def _trace_boundary(cells: np.ndarray, stride: int) -> list[int]:
    """Trace the outline of a set of lattice cells as one counter-clockwise ring of vertex ids.

    ``cells`` is an (n, 2) array of (i, j) cell positions; vertex (i, j) has id ``j * stride + i``.
    The set must be edge-connected without holes or diagonal-only contacts (true for the
    row-major block fills used here); a ValueError is raised otherwise.
    """
    i0, j0 = cells.min(axis=0)
    w, h = cells.max(axis=0) - (i0, j0) + 1
    mask = np.zeros((h + 2, w + 2), dtype=bool)  # padded, indexed [row j, column i]
    mask[cells[:, 1] - j0 + 1, cells[:, 0] - i0 + 1] = True
    inner = mask[1:-1, 1:-1]
    jj, ii = np.nonzero(inner)
    nxt: dict[tuple[int, int], tuple[int, int]] = {}

    def add(starts_i, starts_j, ends_i, ends_j):
        for a, b, c, d in zip(starts_i.tolist(), starts_j.tolist(), ends_i.tolist(), ends_j.tolist(), strict=True):
            if (a, b) in nxt:
                raise ValueError("cell set touches itself diagonally")
            nxt[(a, b)] = (c, d)

    # Edges with the region on the left, i.e. counter-clockwise around each cell.
    sel = ~mask[jj, ii + 1]  # no cell below -> bottom edge (i, j) -> (i+1, j)
    add(ii[sel], jj[sel], ii[sel] + 1, jj[sel])
    sel = ~mask[jj + 1, ii + 2]  # no cell to the right -> (i+1, j) -> (i+1, j+1)
    add(ii[sel] + 1, jj[sel], ii[sel] + 1, jj[sel] + 1)
    sel = ~mask[jj + 2, ii + 1]  # no cell above -> (i+1, j+1) -> (i, j+1)
    add(ii[sel] + 1, jj[sel] + 1, ii[sel], jj[sel] + 1)
    sel = ~mask[jj + 1, ii]  # no cell to the left -> (i, j+1) -> (i, j)
    add(ii[sel], jj[sel] + 1, ii[sel], jj[sel])

    start = min(nxt)
    ring = [start]
    v = nxt[start]
    while v != start:
        ring.append(v)
        v = nxt[v]
        if len(ring) > len(nxt):
            raise ValueError("boundary does not close")
    if len(ring) != len(nxt):
        raise ValueError("cell set has holes or several parts")
    ring.append(start)
    return [(j + j0) * stride + (i + i0) for i, j in ring]


def _feature(code: str, name: str, level: str, parent: str | None, ring: Iterable[int], vertex_json: list[str]) -> str:
    props = json.dumps(
        {"code": code, "name": name, "level": level, "parent_code": parent}, ensure_ascii=False, separators=(",", ":")
    )
    coords = ",".join(vertex_json[v] for v in ring)
    return (
        '{"type":"Feature","properties":' + props + ',"geometry":{"type":"Polygon","coordinates":[[' + coords + "]]}}"
    )


def render(n_grids: int, county_code: str = "339999", seed: int = 0, progress: bool = False) -> str:
    """Return the GeoJSON text of a synthetic county with exactly ``n_grids`` grids."""
    if n_grids < 1:
        raise ValueError("need at least one grid")
    if len(county_code) != 6 or not county_code.isascii() or not county_code.isdigit():
        raise ValueError("county code must be 6 digits")
    tw, th, cols, rows = _layout(n_grids)
    width = cols * tw * VILLAGE_W
    height = rows * th * VILLAGE_H
    stride = width + 1

    dlat = CELL_M / METRES_PER_DEGREE
    dlon = CELL_M / (METRES_PER_DEGREE * math.cos(math.radians(CENTRE_LAT)))
    lon0 = CENTRE_LON - width * dlon / 2
    lat0 = CENTRE_LAT - height * dlat / 2
    if not (lon0 > 73 and lon0 + width * dlon < 135 and lat0 > 18 and lat0 + height * dlat < 53):
        raise SystemExit(f"{n_grids} grids do not fit inside China at {CELL_M:.0f} m per cell")

    rng = np.random.default_rng(seed)
    jj, ii = np.mgrid[0 : height + 1, 0 : width + 1]
    jitter = rng.uniform(-JITTER, JITTER, size=(2, height + 1, width + 1))
    lon_q = np.rint((lon0 + (ii + jitter[0]) * dlon) * QUANTUM).astype(np.int64).ravel()
    lat_q = np.rint((lat0 + (jj + jitter[1]) * dlat) * QUANTUM).astype(np.int64).ravel()
    vertex_json = [
        f"[{x!r},{y!r}]" for x, y in zip((lon_q / QUANTUM).tolist(), (lat_q / QUANTUM).tolist(), strict=True)
    ]

    # Assign cells in row-major block order: township blocks, village blocks, cells.
    per_village = VILLAGE_W * VILLAGE_H
    per_township = tw * th * per_village
    k = np.arange(n_grids)
    t, rest = divmod(k, per_township)
    v, c = divmod(rest, per_village)
    cell_i = (t % cols) * tw * VILLAGE_W + (v % tw) * VILLAGE_W + c % VILLAGE_W
    cell_j = (t // cols) * th * VILLAGE_H + (v // tw) * VILLAGE_H + c // VILLAGE_W
    village_id = k // per_village  # global village number
    cells = np.column_stack([cell_i, cell_j])

    county_name = "合成测试县"
    grid_lines: list[str] = []
    village_lines: list[str] = []
    township_lines: list[str] = []
    bar = tqdm(total=n_grids, unit="grid", disable=not progress, file=sys.stderr, desc="synthetic map")
    n_villages = int(village_id[-1]) + 1
    village_starts = np.arange(0, n_villages + 1) * per_village
    village_starts[-1] = n_grids
    for vid in range(n_villages):
        a, b = int(village_starts[vid]), int(village_starts[vid + 1])
        ts, vs = divmod(vid, tw * th)
        t_code = f"{county_code}{ts + 1:03d}"
        t_name = f"合成{ts + 1:03d}{_township_suffix(ts + 1)}"
        v_code = f"{t_code}{vs + 1:03d}"
        v_name = f"合成{ts + 1:03d}-{vs + 1:03d}村"
        if vs == 0:
            t_cells = cells[ts * per_township : min((ts + 1) * per_township, n_grids)]
            ring = _trace_boundary(t_cells, stride)
            township_lines.append(_feature(t_code, t_name, "township", county_code, ring, vertex_json))
        village_lines.append(
            _feature(v_code, v_name, "village", t_code, _trace_boundary(cells[a:b], stride), vertex_json)
        )
        for g in range(a, b):
            i, j = int(cell_i[g]), int(cell_j[g])
            base = j * stride + i
            ring = (base, base + 1, base + stride + 1, base + stride, base)
            grid_lines.append(
                _feature(f"{v_code}{g - a + 1:03d}", f"{v_name}第{g - a + 1}网格", "grid", v_code, ring, vertex_json)
            )
        bar.update(b - a)
    bar.close()
    county = _feature(county_code, county_name, "county", None, _trace_boundary(cells, stride), vertex_json)
    lines = [county, *township_lines, *village_lines, *grid_lines]
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", type=int, default=10_000, help="number of grids (default 10000)")
    parser.add_argument("--out", type=Path, default=None, help="output path (default <tmpdir>/synthetic_<N>.geojson)")
    parser.add_argument("--county-code", default="339999", help="6-digit county code (default 339999, not real)")
    parser.add_argument("--seed", type=int, default=0, help="jitter seed (default 0)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.gettempdir()) / f"synthetic_{args.grids}.geojson"
    text = render(args.grids, args.county_code, args.seed, progress=True)
    out.write_text(text, encoding="utf-8")
    fc_counts: dict[str, int] = {}
    for line in text.splitlines()[1:-1]:
        level = line[line.index('"level":"') + 9 :].split('"', 1)[0]
        fc_counts[level] = fc_counts.get(level, 0) + 1
    summary = ", ".join(f"{level} {fc_counts.get(level, 0)}" for level in ("county", "township", "village", "grid"))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
