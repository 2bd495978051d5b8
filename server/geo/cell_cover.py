"""A precomputed cell cover of a polygon coverage, for O(1) point-in-grid look-ups.

Why hand-written: shapely's STRtree answers the same question, but each query costs a Point object and a tree
walk (about 6 us for 100k grids here), which is most of the routing budget. Grids are a non-overlapping coverage,
so a uniform raster of cells over their extent works better:

- every cell lists the grids whose bounding box meets it (CSR arrays: `starts`, `members`);
- a cell that lies strictly inside one grid's interior and meets no other grid is answered without any
  polygon test (`owner`); most cells in a coverage are such interior cells;
- other cells test their few candidates with shapely's boundary-inclusive `intersects_xy`, and the smallest
  index wins (indexes are in code order: the documented tie-break).

The answer is exactly the same as testing every grid; tests/geo/test_cell_cover.py checks that against
brute force, and tests/areas/test_index_agrees_with_db.py against the database.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

NONE = -1


class CellCover:
    def __init__(self, geoms: np.ndarray, cells_per_grid: float = 5.0):
        self.geoms = geoms
        bounds = shapely.bounds(geoms)
        self.x0, self.y0 = bounds[:, 0].min(), bounds[:, 1].min()
        self.x1, self.y1 = bounds[:, 2].max(), bounds[:, 3].max()
        typical = float(np.median(np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])))
        self.size = max(typical / cells_per_grid, 1e-6)
        self.nx = max(1, math.ceil((self.x1 - self.x0) / self.size))
        self.ny = max(1, math.ceil((self.y1 - self.y0) / self.size))
        cells, members = self._pairs(bounds)
        self.members = members
        self.member_geoms = geoms[members]  # candidates in CSR order: a cell's slice is a view, not a copy
        # Plain lists: indexing one is several times cheaper than indexing a numpy array from Python.
        self.starts = np.searchsorted(cells, np.arange(self.nx * self.ny + 1)).tolist()
        self.owner = self._owners(cells, members).tolist()
        self.inv = 1.0 / self.size

    def _pairs(self, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cell, grid) for every cell that each grid's bounding box meets, sorted by cell then grid."""
        ix0, iy0 = self._cell_xy(bounds[:, 0], bounds[:, 1])
        ix1, iy1 = self._cell_xy(bounds[:, 2], bounds[:, 3])
        w, h = ix1 - ix0 + 1, iy1 - iy0 + 1
        grid = np.repeat(np.arange(len(bounds)), w * h)
        k = np.arange(len(grid)) - np.repeat(np.cumsum(w * h) - w * h, w * h)
        cx = ix0[grid] + k % w[grid]
        cy = iy0[grid] + k // w[grid]
        cells = cy * self.nx + cx
        order = np.lexsort((grid, cells))
        return cells[order], grid[order]

    def _cell_xy(self, x, y):
        ix = np.clip(((np.asarray(x) - self.x0) / self.size).astype(np.int64), 0, self.nx - 1)
        iy = np.clip(((np.asarray(y) - self.y0) / self.size).astype(np.int64), 0, self.ny - 1)
        return ix, iy

    def _owners(self, cells: np.ndarray, members: np.ndarray) -> np.ndarray:
        """For each cell, the one grid whose interior holds the whole cell while no other grid meets it."""
        cx, cy = cells % self.nx, cells // self.nx
        boxes = shapely.box(
            self.x0 + cx * self.size,
            self.y0 + cy * self.size,
            self.x0 + (cx + 1) * self.size,
            self.y0 + (cy + 1) * self.size,
        )
        shapely.prepare(self.geoms)
        holds = shapely.contains_properly(self.geoms[members], boxes)
        meets = shapely.intersects(self.geoms[members], boxes)
        n = self.nx * self.ny
        meet_count = np.bincount(cells, weights=meets, minlength=n)
        owner = np.full(n, NONE, dtype=np.int64)
        sole = holds & (meet_count[cells] == 1)
        owner[cells[sole]] = members[sole]
        return owner

    def covering(self, x: float, y: float) -> int | None:
        """Index of the grid covering (x, y), edges inclusive, smallest index on ties; None if none does."""
        if not (self.x0 <= x <= self.x1 and self.y0 <= y <= self.y1):
            return None
        ix = min(int((x - self.x0) * self.inv), self.nx - 1)
        cell = min(int((y - self.y0) * self.inv), self.ny - 1) * self.nx + ix
        owner = self.owner[cell]
        if owner != NONE:
            return owner
        start, end = self.starts[cell], self.starts[cell + 1]
        if start == end:
            return None
        hits = np.flatnonzero(shapely.intersects_xy(self.member_geoms[start:end], x, y))
        return int(self.members[start + hits[0]]) if hits.size else None

    def covering_many(self, xs, ys) -> np.ndarray:
        """Vectorised `covering`: for each (x, y), the covering grid's index, or -1 (NONE) where no grid covers it.

        The same rules, answer for answer (tests/geo/test_cell_cover_many.py): owned cells are answered from the
        table; the other points test their cell's candidates with one `intersects_xy` call over every
        (point, candidate) pair, and the smallest covering index wins. Non-finite coordinates answer -1.
        """
        xs = np.asarray(xs, dtype=np.float64)
        ys = np.asarray(ys, dtype=np.float64)
        out = np.full(xs.shape, NONE, dtype=np.int64)
        with np.errstate(invalid="ignore"):
            inside = (xs >= self.x0) & (xs <= self.x1) & (ys >= self.y0) & (ys <= self.y1)
        idx = np.flatnonzero(inside)
        if not idx.size:
            return out
        x, y = xs[idx], ys[idx]
        ix = np.minimum(((x - self.x0) * self.inv).astype(np.int64), self.nx - 1)
        iy = np.minimum(((y - self.y0) * self.inv).astype(np.int64), self.ny - 1)
        cell = iy * self.nx + ix
        owner_arr, starts_arr = self._csr_arrays()
        owner = owner_arr[cell]
        out[idx] = owner
        pending = np.flatnonzero(owner == NONE)
        start = starts_arr[cell[pending]]
        count = starts_arr[cell[pending] + 1] - start
        if not count.sum():
            return out
        point_of = np.repeat(np.arange(pending.size), count)
        offset = np.arange(point_of.size) - np.repeat(np.cumsum(count) - count, count)
        candidate = start[point_of] + offset  # positions in the CSR arrays
        hit = shapely.intersects_xy(self.member_geoms[candidate], x[pending][point_of], y[pending][point_of])
        none = np.iinfo(np.int64).max
        best = np.full(pending.size, none, dtype=np.int64)
        np.minimum.at(best, point_of[hit], self.members[candidate[hit]])
        found = best != none
        out[idx[pending[found]]] = best[found]
        return out

    def _csr_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """`owner` and `starts` as numpy arrays, made once on first use (the lists stay for the scalar path)."""
        arrays = self.__dict__.get("_np_arrays")
        if arrays is None:
            arrays = (np.asarray(self.owner, dtype=np.int64), np.asarray(self.starts, dtype=np.int64))
            self.__dict__["_np_arrays"] = arrays
        return arrays
