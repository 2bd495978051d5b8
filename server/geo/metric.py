"""Metric helpers for small distances near a point, in WGS-84 degrees.

Grids are a few hundred metres across, so a local equirectangular approximation is accurate to well
under 0.5% there; exact geodesics are not needed for snapping or tolerance checks.
"""

from __future__ import annotations

import math

METRES_PER_DEGREE = 111_320.0


def degrees_for_metres(metres: float, lat: float) -> float:
    """The largest span in degrees (longitude, the shorter one in metres) that `metres` can cover at `lat`."""
    return metres / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 1e-6))


def local_distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Distance in metres between two nearby points (equirectangular; within 0.5% below ~20 km)."""
    mean_lat = math.radians((lat1 + lat2) / 2)
    dx = (lon2 - lon1) * math.cos(mean_lat) * METRES_PER_DEGREE
    dy = (lat2 - lat1) * METRES_PER_DEGREE
    return math.hypot(dx, dy)
