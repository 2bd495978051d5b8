"""GET /api/v1/grids/locate: inside, on edges and vertices, snapped, far misses, datums and bad input."""

from __future__ import annotations

import pytest
import shapely
import shapely.ops

from server.geo import datum
from server.geo.metric import degrees_for_metres
from tests.areas.helpers import assert_problem, covering_codes, grid_shapes


@pytest.fixture
def shapes(db_session):
    return grid_shapes()


def locate(client, lon, lat, datum_name="wgs84"):
    return client.get("/api/v1/grids/locate", query_string={"lon": lon, "lat": lat, "datum": datum_name})


def test_point_inside_a_grid_returns_it_with_its_chain(client, shapes):
    code, geom = sorted(shapes.items())[7]
    p = geom.representative_point()
    body = locate(client, p.x, p.y).get_json()
    assert body["grid"]["code"] == code and body["grid"]["level"] == "grid" and body["grid"]["level_zh"] == "网格"
    assert [a["level"] for a in body["chain"]] == ["village", "township", "county"]
    assert [a["code"] for a in body["chain"]] == [code[:12], code[:9], code[:6]]
    assert body["snapped"] is False and body["distance_m"] == 0
    assert body["generation_id"] >= 1


def test_shared_vertex_goes_to_the_smallest_code(client, shapes):
    vertex, owners = _shared_vertex(shapes, min_owners=3)
    body = locate(client, *vertex).get_json()
    assert body["grid"]["code"] == owners[0]
    assert body["snapped"] is False


def _shared_vertex(shapes, min_owners: int):
    for geom in shapes.values():
        for x, y in shapely.get_coordinates(geom):
            owners = covering_codes(shapes, x, y)
            if len(owners) >= min_owners:
                return (x, y), owners
    raise AssertionError("the demo map has no vertex shared by enough grids")


def _point_outside_county(shapes, metres: float):
    """A point `metres` outside the county's boundary, moving away from the centroid where that leaves it."""
    county = shapely.union_all(list(shapes.values()))
    centre = county.centroid
    for frac in [i / 40 for i in range(40)]:
        edge = county.exterior.interpolate(frac, normalized=True) if county.geom_type == "Polygon" else None
        if edge is None:
            edge = county.geoms[0].exterior.interpolate(frac, normalized=True)
        dx, dy = edge.x - centre.x, edge.y - centre.y
        scale = degrees_for_metres(metres, edge.y) / (dx * dx + dy * dy) ** 0.5
        candidate = shapely.Point(edge.x + dx * scale, edge.y + dy * scale)
        nearest = shapely.ops.nearest_points(county, candidate)[0]
        gap = datum.distance_m(candidate.x, candidate.y, nearest.x, nearest.y)
        if not county.covers(candidate) and 0.5 * metres < gap < metres * 1.2:
            return candidate, gap
    raise AssertionError("no suitable boundary point")


def test_point_just_outside_the_county_snaps_to_the_nearest_grid(client, shapes):
    point, gap = _point_outside_county(shapes, 60)
    body = locate(client, point.x, point.y).get_json()
    nearest = min(shapes, key=lambda c: shapes[c].distance(point))
    assert body["snapped"] is True and body["grid"]["code"] == nearest
    assert abs(body["distance_m"] - gap) < 1.0


def test_point_far_outside_is_404_naming_the_nearest_grid(client, shapes):
    county = shapely.union_all(list(shapes.values()))
    minx, miny, maxx, maxy = county.bounds
    body = assert_problem(locate(client, maxx + 0.05, (miny + maxy) / 2), 404, "outside-all-grids")
    assert body["nearest_grid"]["code"] in shapes
    assert body["distance_m"] > 4000
    assert "GCJ-02" in body["detail"]


def test_gcj02_point_near_an_edge_routes_right_where_wgs84_reading_would_not(client, shapes):
    """The 500 m trap: the same numbers read as WGS-84 land in another grid."""
    code, p, gcj = next(
        (code, p, gcj)
        for code, geom in sorted(shapes.items())
        for p in [geom.representative_point()]
        for gcj in [datum.from_wgs84(p.x, p.y, "gcj02")]
        if not geom.covers(shapely.Point(gcj))
    )
    assert locate(client, *gcj, "gcj02").get_json()["grid"]["code"] == code
    misread = locate(client, *gcj, "wgs84")
    assert misread.status_code == 404 or misread.get_json()["grid"]["code"] != code
    bd_lon, bd_lat = datum.from_wgs84(p.x, p.y, "bd09")
    assert locate(client, bd_lon, bd_lat, "bd09").get_json()["grid"]["code"] == code


def test_answer_carries_the_canonical_point_and_the_raw_input(client, shapes):
    p = sorted(shapes.values(), key=lambda g: g.bounds)[3].representative_point()
    gcj = datum.from_wgs84(p.x, p.y, "gcj02")
    body = locate(client, *gcj, "GCJ-02").get_json()
    assert body["input"] == {"lon": gcj[0], "lat": gcj[1], "datum": "GCJ-02"}
    assert body["point"]["datum"] == "wgs84"
    assert datum.distance_m(body["point"]["lon"], body["point"]["lat"], p.x, p.y) < 0.01


@pytest.mark.parametrize(
    ("query", "status", "slug"),
    [
        ({"lat": 28.9}, 422, "validation-failed"),
        ({"lon": "east", "lat": 28.9}, 422, "validation-failed"),
        ({"lon": "nan", "lat": 28.9}, 422, "coordinate-not-finite"),
        ({"lon": 200, "lat": 28.9}, 422, "coordinate-out-of-range"),
        ({"lon": 118.9, "lat": -95}, 422, "coordinate-out-of-range"),
        ({"lon": 28.9, "lat": 118.9}, 422, "coordinates-swapped"),
        ({"lon": 118.9, "lat": 28.9, "datum": "wgs85"}, 422, "unknown-datum"),
    ],
)
def test_bad_input_is_a_clear_problem(client, query, status, slug):
    body = assert_problem(client.get("/api/v1/grids/locate", query_string=query), status, slug)
    if slug == "validation-failed":
        assert body["errors"]


@pytest.mark.parametrize(("lon", "lat"), [(-170.0, 80.0), (0.0, 0.0), (179.9, -89.9), (118.9, 89.9), (-118.9, 28.9)])
def test_points_anywhere_on_earth_name_the_nearest_grid(client, lon, lat):
    """Found by schemathesis: far from the map, the metric search radius at the point's latitude was no bound."""
    body = assert_problem(locate(client, lon, lat), 404, "outside-all-grids")
    assert body["nearest_grid"]["code"].startswith("330899") and body["distance_m"] > 1000
