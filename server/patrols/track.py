"""Cleaning a patrol track and splitting its time and distance across grids. Pure numpy/shapely: no database.

Order. Points of every batch are converted to WGS-84 (per batch datum, vectorised) and ordered by time, then by
batch seq, then by position in the batch, so batches may arrive in any order.

Cleaning, in this order:
1. accuracy: a point whose reported accuracy is worse than `max_accuracy_m` is dropped (no accuracy = kept);
2. duplicates: of several points with the same time, the first (by seq) is kept;
3. speed: between consecutive KEPT points the speed may not exceed `max_speed_mps`. When the point after a kept
   point (the anchor) is too fast to reach, the next `window` points are tried against the anchor and the
   first reachable one resumes the track (the unreachable ones in between are dropped: spikes and short
   bursts). If none is reachable, the anchor is judged instead: the very first point of a track is dropped
   (a bad first fix); at the end of the track the remaining points are dropped (bad last fixes); otherwise
   the jump is real (a gap in the signal, or a ride) and is kept as a *gap*: both points stay, but the gap
   segment counts toward neither the distance nor any grid's time.

Metrics. Segment lengths are equirectangular metres at each segment's mean latitude (as server.geo.metric,
within 0.5 % below 20 km). distance_m is their sum (gaps excluded); duration_s is last - first kept time.

Time per grid. Every kept point is assigned to a grid with the cell cover (CellCover.covering_many, one
vectorised call; no snapping: a point outside every grid belongs to none). A segment whose two ends are in the
same grid gives all its time and length to that grid (a segment of a few metres that leaves and re-enters a
concave corner is not split; that is the one approximation). Any other segment is split at the grid edges:
it is intersected with every grid it meets (STRtree query + shapely.intersection, vectorised over all such
segments), and each grid gets the fraction of the segment's length inside it, of both its time (constant
speed along the segment) and its length. A segment running along a shared edge would be inside two grids
at once; such a segment (rare) is resolved exactly: each part goes to the smallest code covering it (the
tie-break of api_docs/guide.md). Parts outside every grid are counted as `outside_s`.

Simplification. Douglas-Peucker (shapely.simplify, no topology preservation, so only original vertices are
kept and the two endpoints always stay) in a local metric frame, tolerance `simplify_m`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import shapely

from server.geo import datum
from server.geo.metric import METRES_PER_DEGREE

SPEED_WINDOW = 8


@dataclass(frozen=True)
class Batch:
    seq: int
    datum: str
    points: list | np.ndarray  # [[lon, lat, unix_time, accuracy_m | None], ...], or points_array's (n, 4) array


@dataclass
class GridTime:
    index: int  # position in GridIndex.grid_codes
    seconds: float
    distance_m: float
    first_t: float
    last_t: float


@dataclass
class Track:
    lon: np.ndarray  # kept points, WGS-84, in time order
    lat: np.ndarray
    t: np.ndarray
    gaps: np.ndarray  # per segment (len - 1): True where the segment is a gap
    distance_m: float
    duration_s: float
    simplified: np.ndarray  # (k, 2) lon/lat, a subset of the kept points with both endpoints
    grids: list[GridTime] = field(default_factory=list)
    outside_s: float = 0.0
    received: int = 0
    dropped_inaccurate: int = 0
    dropped_duplicate: int = 0
    dropped_too_fast: int = 0


def points_array(points: list) -> np.ndarray:
    """[[lon, lat, t, acc?], ...] -> (n, 4) float array; a missing or null accuracy is NaN."""
    if set(map(len, points)) == {4}:
        try:  # the common case, flattened: twice as fast as np.array on nested lists
            flat = itertools.chain.from_iterable(points)
            return np.fromiter(flat, dtype=np.float64, count=4 * len(points)).reshape(-1, 4)
        except (TypeError, ValueError):  # a null accuracy: handled below
            pass
    return np.array(
        [(p[0], p[1], p[2], math.nan if len(p) < 4 or p[3] is None else p[3]) for p in points], dtype=np.float64
    ).reshape(-1, 4)


def pack_points(points: list) -> bytes:
    """A batch for storage: points_array's rows as little-endian float64 (32 bytes a point)."""
    return points_array(points).astype("<f8", copy=False).tobytes()


def unpack_points(packed: bytes) -> np.ndarray:
    """pack_points reversed, with no copy (read-only)."""
    return np.frombuffer(packed, dtype="<f8").reshape(-1, 4)


def pack_times(t: np.ndarray) -> bytes:
    return np.asarray(t, dtype="<f8").tobytes()


def unpack_times(packed: bytes) -> list[float]:
    return np.frombuffer(packed, dtype="<f8").tolist()


def gather(batches: list[Batch]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All points as WGS-84 arrays (lon, lat, t, accuracy), ordered by time, then seq, then position in the batch."""
    parts, keys = [], []
    for b in batches:
        arr = b.points if isinstance(b.points, np.ndarray) else points_array(b.points)
        if not len(arr):
            continue
        if datum.normalise_datum(b.datum) != "wgs84":
            arr = np.array(arr)  # a copy: stored batches are read-only views
            arr[:, :2] = datum.to_wgs84_array(arr[:, :2], b.datum)
        parts.append(arr)
        keys.append(np.column_stack((np.full(len(arr), b.seq), np.arange(len(arr)))))
    if not parts:
        empty = np.empty(0)
        return empty, empty, empty, empty
    arr, key = np.concatenate(parts), np.concatenate(keys)
    order = np.lexsort((key[:, 1], key[:, 0], arr[:, 2]))
    arr = arr[order]
    return arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3]


def segment_metres(lon: np.ndarray, lat: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Equirectangular metres between points i and j, at their mean latitude (server.geo.metric.local_distance_m)."""
    mean_lat = np.radians((lat[i] + lat[j]) / 2.0)
    dx = (lon[j] - lon[i]) * np.cos(mean_lat) * METRES_PER_DEGREE
    dy = (lat[j] - lat[i]) * METRES_PER_DEGREE
    return np.hypot(dx, dy)


def _too_fast(lon, lat, t, i, j, max_speed: float) -> np.ndarray:
    dt = t[j] - t[i]
    d = segment_metres(lon, lat, i, j)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (d > max_speed * dt) | (dt <= 0)


def speed_filter(lon, lat, t, max_speed: float, window: int = SPEED_WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """(keep, gap_after): which points stay, and after which kept points the next segment is a gap (see above).

    Vectorised between violations: only the few places where consecutive points are too fast are looked at.
    """
    n = len(t)
    keep = np.ones(n, dtype=bool)
    gap_after = np.zeros(n, dtype=bool)
    if n < 2:
        return keep, gap_after
    idx = np.arange(n)
    bad = np.flatnonzero(_too_fast(lon, lat, t, idx[:-1], idx[1:], max_speed)) + 1
    first_kept, resume = 0, 1
    while True:
        b = np.searchsorted(bad, resume)
        if b >= bad.size:
            break
        j = int(bad[b])
        anchor = j - 1  # kept: nothing between `resume` and j was too fast
        candidates = np.arange(j, min(j + window, n))
        reachable = ~_too_fast(lon, lat, t, np.full(candidates.size, anchor), candidates, max_speed)
        if reachable.any():
            k = int(candidates[np.argmax(reachable)])
            keep[j:k] = False
            resume = k + 1
        elif anchor == first_kept:
            keep[anchor] = False
            first_kept, resume = j, j + 1
        elif candidates.size < window:
            keep[j:] = False
            break
        else:
            gap_after[anchor] = True
            resume = j + 1
    return keep, gap_after


def clean(lon, lat, t, acc, *, max_speed: float, max_accuracy: float):
    """Apply the three filters; returns the kept arrays, the gap mask per kept segment, and the drop counts."""
    with np.errstate(invalid="ignore"):
        accurate = ~(acc > max_accuracy)
    lon, lat, t = lon[accurate], lat[accurate], t[accurate]
    fresh = np.ones(len(t), dtype=bool)
    fresh[1:] = t[1:] != t[:-1]
    lon, lat, t = lon[fresh], lat[fresh], t[fresh]
    keep, gap_after = speed_filter(lon, lat, t, max_speed)
    gaps = gap_after[keep][:-1] if keep.any() else np.zeros(0, dtype=bool)
    counts = (int((~accurate).sum()), int((~fresh).sum()), int((~keep).sum()))
    return lon[keep], lat[keep], t[keep], gaps, counts


def simplify(lon: np.ndarray, lat: np.ndarray, tolerance_m: float) -> np.ndarray:
    if len(lon) < 3 or tolerance_m <= 0:
        return np.column_stack((lon, lat))
    kx = math.cos(math.radians(float(lat.mean()))) * METRES_PER_DEGREE
    line = shapely.linestrings(lon * kx, lat * METRES_PER_DEGREE)
    xy = shapely.get_coordinates(shapely.simplify(line, tolerance_m, preserve_topology=False))
    if len(xy) < 2:
        xy = np.array([[lon[0] * kx, lat[0] * METRES_PER_DEGREE], [lon[-1] * kx, lat[-1] * METRES_PER_DEGREE]])
    out = np.column_stack((xy[:, 0] / kx, xy[:, 1] / METRES_PER_DEGREE))
    out[0], out[-1] = (lon[0], lat[0]), (lon[-1], lat[-1])  # exactly the original endpoints
    return out


def grid_times(index, lon, lat, t, gaps, seg_m: np.ndarray | None = None) -> tuple[list[GridTime], float]:
    """Seconds and metres per grid (see the module docstring), and the seconds spent outside every grid.
    `seg_m`: the segments' lengths if the caller has them already (segment_metres of consecutive points)."""
    n = len(t)
    if n == 0 or index is None or index.cells is None:
        return [], 0.0
    g = index.cells.covering_many(lon, lat)
    if n == 1:
        return ([GridTime(int(g[0]), 0.0, 0.0, float(t[0]), float(t[0]))] if g[0] >= 0 else []), 0.0
    seg = np.arange(n - 1)
    dt = np.diff(t)
    d = segment_metres(lon, lat, seg, seg + 1) if seg_m is None else seg_m
    same = (g[:-1] == g[1:]) & (g[:-1] >= 0) & ~gaps
    split = ~same & ~gaps & (d > 0)
    # pieces: (grid, fraction of segment, segment)
    piece_grid = [g[:-1][same]]
    piece_frac = [np.ones(int(same.sum()))]
    piece_seg = [seg[same]]
    split_idx = np.flatnonzero(split)
    if split_idx.size:
        starts = np.column_stack((lon[split_idx], lat[split_idx]))
        ends = np.column_stack((lon[split_idx + 1], lat[split_idx + 1]))
        coords = np.stack((starts, ends), axis=1)
        lines = shapely.linestrings(coords)
        line_i, grid_i = index.tree.query(lines, predicate="intersects")
        order = np.lexsort((grid_i, line_i))
        line_i, grid_i = line_i[order], grid_i[order]
        pieces = shapely.intersection(lines[line_i], index.geoms[grid_i])
        frac = shapely.length(pieces) / shapely.length(lines[line_i])
        total = np.bincount(line_i, weights=frac, minlength=lines.size)
        for line in np.flatnonzero(total > 1.0 + 1e-9):  # along a shared edge: rare, resolved exactly
            frac[line_i == line] = _first_come_fractions(lines[line], pieces[line_i == line])
        useful = frac > 0
        piece_grid.append(grid_i[useful])
        piece_frac.append(frac[useful])
        piece_seg.append(split_idx[line_i[useful]])
    pg, pf, ps = np.concatenate(piece_grid), np.concatenate(piece_frac), np.concatenate(piece_seg)
    counted = ~gaps
    inside_s = float((pf * dt[ps]).sum())
    outside_s = float(dt[counted].sum()) - inside_s
    return _per_grid(g, t, pg, pf, ps, dt, d), max(outside_s, 0.0)


def _first_come_fractions(line, pieces) -> np.ndarray:
    """A segment inside two grids at once runs along their shared edge: each part goes to the smallest code that
    covers it (pieces come in grid-index order, which is code order), so the fractions sum to at most 1."""
    taken = shapely.LineString()
    out = []
    for piece in pieces:
        out.append(shapely.length(shapely.difference(piece, taken)) / line.length)
        taken = shapely.union(taken, piece)
    return np.array(out)


def _per_grid(g, t, pg, pf, ps, dt, d) -> list[GridTime]:
    in_grid = g >= 0
    # The grids met, and each one's position among them, through a mask over all grid indexes: no sort.
    touched = np.zeros(max(int(pg.max(initial=-1)), int(g.max(initial=-1))) + 1, dtype=bool)
    touched[pg] = True
    touched[g[in_grid]] = True
    grids = np.flatnonzero(touched)
    position = np.cumsum(touched) - 1
    pieces_local, points_local = position[pg], position[g[in_grid]]
    seconds = np.bincount(pieces_local, weights=pf * dt[ps], minlength=grids.size)
    metres = np.bincount(pieces_local, weights=pf * d[ps], minlength=grids.size)
    first = np.full(grids.size, np.inf)
    last = np.full(grids.size, -np.inf)
    np.minimum.at(first, pieces_local, t[ps])
    np.maximum.at(last, pieces_local, t[ps + 1])
    np.minimum.at(first, points_local, t[in_grid])
    np.maximum.at(last, points_local, t[in_grid])
    return [
        GridTime(int(grids[k]), float(seconds[k]), float(metres[k]), float(first[k]), float(last[k]))
        for k in range(grids.size)
    ]


def process(
    batches: list[Batch],
    index,
    *,
    max_speed: float,
    max_accuracy: float,
    simplify_m: float,
) -> Track:
    lon, lat, t, acc = gather(batches)
    received = len(t)
    lon, lat, t, gaps, (inaccurate, duplicate, too_fast) = clean(
        lon, lat, t, acc, max_speed=max_speed, max_accuracy=max_accuracy
    )
    seg_m = None
    if len(t) >= 2:
        seg = np.arange(len(t) - 1)
        seg_m = segment_metres(lon, lat, seg, seg + 1)
        distance = float(seg_m[~gaps].sum())
        duration = float(t[-1] - t[0])
    else:
        distance, duration = 0.0, 0.0
    grids, outside = grid_times(index, lon, lat, t, gaps, seg_m)
    return Track(
        lon=lon,
        lat=lat,
        t=t,
        gaps=gaps,
        distance_m=distance,
        duration_s=duration,
        simplified=simplify(lon, lat, simplify_m),
        grids=grids,
        outside_s=outside,
        received=received,
        dropped_inaccurate=inaccurate,
        dropped_duplicate=duplicate,
        dropped_too_fast=too_fast,
    )
