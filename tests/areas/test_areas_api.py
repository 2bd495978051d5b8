"""Areas, children, grid listings, health probes and problem+json for Flask's own errors."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
import shapely

from tests.areas.helpers import assert_problem

COUNTY = "330899"


def test_county_with_geometry(client):
    body = client.get(f"/api/v1/areas/{COUNTY}?geometry=true").get_json()
    assert body["code"] == COUNTY and body["level"] == "county" and body["parent_code"] is None
    assert body["chain"] == []
    geom = shapely.geometry.shape(body["geometry"])
    assert geom.geom_type == "MultiPolygon" and geom.is_valid
    assert 118.5 < geom.centroid.x < 119.3 and 28.6 < geom.centroid.y < 29.2


def test_area_without_geometry_by_default(client):
    assert "geometry" not in client.get(f"/api/v1/areas/{COUNTY}").get_json()


def test_children_are_the_townships_in_code_order(client):
    body = client.get(f"/api/v1/areas/{COUNTY}/children").get_json()
    codes = [c["code"] for c in body["items"]]
    assert body["parent"]["code"] == COUNTY
    assert codes == sorted(codes) and len(codes) >= 5
    assert all(c["level"] == "township" and c["code"].startswith(COUNTY) and len(c["code"]) == 9 for c in body["items"])


def test_grid_chain_names_village_township_county(client):
    township = client.get(f"/api/v1/areas/{COUNTY}/children").get_json()["items"][0]["code"]
    village = client.get(f"/api/v1/areas/{township}/children").get_json()["items"][0]["code"]
    grid = client.get(f"/api/v1/areas/{village}/children").get_json()["items"][0]
    body = client.get(f"/api/v1/areas/{grid['code']}").get_json()
    assert [a["code"] for a in body["chain"]] == [village, township, COUNTY]


def test_unknown_area_is_a_problem_404(client):
    assert_problem(client.get("/api/v1/areas/330899999999999"), 404, "not-found")


def test_unknown_generation_is_404(client):
    assert_problem(client.get(f"/api/v1/areas/{COUNTY}?generation=999999"), 404, "not-found")


def test_grids_page_links_walk_every_grid_once(client):
    first = client.get("/api/v1/grids?limit=150").get_json()
    assert first["type"] == "FeatureCollection" and first["numberReturned"] == 150
    seen, page = [], first
    while True:
        seen += [f["properties"]["code"] for f in page["features"]]
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not nxt:
            break
        page = client.get(nxt[0]).get_json()
    assert len(seen) == first["numberMatched"] == len(set(seen)) and seen == sorted(seen)


def test_grids_within_a_village(client):
    township = client.get(f"/api/v1/areas/{COUNTY}/children").get_json()["items"][1]["code"]
    village = client.get(f"/api/v1/areas/{township}/children").get_json()["items"][0]["code"]
    expected = [c["code"] for c in client.get(f"/api/v1/areas/{village}/children").get_json()["items"]]
    body = client.get(f"/api/v1/grids?within={village}").get_json()
    assert [f["properties"]["code"] for f in body["features"]] == expected


def test_grids_in_a_bbox_are_exactly_those_that_intersect_it(client):
    everything = client.get("/api/v1/grids?limit=1000").get_json()["features"]
    shapes = {f["properties"]["code"]: shapely.geometry.shape(f["geometry"]) for f in everything}
    centre = shapely.union_all(list(shapes.values())).centroid
    bbox = (centre.x - 0.02, centre.y - 0.015, centre.x + 0.02, centre.y + 0.015)
    box = shapely.box(*bbox)
    expected = sorted(c for c, g in shapes.items() if g.intersects(box))
    body = client.get("/api/v1/grids", query_string={"bbox": ",".join(map(str, bbox)), "limit": 1000}).get_json()
    assert [f["properties"]["code"] for f in body["features"]] == expected and 3 < len(expected) < len(shapes)


def test_next_link_keeps_the_filters(client):
    body = client.get("/api/v1/grids?within=330899&limit=5").get_json()
    query = parse_qs(urlparse(next(link["href"] for link in body["links"] if link["rel"] == "next")).query)
    assert query == {"within": ["330899"], "limit": ["5"], "offset": ["5"]}


@pytest.mark.parametrize(
    "query",
    ["bbox=1,2,3", "bbox=119,29,118,28", "bbox=a,b,c,d", "limit=0", "limit=5000", "offset=-1"],
)
def test_bad_grid_queries_are_422(client, query):
    body = assert_problem(client.get(f"/api/v1/grids?{query}"), 422, "validation-failed")
    assert body["errors"]


def test_flask_404_and_405_are_problems(client):
    assert_problem(client.get("/no/such/page"), 404, "not-found")
    response = client.post("/api/v1/grids/locate")
    assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["Allow"]


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready" and ready["generation_id"] >= 1 and ready["tips_waiting"] == 0


def test_docs_page_uses_local_assets_only(client):
    html = client.get("/api/docs").get_data(as_text=True)
    assert "/vendor/swagger-ui-dist/" in html and "cdn" not in html.lower() and "unpkg" not in html.lower()
    assert client.get("/vendor/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200
    assert client.get("/api/openapi.json").get_json()["info"]["title"].startswith("Grid inspection API")


def test_an_unhandled_error_is_a_problem_500_that_says_nothing_was_saved():
    from server import create_app

    app = create_app({"database_url": "sqlite:///:memory:", "env": "test"})

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    body = assert_problem(response, 500, "internal-error")
    assert "Nothing was saved" in body["detail"] and "secret internals" not in response.get_data(as_text=True)


@pytest.mark.parametrize("code", ["33\x0099", "330899%", "abc", "3308990010010011", "33089"])
def test_strings_that_cannot_be_codes_are_404(client, code):
    assert_problem(client.get(f"/api/v1/areas/{code}"), 404, "not-found")
    assert_problem(client.get(f"/api/v1/areas/{code}/children"), 404, "not-found")
