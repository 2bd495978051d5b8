"""Vector tiles: decoded with mapbox_vector_tile on whichever backend runs (PostGIS: ST_AsMVT; SpatiaLite: Python)."""

from __future__ import annotations

import math

import mapbox_vector_tile
import pytest
import shapely

from server.coverage import routes
from server.coverage.tiles import EXTENT, TILE_FIELDS, tile_bounds_3857, to_3857
from tests.coverage.conftest import NOW
from tests.coverage.factories import PLANTED_DESCRIPTION, PLANTED_RECEIPT, point_in

MVT = "application/vnd.mapbox-vector-tile"


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr(routes, "utcnow", lambda: NOW)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def fetch(client, headers, z, x, y, query=""):
    response = client.get(f"/tiles/grids/{z}/{x}/{y}.mvt{query}", headers=headers)
    assert response.status_code == 200, response.get_data()
    assert response.mimetype == MVT
    return response.get_data()


def features_of(data: bytes) -> dict[str, dict]:
    layer = mapbox_vector_tile.decode(data)["grids"]
    assert layer["extent"] == EXTENT
    return {f["properties"]["code"]: f for f in layer["features"]}


def test_tile_has_the_grids_and_their_indicators(client, world, make_user, auth_headers):
    headers = auth_headers(make_user("county_staff", world.county))
    lon, lat = point_in(world.g1)
    z = 14
    x, y = tile_of(lon, lat, z)
    data = fetch(client, headers, z, x, y)
    features = features_of(data)
    g1 = features[world.g1]["properties"]
    # every attribute is there (G1 has no null indicator), the same set on both backends
    assert set(g1) == {name for name, _ in TILE_FIELDS}
    assert (g1["households"], g1["households_linked"], g1["tips_overdue"], g1["patrols"]) == (4, 2, 2, 2)
    assert g1["link_rate"] == pytest.approx(0.5) and g1["median_accept_minutes"] == pytest.approx(432.0)
    assert g1["last_patrol_at"] == "2026-11-19T10:00:00+00:00" and isinstance(g1["name"], str)
    # the geometry, back from tile units (y up after decoding), holds the grid's inner point
    minx, miny, maxx, maxy = tile_bounds_3857(z, x, y)
    p = to_3857(shapely.Point(lon, lat))
    px = (p.x - minx) / (maxx - minx) * EXTENT
    py = (p.y - miny) / (maxy - miny) * EXTENT
    shape = shapely.geometry.shape(features[world.g1]["geometry"])
    assert shape.buffer(2).covers(shapely.Point(px, py))
    for secret in (PLANTED_DESCRIPTION, PLANTED_RECEIPT, "举报人丙", "13911112222", "覆盖测试户主"):
        assert secret.encode() not in data


def test_null_indicators_are_left_out(client, world, make_user, auth_headers):
    headers = auth_headers(make_user("county_staff", world.county))
    x, y = tile_of(*point_in(world.g3), 14)
    g3 = features_of(fetch(client, headers, 14, x, y))[world.g3]["properties"]
    assert g3["households"] == 1 and "link_rate" in g3 and g3["link_rate"] == 0
    assert g3["median_accept_minutes"] == pytest.approx(10.0)  # t8 was accepted after 10 minutes
    assert g3["on_time_close_rate"] == 0  # t8 is due and not closed: 0 / 1
    assert "last_patrol_at" not in g3  # P4 is after NOW: no patrol yet, and MVT has no null
    x2, y2 = tile_of(*point_in(world.g2), 14)
    g2 = features_of(fetch(client, headers, 14, x2, y2))[world.g2]["properties"]
    assert "on_time_close_rate" not in g2 and g2["tips"] == 2  # nothing due in G2: no rate at all


def test_tile_holds_only_the_viewers_grids(client, world, make_user, auth_headers):
    township = auth_headers(make_user("township_staff", world.township))
    x, y = tile_of(*point_in(world.g1), 12)
    codes = set(features_of(fetch(client, township, 12, x, y)))
    assert world.g1 in codes and all(c.startswith(world.township) for c in codes)
    x3, y3 = tile_of(*point_in(world.g3), 14)
    assert world.g3 not in features_of(fetch(client, township, 14, x3, y3) or _empty())


def test_conflict_tip_is_not_counted_in_the_chiefs_tile(client, world, make_user, auth_headers):
    chief = auth_headers(make_user("grid_chief", world.village, grids=[world.g2]))
    x, y = tile_of(*point_in(world.g2), 14)
    features = features_of(fetch(client, chief, 14, x, y))
    assert set(features) == {world.g2}
    assert features[world.g2]["properties"]["tips"] == 1


def test_empty_and_bad_tiles(client, world, make_user, auth_headers):
    headers = auth_headers(make_user("county_staff", world.county))
    assert fetch(client, headers, 14, 0, 0) == b""
    response = client.get("/tiles/grids/3/8/1.mvt", headers=headers)
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert client.get("/tiles/grids/3/1/1.mvt").status_code == 401
    member = auth_headers(make_user("member", world.g1))
    assert client.get("/tiles/grids/3/1/1.mvt", headers=member).status_code == 403
    bad = client.get("/tiles/grids/3/1/1.mvt?since=yesterday", headers=headers)
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"


def _empty() -> bytes:
    return mapbox_vector_tile.encode([{"name": "grids", "features": []}])
