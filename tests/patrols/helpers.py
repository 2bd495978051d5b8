"""Tracks built from real demo-map geometry, so that the expected answer can be computed by hand."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from server.geo.metric import METRES_PER_DEGREE
from tests.areas.helpers import grid_shapes

T0 = 1_790_000_000  # 2026-09-21 (unix seconds)


@dataclass(frozen=True)
class Crossing:
    """A straight walk across the straight shared edge of grids a and b (a < b), perpendicular to the edge."""

    a: str
    b: str
    midpoint: tuple[float, float]  # of the shared edge
    normal: tuple[float, float]  # unit vector in metres (east, north), pointing from a into b

    def at(self, metres: float) -> tuple[float, float]:
        """The point `metres` along the normal from the edge's midpoint (negative: inside a)."""
        east, north = self.normal[0] * metres, self.normal[1] * metres
        kx = math.cos(math.radians(self.midpoint[1])) * METRES_PER_DEGREE
        return self.midpoint[0] + east / kx, self.midpoint[1] + north / METRES_PER_DEGREE


def find_crossing(reach_a: float = 130.0, reach_b: float = 170.0) -> Crossing:
    """The first pair of neighbouring grids (by code) where the perpendicular walk through the midpoint of one of
    their shared edge segments stays in a for `reach_a` metres and in b for `reach_b` metres, touching no third grid.
    Every condition is checked with shapely against all grids, independently of the code under test."""
    shapes = grid_shapes()
    codes = sorted(shapes)
    tree = shapely.STRtree([shapes[c] for c in codes])
    for a in codes:
        ring = shapely.get_coordinates(shapes[a])
        for (x1, y1), (x2, y2) in zip(ring[:-1], ring[1:], strict=True):
            mid = ((x1 + x2) / 2, (y1 + y2) / 2)
            owners = [codes[i] for i in tree.query(shapely.Point(mid), predicate="intersects")]
            if len(owners) != 2 or a not in owners:
                continue
            b = next(c for c in owners if c != a)
            if b < a:
                continue
            kx = math.cos(math.radians(mid[1])) * METRES_PER_DEGREE
            ex, ey = (x2 - x1) * kx, (y2 - y1) * METRES_PER_DEGREE
            length = math.hypot(ex, ey)
            if length < 80:
                continue
            normal = (ey / length, -ex / length)
            crossing = Crossing(a, b, mid, normal)
            if not shapes[b].covers(shapely.Point(crossing.at(1.0))):
                crossing = Crossing(a, b, mid, (-normal[0], -normal[1]))
            if _clean(crossing, shapes, tree, codes, reach_a, reach_b):
                return crossing
    raise AssertionError("no suitable shared edge in the demo map")


def _clean(c: Crossing, shapes, tree, codes, reach_a: float, reach_b: float) -> bool:
    in_a = shapely.LineString([c.at(-reach_a), c.at(-0.05)])
    in_b = shapely.LineString([c.at(0.05), c.at(reach_b)])
    whole = shapely.LineString([c.at(-reach_a), c.at(reach_b)])
    touched = {codes[i] for i in tree.query(whole, predicate="intersects")}
    return touched == {c.a, c.b} and shapes[c.a].buffer(-1e-7).covers(in_a) and shapes[c.b].buffer(-1e-7).covers(in_b)


def walk(points_m: list[tuple[float, float]], crossing: Crossing, accuracy: float = 5.0) -> list[list[float]]:
    """[(metres along the normal, seconds after T0), ...] -> [[lon, lat, unix_time, accuracy], ...]."""
    return [[*crossing.at(m), T0 + s, accuracy] for m, s in points_m]


def straight(n: int, start: tuple[float, float], step_m: float = 5.0, dt: float = 5.0) -> np.ndarray:
    """n points walking east from start: (n, 4) [lon, lat, t, accuracy]."""
    kx = math.cos(math.radians(start[1])) * METRES_PER_DEGREE
    k = np.arange(n)
    return np.column_stack((start[0] + k * step_m / kx, np.full(n, start[1]), T0 + k * dt, np.full(n, 5.0)))
