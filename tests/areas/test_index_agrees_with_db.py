"""The in-process STRtree index must give the database's answer (ST_Covers, smallest code) for any point:
random points, grid vertices, and points on grid edges included."""

from __future__ import annotations

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.areas.index_cache import current_index
from server.areas.services import covering_grid_code_in_db
from tests.areas.helpers import grid_shapes

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def world(db_session):
    shapes = grid_shapes()
    index = current_index()
    coords = [tuple(xy) for g in shapes.values() for xy in shapely.get_coordinates(g)]
    return index, shapes, coords


def index_code(index, lon, lat):
    i = index.covering(lon, lat)
    return None if i is None else index.grid_codes[i]


@PROPERTY
@given(fx=st.floats(0, 1), fy=st.floats(0, 1))
def test_random_points(world, fx, fy):
    index, shapes, _ = world
    minx, miny, maxx, maxy = shapely.total_bounds(list(shapes.values()))
    lon, lat = minx + fx * (maxx - minx), miny + fy * (maxy - miny)
    assert index_code(index, lon, lat) == covering_grid_code_in_db(lon, lat, index.generation_id)


@PROPERTY
@given(data=st.data())
def test_vertices(world, data):
    index, _, coords = world
    lon, lat = data.draw(st.sampled_from(coords))
    found = index_code(index, lon, lat)
    assert found is not None
    assert found == covering_grid_code_in_db(lon, lat, index.generation_id)


@PROPERTY
@given(data=st.data())
def test_edge_midpoints(world, data):
    index, _, coords = world
    i = data.draw(st.integers(0, len(coords) - 2))
    (x1, y1), (x2, y2) = coords[i], coords[i + 1]
    lon, lat = (x1 + x2) / 2, (y1 + y2) / 2
    assert index_code(index, lon, lat) == covering_grid_code_in_db(lon, lat, index.generation_id)
