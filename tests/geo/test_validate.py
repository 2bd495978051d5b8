"""Tests for server.geo.validate (pure shapely grid-map validation) and the map generators."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from scripts import make_synthetic_map
from server.geo.validate import ParsedArea, Problem, Tolerances, validate_feature_collection

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "grid_maps"
DEMO = ROOT / "grid_maps" / "demo_county.geojson"

# valid_small.geojson: county = township = village = [118.90, 118.91] x [28.90, 28.91], split at lon 118.905
W, E, S, N, MID = 118.90, 118.91, 28.90, 28.91, 118.905
GRID_1, GRID_2 = "330899101201001", "330899101201002"
VILLAGE = "330899101201"
EARTH_R = 6_371_008.8


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.geojson").read_text(encoding="utf-8"))


def run(fc: dict, **kwargs):
    return validate_feature_collection(fc, **kwargs)


def kinds(report) -> set[str]:
    return {p.kind for p in report.problems}


def only(report, kind: str) -> Problem:
    found = [p for p in report.problems if p.kind == kind]
    assert len(found) == 1, report.problems
    return found[0]


def number(detail: str, unit: str) -> float:
    """The first number followed by ``unit`` in a problem detail (thousands separators allowed)."""
    m = re.search(r"([0-9][0-9,]*(?:\.[0-9]+)?) " + re.escape(unit), detail)
    assert m, detail
    return float(m.group(1).replace(",", ""))


def sphere_area_m2(w: float, s: float, e: float, n: float) -> float:
    """Exact area of a lon/lat box on the sphere (independent of the validator's approximation)."""
    return EARTH_R**2 * math.radians(e - w) * (math.sin(math.radians(n)) - math.sin(math.radians(s)))


def box(w: float, s: float, e: float, n: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def feature(code, name, level, parent, geometry) -> dict:
    props = {"code": code, "name": name, "level": level, "parent_code": parent}
    return {"type": "Feature", "properties": props, "geometry": geometry}


def fc_of(*features) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


# --------------------------------------------------------------------------- one fixture per failure kind

CASES = [
    # file, kind, index, code, text that must be in the detail, other kinds allowed as consequences
    ("not_a_feature_collection", "not-a-feature-collection", None, None, "FeatureCollection", set()),
    ("missing_property", "missing-property", 4, GRID_2, "name", set()),
    ("unknown_level", "unknown-level", 4, GRID_2, "'gird'", set()),
    ("bad_code_format", "bad-code-format", 4, "3308991012010O2", "only the digits", set()),
    ("invalid_geometry_bowtie", "invalid-geometry", 4, GRID_2, "Self-intersection", set()),
    ("wrong_geometry_type", "wrong-geometry-type", 4, GRID_2, "LineString", set()),
    ("empty_geometry", "empty-geometry", 4, GRID_2, "empty", set()),
    ("unclosed_ring", "invalid-geometry", 4, GRID_2, "not closed", set()),
    ("out_of_range", "coordinate-out-of-range", 4, GRID_2, "5 of 5 vertices", set()),
    ("swapped_coordinates", "coordinates-swapped", 4, GRID_2, "[latitude, longitude]", set()),
    ("duplicate_code", "duplicate-code", 4, GRID_1, "feature #3", set()),
    ("unknown_parent", "unknown-parent", 5, "330899101202001", "'330899101202'", set()),
    ("code_not_under_parent", "code-not-under-parent", 4, "330899101202002", "'330899101201'", set()),
    # the grid hangs off the township, so its village is only half covered
    ("wrong_parent_level", "wrong-parent-level", 4, GRID_2, "must be a village", {"gap"}),
    # the second county has no townships at all
    ("multiple_counties", "multiple-counties", 5, "330898", "'330899'", {"gap"}),
    # without the county the township's parent_code points nowhere
    ("no_county", "no-county", None, None, "county", {"unknown-parent"}),
    ("outside_parent", "outside-parent", 4, GRID_2, "sticks out", set()),
    ("overlapping_grids", "overlap", 3, GRID_1, GRID_2, set()),
    ("gap_in_village", "gap", 2, VILLAGE, "not covered", set()),
]


@pytest.mark.parametrize(("name", "kind", "index", "code", "text", "allowed"), CASES, ids=[c[0] for c in CASES])
def test_fixture_reports_its_problem(name, kind, index, code, text, allowed):
    report = run(load(name))
    assert not report.ok
    problem = only(report, kind)
    assert (problem.index, problem.code) == (index, code)
    assert text in problem.detail
    assert kinds(report) <= {kind} | allowed, report.problems


def test_every_failure_kind_has_a_fixture():
    files = {p.stem for p in FIXTURES.glob("*.geojson")}
    assert files == {c[0] for c in CASES} | {"valid_small"}


def test_valid_small():
    report = run(load("valid_small"))
    assert report.ok and report.problems == []
    assert report.counts == {"county": 1, "township": 1, "village": 1, "grid": 2}
    assert [a.code for a in report.areas] == ["330899", "330899101", VILLAGE, GRID_1, GRID_2]
    area = report.areas[3]
    assert isinstance(area, ParsedArea)
    assert (area.index, area.name, area.level, area.parent_code) == (3, "上方村第1网格", "grid", VILLAGE)
    assert report.areas[0].parent_code is None
    for a in report.areas:
        assert isinstance(a.geometry, shapely.MultiPolygon)
    assert shapely.equals(report.areas[3].geometry, shapely.box(W, S, MID, N))


# --------------------------------------------------------------------------- measurements in the details


def test_overlap_area_is_reported_within_ten_percent():
    problem = only(run(load("overlapping_grids")), "overlap")
    true = sphere_area_m2(MID, S, MID + 0.0005, N)  # grid 1 reaches 0.0005 deg into grid 2
    assert number(problem.detail, "m²") == pytest.approx(true, rel=0.1)
    assert GRID_1 in problem.detail and GRID_2 in problem.detail


def test_gap_area_and_location_are_reported():
    problem = only(run(load("gap_in_village")), "gap")
    true = sphere_area_m2(MID, S, MID + 0.0005, N)  # grid 2 starts 0.0005 deg east of grid 1's edge
    assert number(problem.detail, "m²") == pytest.approx(true, rel=0.1)
    lon, lat = map(float, re.search(r"lon ([0-9.]+), lat ([0-9.]+)", problem.detail).groups())
    assert MID <= lon <= MID + 0.0005 and S <= lat <= N


def test_outside_parent_distance_is_reported_in_metres():
    problem = only(run(load("outside_parent")), "outside-parent")
    true_m = EARTH_R * math.radians(0.001) * math.cos(math.radians(N))  # grid 2 reaches 0.001 deg east
    assert number(problem.detail, "m (outside") == pytest.approx(true_m, rel=0.1)
    assert number(problem.detail, "m²") == pytest.approx(sphere_area_m2(E, S, E + 0.001, N), rel=0.1)


def test_child_covering_a_hole_of_its_parent_is_outside():
    fc = load("valid_small")
    hole = [[118.906, 28.904], [118.906, 28.906], [118.908, 28.906], [118.908, 28.904], [118.906, 28.904]]
    fc["features"][2]["geometry"]["coordinates"].append(hole)  # the village gets a ~200 m hole
    report = run(fc)
    problem = only(report, "outside-parent")
    assert (problem.index, problem.code) == (4, GRID_2)
    assert number(problem.detail, "m (outside") > 50  # the centre of the hole is ~97 m from the village
    assert only(report, "gap").index == 1  # the township is not covered where the village has its hole


@given(
    edge_1=st.floats(-0.004, 0.004).map(lambda d: MID + round(d, 6)),
    edge_2=st.floats(-0.004, 0.004).map(lambda d: MID + round(d, 6)),
)
@settings(max_examples=40, deadline=None)
def test_moved_shared_edge_gives_overlap_or_gap_of_the_right_size(edge_1, edge_2):
    fc = load("valid_small")
    fc["features"][3]["geometry"] = box(W, S, edge_1, N)
    fc["features"][4]["geometry"] = box(edge_2, S, E, N)
    report = run(fc)
    true = sphere_area_m2(min(edge_1, edge_2), S, max(edge_1, edge_2), N)
    if true <= 1.0:
        assert report.ok, report.problems
        return
    kind = "overlap" if edge_1 > edge_2 else "gap"
    problem = only(report, kind)
    assert kinds(report) == {kind}
    assert number(problem.detail, "m²") == pytest.approx(true, rel=0.1)


# --------------------------------------------------------------------------- tolerances, transform, progress


def test_tolerances_are_respected():
    assert run(load("overlapping_grids"), tolerances=Tolerances(overlap_m2=60_000)).ok
    assert run(load("gap_in_village"), tolerances=Tolerances(gap_m2=60_000)).ok
    assert run(load("outside_parent"), tolerances=Tolerances(parent_m=100)).ok
    assert kinds(run(load("outside_parent"), tolerances=Tolerances(parent_m=90))) == {"outside-parent"}


def test_transform_is_applied_before_the_geometric_checks():
    seen = []

    def shift(xy: np.ndarray) -> np.ndarray:
        seen.append(xy.shape)
        return xy + [0.01, -0.01]

    report = run(load("valid_small"), transform=shift)
    assert report.ok
    assert seen and all(s[1] == 2 for s in seen)
    assert report.areas[3].geometry.bounds == pytest.approx((W + 0.01, S - 0.01, MID + 0.01, N - 0.01))


def test_raw_coordinate_check_happens_before_the_transform():
    report = run(load("swapped_coordinates"), transform=lambda xy: xy[:, ::-1].copy())
    assert only(report, "coordinates-swapped").index == 4


def test_transform_rejecting_coordinates_is_reported_not_raised():
    def picky(xy: np.ndarray) -> np.ndarray:
        if (xy[:, 0] > MID).any():
            raise ValueError("coordinate-out-of-range: outside the datum's area")
        return xy

    report = run(load("valid_small"), transform=picky)
    bad = {p.index for p in report.problems if p.kind == "coordinate-out-of-range"}
    assert bad == {0, 1, 2, 4}  # every area reaching east of MID


def test_progress_bar_goes_to_stderr(capsys):
    assert run(load("valid_small"), progress=True).ok
    captured = capsys.readouterr()
    assert "validate" in captured.err and captured.out == ""


# --------------------------------------------------------------------------- more problems, all reported


def test_all_problems_are_reported_not_just_the_first():
    fc = load("valid_small")
    fc["features"][4]["geometry"]["coordinates"] = [[[MID, S], [E, N], [E, S], [MID, N], [MID, S]]]  # bowtie
    fc["features"][3]["properties"]["level"] = "grids"
    fc["features"].append(feature("330899101301001", "x", "grid", "330899101301", box(W, S, MID, N)))
    fc["features"].append(feature("330899101201", "again", "village", "330899101", box(W, S, E, N)))
    fc["features"].append("not a feature")
    report = run(fc)
    assert {(p.kind, p.index) for p in report.problems} == {
        ("invalid-geometry", 4),
        ("unknown-level", 3),
        ("unknown-parent", 5),
        ("duplicate-code", 6),
        ("not-a-feature", 7),
        ("overlap", 2),  # the duplicate village lies on top of the first one
    }
    assert [p.index for p in report.problems] == sorted(p.index for p in report.problems)


@pytest.mark.parametrize("doc", [[], "x", {"type": "Feature"}, {"type": "FeatureCollection"}, None])
def test_not_a_feature_collection_variants(doc):
    report = run(doc)
    assert [(p.kind, p.index) for p in report.problems] == [("not-a-feature-collection", None)]
    assert report.areas == [] and not report.ok


def test_empty_feature_collection_has_no_county():
    report = run(fc_of())
    assert [p.kind for p in report.problems] == ["no-county"]


def test_properties_missing_entirely():
    fc = load("valid_small")
    fc["features"][4]["properties"] = None
    problem = only(run(fc), "missing-property")
    assert problem.index == 4 and problem.code is None
    assert "code, name, level" in problem.detail


def test_numeric_code_is_a_bad_code_format():
    fc = load("valid_small")
    fc["features"][4]["properties"]["code"] = 330899101201002
    problem = only(run(fc), "bad-code-format")
    assert problem.index == 4 and "string" in problem.detail


def test_code_length_must_match_level():
    fc = load("valid_small")
    fc["features"][2]["properties"]["code"] = "3308991012010"  # 13 digits for a village
    fc["features"][3]["properties"]["parent_code"] = "3308991012010"
    fc["features"][4]["properties"]["parent_code"] = "3308991012010"
    problem = only(run(fc), "bad-code-format")
    assert problem.index == 2 and "12 digits" in problem.detail and "13" in problem.detail


def test_null_geometry_is_empty_geometry():
    fc = load("valid_small")
    fc["features"][4]["geometry"] = None
    assert only(run(fc), "empty-geometry").index == 4


def test_string_coordinates_are_invalid_geometry():
    fc = load("valid_small")
    fc["features"][4]["geometry"]["coordinates"][0][1] = ["118.91", "28.9"]
    assert only(run(fc), "invalid-geometry").index == 4


def test_ring_with_too_few_positions_is_invalid():
    fc = load("valid_small")
    fc["features"][4]["geometry"]["coordinates"] = [[[MID, S], [E, S], [MID, S]]]
    problem = only(run(fc), "invalid-geometry")
    assert problem.index == 4 and "at least 4" in problem.detail


def test_county_with_a_parent_code():
    fc = load("valid_small")
    fc["features"][0]["properties"]["parent_code"] = "330800"
    problem = only(run(fc), "unknown-parent")
    assert problem.index == 0 and "null" in problem.detail


def test_multipolygon_grids_are_accepted_and_kept_as_multipolygons():
    fc = load("valid_small")
    mid_lat = 28.905  # a checkerboard: each grid is two squares touching at one corner
    fc["features"][3]["geometry"] = {
        "type": "MultiPolygon",
        "coordinates": [box(W, S, MID, mid_lat)["coordinates"], box(MID, mid_lat, E, N)["coordinates"]],
    }
    fc["features"][4]["geometry"] = {
        "type": "MultiPolygon",
        "coordinates": [box(MID, S, E, mid_lat)["coordinates"], box(W, mid_lat, MID, N)["coordinates"]],
    }
    report = run(fc)
    assert report.ok, report.problems
    assert [len(a.geometry.geoms) for a in report.areas] == [1, 1, 1, 2, 2]


def test_multipolygon_parts_sharing_an_edge_are_invalid():
    fc = load("valid_small")
    fc["features"][4]["geometry"] = {
        "type": "MultiPolygon",
        "coordinates": [box(MID, S, E, 28.905)["coordinates"], box(MID, 28.905, E, N)["coordinates"]],
    }
    problem = only(run(fc), "invalid-geometry")
    assert problem.index == 4 and "Self-intersection" in problem.detail


def test_overlapping_villages_in_a_township():
    fc = load("valid_small")
    feats = fc["features"]
    # split the village into two villages, the second one drawn 0.001 deg too wide to the west
    feats[2]["geometry"] = box(W, S, MID, N)
    v2 = "330899101202"
    feats.append(feature(v2, "下坞村", "village", "330899101", box(MID - 0.001, S, E, N)))
    feats[4]["properties"].update(code=v2 + "001", parent_code=v2)
    feats[4]["geometry"] = box(MID - 0.001, S, E, N)
    report = run(fc)
    problem = only(report, "overlap")
    assert problem.index == 2 and v2 in problem.detail and "township '330899101'" in problem.detail
    assert number(problem.detail, "m²") == pytest.approx(sphere_area_m2(MID - 0.001, S, MID, N), rel=0.1)
    assert kinds(report) == {"overlap"}


def test_gap_in_township_and_county():
    fc = load("valid_small")
    feats = fc["features"]
    feats[1]["geometry"] = box(W, S, E + 0.001, N)  # township wider than its only village
    feats[0]["geometry"] = box(W, S - 0.001, E + 0.001, N)  # county taller than its only township
    report = run(fc)
    gaps = {p.index: p for p in report.problems if p.kind == "gap"}
    assert set(gaps) == {0, 1}
    assert number(gaps[1].detail, "m²") == pytest.approx(sphere_area_m2(E, S, E + 0.001, N), rel=0.1)
    assert number(gaps[0].detail, "m²") == pytest.approx(sphere_area_m2(W, S - 0.001, E + 0.001, S), rel=0.1)


def test_village_without_grids_is_a_gap():
    fc = load("valid_small")
    del fc["features"][3:]
    problem = only(run(fc), "gap")
    assert problem.index == 2 and "no grid" in problem.detail


# --------------------------------------------------------------------------- demo county


def test_demo_county_is_valid_and_plausible():
    fc = json.loads(DEMO.read_text(encoding="utf-8"))
    report = run(fc)
    assert report.problems == []
    assert report.counts["county"] == 1
    assert 8 <= report.counts["township"] <= 10
    assert 300 <= report.counts["grid"] <= 600
    assert DEMO.stat().st_size < 3_000_000
    children: dict[str, list[ParsedArea]] = {}
    for a in report.areas:
        children.setdefault(a.parent_code, []).append(a)
        assert a.code.startswith("330899")
    for a in report.areas:
        if a.level == "township":
            assert 5 <= len(children[a.code]) <= 8
            assert a.name.endswith(("街道", "镇", "乡"))
        elif a.level == "village":
            assert 5 <= len(children[a.code]) <= 12
            assert a.name.endswith(("村", "社区"))
            assert len(a.geometry.geoms) == 1  # contiguous
        elif a.level == "grid":
            assert re.fullmatch(r".+(村|社区)第\d+网格", a.name)
    county = report.areas[0]
    assert county.level == "county" and county.name == "衢州示范县"
    x0, y0, x1, y1 = county.geometry.bounds
    assert (x0 + x1) / 2 == pytest.approx(118.9, abs=0.05) and (y0 + y1) / 2 == pytest.approx(28.9, abs=0.05)
    width_km = (x1 - x0) * 111.32 * math.cos(math.radians(28.9))
    assert 30 < width_km < 40 and 25 < (y1 - y0) * 111.32 < 35
    assert county.geometry.area < 0.8 * shapely.box(x0, y0, x1, y1).area  # not a rectangle
    codes = [f["properties"]["code"] for f in fc["features"]]
    levels = [f["properties"]["level"] for f in fc["features"]]
    order = {"county": 0, "township": 1, "village": 2, "grid": 3}
    assert list(zip(levels, codes, strict=True)) == sorted(
        zip(levels, codes, strict=True), key=lambda t: (order[t[0]], t[1])
    )


def test_committed_demo_county_matches_a_fresh_generation(tmp_path):
    out = tmp_path / "demo.geojson"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_demo_county.py"), "--out", str(out)], check=True)
    assert out.read_bytes() == DEMO.read_bytes()


# --------------------------------------------------------------------------- synthetic maps


def _synthetic(tmp_path: Path, name: str, *args: str) -> Path:
    out = tmp_path / name
    cmd = [sys.executable, str(ROOT / "scripts" / "make_synthetic_map.py"), "--out", str(out), *args]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def test_synthetic_2000_grid_map_is_valid(tmp_path):
    out = _synthetic(tmp_path, "s.geojson", "--grids", "2000")
    report = run(json.loads(out.read_text(encoding="utf-8")))
    assert report.problems == []
    assert report.counts["grid"] == 2000 and report.counts["county"] == 1
    assert report.areas[0].code == "339999"


def test_synthetic_generator_is_deterministic(tmp_path):
    a = _synthetic(tmp_path, "a.geojson", "--grids", "500", "--seed", "7")
    b = _synthetic(tmp_path, "b.geojson", "--grids", "500", "--seed", "7")
    c = _synthetic(tmp_path, "c.geojson", "--grids", "500", "--seed", "8")
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


@given(n=st.integers(1, 700), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_synthetic_maps_of_any_size_are_valid(n, seed):
    fc = json.loads(make_synthetic_map.render(n, "339998", seed))
    report = run(fc)
    assert report.problems == []
    assert report.counts["grid"] == n
    assert all(a.code.startswith("339998") for a in report.areas)


def test_perturbing_one_shared_vertex_of_a_synthetic_map_is_caught():
    fc = json.loads(make_synthetic_map.render(200, seed=3))
    grids = [f for f in fc["features"] if f["properties"]["level"] == "grid"]
    target = grids[4]  # the middle cell of the first 3 x 3 village
    ring = target["geometry"]["coordinates"][0]
    ring[2] = [ring[2][0] + 0.0005, ring[2][1] + 0.0005]  # move its north-east corner ~50 m north-east
    report = run(fc)
    assert kinds(report) == {"overlap"}
    overlaps = [p for p in report.problems if p.kind == "overlap"]
    assert len(overlaps) >= 2 and all(p.code == target["properties"]["code"] for p in overlaps)
