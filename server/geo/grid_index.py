"""The in-process routing index: which grid of the current map generation covers a point.

Why hand-written: shapely's STRtree does the spatial search, but the rules around it are ours —
edges are inclusive, a point on a shared edge or vertex goes to the grid with the smallest code (the
tie-break documented in api_docs/guide.md, and the same ORDER BY code the database path uses), and a
miss within the snap distance goes to the nearest grid. tests/areas/test_index_agrees_with_db.py checks
that this agrees with the database's boundary-inclusive ST_Covers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from server.geo.cell_cover import CellCover
from server.geo.datum import distance_m as haversine_m
from server.geo.metric import degrees_for_metres


@dataclass(frozen=True)
class AreaRef:
    code: str
    name: str
    level: str
    parent_code: str | None


@dataclass(slots=True)
class GridHit:
    grid: AreaRef
    chain: tuple[AreaRef, ...]  # village, township, county
    distance_m: float  # 0 when the point is inside or on the edge of the grid

    @property
    def snapped(self) -> bool:
        return self.distance_m > 0


class GridIndex:
    """Grids of one generation, sorted by code so that the lowest index is the tie-break winner.

    Containment goes through a CellCover (O(1) for most points); nearest-grid searches use an STRtree.
    """

    def __init__(self, generation_id: int, areas: list[AreaRef], grid_geoms: list[shapely.Geometry]):
        self.generation_id = generation_id
        self.areas = {a.code: a for a in areas}
        grids = sorted((a.code, g) for a, g in zip((a for a in areas if a.level == "grid"), grid_geoms, strict=True))
        self.grid_codes = [code for code, _ in grids]
        self.geoms = np.array([g for _, g in grids], dtype=object)
        shapely.prepare(self.geoms)
        self.tree = shapely.STRtree(self.geoms)
        self.cells = CellCover(self.geoms) if len(self.geoms) else None
        self.grid_refs = [self.areas[code] for code in self.grid_codes]
        self.grid_chains = [tuple(self.chain(code)[1:]) for code in self.grid_codes]
        self.county_code = next((a.code for a in areas if a.level == "county"), None)

    def __len__(self) -> int:
        return len(self.grid_codes)

    def covering(self, lon: float, lat: float) -> int | None:
        """Index of the grid that covers the point (edges inclusive, smallest code on ties), or None."""
        return self.cells.covering(lon, lat) if self.cells is not None else None

    def nearest(self, lon: float, lat: float, within_m: float | None = None) -> tuple[int, float] | None:
        """Index of the nearest grid in metres and its distance, optionally only within `within_m`.

        Degrees are not isotropic (a degree of longitude is shorter), so the nearest in degrees is only a
        bound: every grid within that many metres is then measured, and the closest in metres wins.
        """
        point = shapely.Point(lon, lat)
        radius = 0.0
        if within_m is None:
            first = int(self.tree.query_nearest(point)[0])
            within_m = self._distance_m(point, first)
            radius = shapely.distance(point, self.geoms[first])  # far away, metres-to-degrees at `lat` is no bound
        radius = max(radius, degrees_for_metres(within_m, lat)) * 1.01

        found = self.tree.query(point, predicate="dwithin", distance=radius)
        if found.size == 0:
            return None
        distance, best = min((self._distance_m(point, int(i)), int(i)) for i in found)
        return (best, distance) if distance <= within_m else None

    def _distance_m(self, point: shapely.Point, i: int) -> float:
        (x1, y1), (x2, y2) = shapely.shortest_line(point, self.geoms[i]).coords
        return haversine_m(x1, y1, x2, y2)

    def locate(self, lon: float, lat: float, snap_m: float) -> GridHit | None:
        """The covering grid, else the nearest within snap_m, else None."""
        i = self.cells.covering(lon, lat) if self.cells is not None else None
        if i is not None:
            return GridHit(self.grid_refs[i], self.grid_chains[i], 0.0)
        near = self.nearest(lon, lat, within_m=snap_m)
        if near is None:
            return None
        return GridHit(self.grid_refs[near[0]], self.grid_chains[near[0]], max(near[1], 1e-9))

    def chain(self, code: str) -> list[AreaRef]:
        """The area and its ancestors up to the county, nearest first."""
        out, current = [], self.areas.get(code)
        while current is not None:
            out.append(current)
            current = self.areas.get(current.parent_code) if current.parent_code else None
        return out
