"""Track processing (server.patrols.track): time per grid by hand on demo geometry, outliers, simplification."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from server.areas.index_cache import current_index
from server.geo import datum
from server.geo.metric import METRES_PER_DEGREE
from server.patrols import track
from tests.patrols.helpers import T0, find_crossing, straight, walk

SETTINGS = {"max_speed": 15.0, "max_accuracy": 100.0, "simplify_m": 5.0}


@pytest.fixture
def index(db_session):
    return current_index()


def grids_of(result, index) -> dict[str, tuple[float, float]]:
    return {index.grid_codes[g.index]: (g.seconds, g.distance_m) for g in result.grids}


def test_time_and_distance_per_grid_across_a_shared_edge(index):
    crossing = find_crossing()
    # metres along the normal (negative: in grid a) at seconds after T0; 1 m/s throughout
    points = walk([(-130, 0), (-30, 100), (70, 200), (170, 300)], crossing)
    result = track.process([track.Batch(0, "wgs84", points)], index, **SETTINGS)
    # by hand: 0-100 s all in a; the crossing segment -30 m .. +70 m splits 30 s / 30 m in a, 70 s / 70 m in b;
    # 200-300 s all in b
    got = grids_of(result, index)
    assert set(got) == {crossing.a, crossing.b}
    assert got[crossing.a] == pytest.approx((130.0, 130.0), abs=0.2)
    assert got[crossing.b] == pytest.approx((170.0, 170.0), abs=0.2)
    assert result.distance_m == pytest.approx(300.0, abs=0.3) and result.duration_s == 300.0
    assert result.outside_s == pytest.approx(0.0, abs=1e-6)
    by_code = {index.grid_codes[g.index]: g for g in result.grids}
    assert by_code[crossing.a].first_t == T0 and by_code[crossing.a].last_t == T0 + 200
    assert by_code[crossing.b].first_t == T0 + 100 and by_code[crossing.b].last_t == T0 + 300


def test_back_and_forth_across_the_edge_adds_up(index):
    crossing = find_crossing()
    # a -> b -> a: -50 (t0) .. +50 (t100) .. -50 (t200): 50 s + 50 s in each grid
    points = walk([(-50, 0), (50, 100), (-50, 200)], crossing)
    got = grids_of(track.process([track.Batch(0, "wgs84", points)], index, **SETTINGS), index)
    assert got[crossing.a] == pytest.approx((100.0, 100.0), abs=0.2)
    assert got[crossing.b] == pytest.approx((100.0, 100.0), abs=0.2)


def test_batches_in_any_order_and_other_datums_give_the_same_answer(index):
    crossing = find_crossing()
    points = walk([(-130, 0), (-80, 50), (-30, 100), (20, 150), (70, 200), (170, 300)], crossing)
    expected = grids_of(track.process([track.Batch(0, "wgs84", points)], index, **SETTINGS), index)
    gcj = [[*datum.wgs84_to_gcj02(p[0], p[1]), p[2], p[3]] for p in points]
    batches = [track.Batch(2, "gcj02", gcj[4:]), track.Batch(0, "gcj02", gcj[:2]), track.Batch(1, "wgs84", points[2:4])]
    got = grids_of(track.process(batches, index, **SETTINGS), index)
    assert set(got) == set(expected)
    for code in expected:
        assert got[code] == pytest.approx(expected[code], abs=1e-3)


def test_a_spike_is_dropped_and_costs_no_distance(index):
    crossing = find_crossing()
    pts = straight(40, crossing.at(-100))
    clean_distance = 39 * 5.0
    spiky = pts.copy()
    spiky[17, 0] += 1000 / (math.cos(math.radians(spiky[17, 1])) * METRES_PER_DEGREE)  # 1 km east, then back
    result = track.process([track.Batch(0, "wgs84", spiky.tolist())], index, **SETTINGS)
    assert result.dropped_too_fast == 1 and len(result.t) == 39
    assert T0 + 17 * 5 not in result.t
    assert result.distance_m == pytest.approx(clean_distance, abs=0.1)


def test_bad_first_and_last_fixes_are_dropped(index):
    crossing = find_crossing()
    pts = straight(30, crossing.at(-100))
    pts[0, 1] += 0.02  # first fix ~2 km north
    pts[-1, 1] -= 0.02  # last fix ~2 km south
    result = track.process([track.Batch(0, "wgs84", pts.tolist())], index, **SETTINGS)
    assert result.dropped_too_fast == 2
    assert result.t[0] == T0 + 5 and result.t[-1] == T0 + 28 * 5
    assert result.distance_m == pytest.approx(27 * 5.0, abs=0.1)


def test_a_real_jump_is_kept_as_a_gap_without_distance(index):
    crossing = find_crossing()
    first = straight(20, crossing.at(-100))
    second = straight(20, crossing.at(-100))
    second[:, 1] += 0.01  # 1.1 km north, 5 s later: a ride, not a walk
    second[:, 2] += 20 * 5
    pts = np.vstack((first, second))
    result = track.process([track.Batch(0, "wgs84", pts.tolist())], index, **SETTINGS)
    assert result.dropped_too_fast == 0 and len(result.t) == 40
    assert result.gaps.sum() == 1 and result.gaps[19]
    assert result.distance_m == pytest.approx(38 * 5.0, abs=0.1)
    assert result.duration_s == 39 * 5


def test_inaccurate_and_duplicate_points_are_dropped(index):
    crossing = find_crossing()
    pts = straight(10, crossing.at(-100)).tolist()
    pts[3][3] = 250.0  # worse than 100 m
    pts.append(list(pts[5]))  # the same fix sent twice
    pts[6][3] = None  # no accuracy: kept
    result = track.process([track.Batch(0, "wgs84", pts)], index, **SETTINGS)
    assert (result.dropped_inaccurate, result.dropped_duplicate, result.dropped_too_fast) == (1, 1, 0)
    assert len(result.t) == 9


def test_simplification_reduces_points_and_keeps_the_endpoints(index):
    crossing = find_crossing()
    rng = np.random.default_rng(3)
    pts = straight(200, crossing.at(-100), step_m=1.0, dt=1.0)
    pts[:, 1] += rng.normal(0, 1.0, 200) / METRES_PER_DEGREE  # ~1 m of GPS wobble around a straight line
    result = track.process([track.Batch(0, "wgs84", pts.tolist())], index, **SETTINGS)
    assert len(result.t) == 200
    assert 2 <= len(result.simplified) < 20
    assert tuple(result.simplified[0]) == (result.lon[0], result.lat[0])
    assert tuple(result.simplified[-1]) == (result.lon[-1], result.lat[-1])
    kept = {(x, y) for x, y in zip(result.lon.tolist(), result.lat.tolist(), strict=True)}
    assert all(min(math.dist(tuple(p), q) for q in kept) < 1e-9 for p in result.simplified)  # original vertices only


def test_empty_and_single_point_tracks(index):
    crossing = find_crossing()
    empty = track.process([], index, **SETTINGS)
    assert (empty.distance_m, empty.duration_s, empty.grids) == (0.0, 0.0, [])
    one = track.process([track.Batch(0, "wgs84", walk([(-50, 0)], crossing))], index, **SETTINGS)
    assert one.distance_m == 0.0 and [index.grid_codes[g.index] for g in one.grids] == [crossing.a]


def _squares_index():
    """Two 0.01-degree squares side by side, a (code ...001) west of b (code ...002), sharing the edge lon=118.01."""
    from server.geo.grid_index import AreaRef, GridIndex

    refs = [AreaRef("330899001001001", "a", "grid", None), AreaRef("330899001001002", "b", "grid", None)]
    geoms = [shapely.box(118.00, 28.00, 118.01, 28.01), shapely.box(118.01, 28.00, 118.02, 28.01)]
    return GridIndex(1, refs, geoms)


def test_a_segment_along_a_shared_edge_goes_to_the_smallest_code_and_is_not_counted_twice():
    index = _squares_index()
    # from a point on the shared edge (-> a, the smaller code) up along the edge and out of both squares:
    # 0.008 degree along the edge, then 0.005 degree outside, in 130 s
    points = [[118.01, 28.002, T0, 5.0], [118.01, 28.015, T0 + 130, 5.0]]
    result = track.process([track.Batch(0, "wgs84", points)], index, max_speed=15.0, max_accuracy=100, simplify_m=5)
    got = {index.grid_codes[g.index]: g.seconds for g in result.grids}
    assert got["330899001001001"] == pytest.approx(80.0, abs=1e-6)
    assert got.get("330899001001002", 0.0) == pytest.approx(0.0, abs=1e-6)
    assert result.outside_s == pytest.approx(50.0, abs=1e-6)


def test_a_plain_crossing_of_the_synthetic_squares():
    index = _squares_index()
    points = [[118.005, 28.005, T0, 5.0], [118.015, 28.005, T0 + 100, 5.0]]
    result = track.process([track.Batch(0, "wgs84", points)], index, max_speed=15.0, max_accuracy=100, simplify_m=5)
    got = {index.grid_codes[g.index]: g.seconds for g in result.grids}
    assert got == pytest.approx({"330899001001001": 50.0, "330899001001002": 50.0})
