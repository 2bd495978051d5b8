"""CellCover.covering_many must give exactly covering()'s answer, point for point (-1 where covering() is None)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from server.geo.cell_cover import NONE, CellCover

DEMO = Path(__file__).resolve().parents[2] / "grid_maps" / "demo_county.geojson"


@pytest.fixture(scope="module")
def demo():
    features = [f for f in json.loads(DEMO.read_text())["features"] if f["properties"]["level"] == "grid"]
    geoms = np.array([shapely.geometry.shape(f["geometry"]) for f in features], dtype=object)
    return CellCover(geoms), geoms


def one_by_one(cover: CellCover, xs, ys) -> np.ndarray:
    answers = [cover.covering(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]
    return np.array([NONE if a is None else a for a in answers], dtype=np.int64)


def test_random_points_inside_and_around_the_map(demo):
    cover, _ = demo
    rng = np.random.default_rng(11)
    fx, fy = rng.uniform(-0.05, 1.05, 20_000), rng.uniform(-0.05, 1.05, 20_000)
    xs = cover.x0 + fx * (cover.x1 - cover.x0)
    ys = cover.y0 + fy * (cover.y1 - cover.y0)
    got = cover.covering_many(xs, ys)
    assert np.array_equal(got, one_by_one(cover, xs, ys))
    assert (got == NONE).any() and (got != NONE).sum() > 10_000  # both kinds of answer were exercised


def test_every_vertex_and_points_along_every_edge(demo):
    cover, geoms = demo
    coords = shapely.get_coordinates(geoms)
    xs, ys = [coords[:, 0]], [coords[:, 1]]
    for t in (0.5, 0.25, 1e-9):  # midpoints, quarter points and points a hair from a vertex, all on edges
        xs.append(coords[:-1, 0] + t * (coords[1:, 0] - coords[:-1, 0]))
        ys.append(coords[:-1, 1] + t * (coords[1:, 1] - coords[:-1, 1]))
    xs, ys = np.concatenate(xs), np.concatenate(ys)
    got = cover.covering_many(xs, ys)
    assert np.array_equal(got, one_by_one(cover, xs, ys))
    # a shared vertex goes to the smallest index, as covering() says: check there were shared ones at all
    shared = [i for i in range(len(coords)) if shapely.covers(geoms, shapely.Point(coords[i])).sum() >= 3]
    assert shared and all(got[i] == np.flatnonzero(shapely.covers(geoms, shapely.Point(coords[i])))[0] for i in shared)


def test_cell_corners_and_the_far_edges_of_the_extent(demo):
    cover, _ = demo
    gx = cover.x0 + np.arange(cover.nx + 1) * cover.size
    gy = cover.y0 + np.arange(cover.ny + 1) * cover.size
    xs, ys = (a.ravel() for a in np.meshgrid(np.append(gx, cover.x1), np.append(gy, cover.y1)))
    assert np.array_equal(cover.covering_many(xs, ys), one_by_one(cover, xs, ys))


def test_empty_and_non_finite_input(demo):
    cover, _ = demo
    assert cover.covering_many(np.array([]), np.array([])).shape == (0,)
    xs = np.array([np.nan, np.inf, cover.x0 - 1.0, cover.x0 + 1e-3])
    ys = np.array([cover.y0 + 1e-3, cover.y0 + 1e-3, cover.y0, np.nan])
    assert cover.covering_many(xs, ys).tolist() == [NONE] * 4
