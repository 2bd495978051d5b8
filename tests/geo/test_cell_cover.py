"""CellCover must give exactly the brute-force answer: every grid that covers the point, smallest index wins."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from server.geo.cell_cover import CellCover

DEMO = Path(__file__).resolve().parents[2] / "grid_maps" / "demo_county.geojson"


@pytest.fixture(scope="module")
def demo():
    features = [f for f in json.loads(DEMO.read_text())["features"] if f["properties"]["level"] == "grid"]
    geoms = np.array([shapely.geometry.shape(f["geometry"]) for f in features], dtype=object)
    coords = shapely.get_coordinates(geoms)
    return CellCover(geoms), geoms, coords


def brute(geoms, x, y):
    hits = np.flatnonzero(shapely.covers(geoms, shapely.Point(x, y)))
    return int(hits[0]) if hits.size else None


@settings(max_examples=400, deadline=None)
@given(fx=st.floats(-0.05, 1.05), fy=st.floats(-0.05, 1.05))
def test_random_points_including_outside(demo, fx, fy):
    cover, geoms, _ = demo
    x = cover.x0 + fx * (cover.x1 - cover.x0)
    y = cover.y0 + fy * (cover.y1 - cover.y0)
    assert cover.covering(x, y) == brute(geoms, x, y)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_vertices_and_edge_points(demo, data):
    cover, geoms, coords = demo
    i = data.draw(st.integers(0, len(coords) - 2))
    t = data.draw(st.sampled_from([0.0, 0.5, 1.0, 0.25]))
    x = coords[i][0] + t * (coords[i + 1][0] - coords[i][0])
    y = coords[i][1] + t * (coords[i + 1][1] - coords[i][1])
    assert cover.covering(x, y) == brute(geoms, x, y)


def test_owned_cells_exist_and_are_sound(demo):
    cover, geoms, _ = demo
    owned = [c for c, o in enumerate(cover.owner) if o >= 0]
    assert len(owned) > 0.2 * len(cover.owner) * 0.5
    for cell in owned[:: max(1, len(owned) // 200)]:
        cx, cy = cell % cover.nx, cell // cover.nx
        centre = (cover.x0 + (cx + 0.5) * cover.size, cover.y0 + (cy + 0.5) * cover.size)
        assert brute(geoms, *centre) == cover.owner[cell]
