"""OGC API - Features with the test client: media types, parameter errors (400 problem+json), the API definition
agreeing with the routes, scope and privacy."""

from __future__ import annotations

import re

import pytest

from server.ogc.openapi import document
from tests.coverage.factories import PLANTED_DESCRIPTION, PLANTED_RECEIPT


def test_media_types(client, db_session):
    assert client.get("/ogc").mimetype == "application/json"
    assert client.get("/ogc/conformance").mimetype == "application/json"
    assert client.get("/ogc/collections").mimetype == "application/json"
    assert client.get("/ogc/collections/villages/items?limit=2").mimetype == "application/geo+json"
    assert client.get("/ogc/api").mimetype == "application/vnd.oai.openapi+json"


@pytest.mark.parametrize(
    "query",
    ["?foo=1", "?limit=0", "?limit=abc", "?offset=-1", "?bbox=1,2,3", "?bbox=10,10,5,5", "?f=html"],
)
def test_bad_parameters_are_400_problems(client, db_session, query):
    response = client.get(f"/ogc/collections/grids/items{query}")
    assert response.status_code == 400 and response.mimetype == "application/problem+json"


def test_missing_collection_is_a_404_problem(client, db_session):
    response = client.get("/ogc/collections/households/items")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"


def test_limit_above_the_maximum_is_capped(client, db_session):
    body = client.get("/ogc/collections/grids/items?limit=999999").get_json()
    assert body["numberReturned"] == body["numberMatched"] == 474


def test_api_definition_describes_exactly_the_routes(app):
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule) for r in app.url_map.iter_rules() if r.rule.startswith("/ogc")
    }
    routes = {
        r.replace("{collection_id}", "{collectionId}").replace("{feature_id}", "{featureId}").rstrip("/")
        for r in routes
    }
    assert routes == set(document("http://x")["paths"])


def test_viewer_sees_only_scope_and_no_private_data(client, world, make_user, auth_headers):
    headers = auth_headers(make_user("township_staff", world.township))
    body = client.get("/ogc/collections/grids/items?limit=1000", headers=headers)
    data = body.get_data(as_text=True)
    features = body.get_json()["features"]
    assert features and all(x["id"].startswith(world.township) for x in features)
    g1 = next(x for x in features if x["id"] == world.g1)
    assert g1["properties"]["households"] == 5 and "tips_open" in g1["properties"]  # at the real now
    for secret in (PLANTED_DESCRIPTION, PLANTED_RECEIPT, "举报人丙", "13911112222", "覆盖测试户主"):
        assert secret not in data
    assert client.get(f"/ogc/collections/grids/items/{world.g3}", headers=headers).status_code == 404
    assert client.get(f"/ogc/collections/grids/items/{world.g3}").status_code == 200  # public geometry


def test_chief_counts_exclude_the_conflict_tip(client, world, make_user, auth_headers):
    chief = auth_headers(make_user("grid_chief", world.village, grids=[world.g2]))
    body = client.get(f"/ogc/collections/grids/items/{world.g2}", headers=chief).get_json()
    county = auth_headers(make_user("county_staff", world.county))
    full = client.get(f"/ogc/collections/grids/items/{world.g2}", headers=county).get_json()
    assert full["properties"]["tips"] == body["properties"]["tips"] + 1
