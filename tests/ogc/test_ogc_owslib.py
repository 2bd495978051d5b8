"""OGC API - Features checked with a real client library: OWSLib against a live threaded server on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
import shapely
from owslib.ogcapi import REQUEST_HEADERS
from owslib.ogcapi.features import Features

from server.accounts.models import User
from server.extensions import db
from tests.conftest import TEST_PASSWORD, _test_password_hash
from tests.coverage import factories as f
from tests.live import fresh_database_url, live_app, serving

pytestmark = pytest.mark.db

TOWNSHIP = "330899001"
GRID = "330899001001001"


@pytest.fixture(scope="module")
def live(database_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ogc_live")
    app = live_app(fresh_database_url(database_url, tmp), str(tmp / "photos"))
    with app.app_context():
        for phone, role, area in (("13700000901", "township_staff", TOWNSHIP), ("13700000902", "member", GRID)):
            user = User(
                phone=phone,
                name=f"OGC {role}",
                home_area_code=area,
                active=True,
                token_version=1,
                password_hash=_test_password_hash(),
            )
            user.set_roles([role])
            db.session.add(user)
        now = datetime.now(UTC)
        for _ in range(3):
            f.household(GRID, created_at=now - timedelta(days=3))
        db.session.commit()
    with serving(app) as url:
        yield url


def token(base: str, phone: str) -> str:
    response = requests.post(f"{base}/api/v1/auth/login", json={"phone": phone, "password": TEST_PASSWORD}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture
def anonymous(live):
    REQUEST_HEADERS.pop("Authorization", None)  # OWSLib keeps headers in a module-level dict
    yield Features(f"{live}/ogc")
    REQUEST_HEADERS.pop("Authorization", None)


def test_landing_conformance_and_api(anonymous, live):
    rels = {link["rel"]: link for link in anonymous.links}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    classes = anonymous.conformance()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in classes
    api = anonymous.api()
    assert api["openapi"].startswith("3.0") and "/ogc/collections/{collectionId}/items" in api["paths"]


def test_collections_with_extents(anonymous):
    assert anonymous.feature_collections() == ["grids", "villages", "townships"]
    grids = anonymous.collection("grids")
    minx, miny, maxx, maxy = grids["extent"]["spatial"]["bbox"][0]
    assert 118 < minx < maxx < 120 and 28 < miny < maxy < 30
    assert any(link["rel"] == "items" and link["type"] == "application/geo+json" for link in grids["links"])


def test_items_paging_and_bbox(anonymous):
    page = anonymous.collection_items("grids", limit=5)
    assert page["type"] == "FeatureCollection" and page["numberReturned"] == 5 and page["numberMatched"] == 474
    nxt = next(link for link in page["links"] if link["rel"] == "next")
    assert "offset=5" in nxt["href"] and "limit=5" in nxt["href"]
    second = anonymous.collection_items("grids", limit=5, offset=5)
    assert not {x["id"] for x in page["features"]} & {x["id"] for x in second["features"]}
    assert set(page["features"][0]["properties"]) == {
        "code",
        "name",
        "level",
        "level_zh",
        "parent_code",
        "generation_id",
    }  # public: no indicators without a token
    bbox = [118.86, 28.93, 118.88, 28.95]
    inside = anonymous.collection_items("grids", bbox=bbox, limit=1000)
    box = shapely.box(*bbox)
    assert 0 < inside["numberReturned"] == inside["numberMatched"] < 474
    assert all(shapely.geometry.shape(x["geometry"]).intersects(box) for x in inside["features"])


def test_single_item_and_missing_item(anonymous, live):
    item = anonymous.collection_item("grids", GRID)
    assert item["id"] == GRID and item["geometry"]["type"] == "MultiPolygon"
    assert item["properties"]["level"] == "grid"
    with pytest.raises(RuntimeError):
        anonymous.collection_item("grids", "330899999999999")
    missing = requests.get(f"{live}/ogc/collections/grids/items/330899999999999", timeout=10)
    assert missing.status_code == 404 and missing.headers["Content-Type"] == "application/problem+json"


def test_a_coverage_viewer_gets_indicators_in_their_scope(live):
    REQUEST_HEADERS.pop("Authorization", None)
    try:
        client = Features(f"{live}/ogc", headers={"Authorization": f"Bearer {token(live, '13700000901')}"})
        villages = client.collection_items("villages", limit=1000)
        assert villages["numberMatched"] > 0
        assert all(v["id"].startswith(TOWNSHIP) for v in villages["features"])
        village = next(v for v in villages["features"] if v["id"] == GRID[:12])
        assert village["properties"]["households"] == 3 and village["properties"]["index"] == "fortress"
        assert client.collection_item("grids", GRID)["properties"]["households"] == 3
        with pytest.raises(RuntimeError):  # another township's grid: 404, as if missing
            client.collection_item("grids", "330899002001001")
    finally:
        REQUEST_HEADERS.pop("Authorization", None)


def test_a_member_token_gets_the_public_view(live):
    headers = {"Authorization": f"Bearer {token(live, '13700000902')}"}
    body = requests.get(f"{live}/ogc/collections/grids/items?limit=2", headers=headers, timeout=10).json()
    assert body["numberMatched"] == 474 and "households" not in body["features"][0]["properties"]
