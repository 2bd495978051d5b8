"""The coverage API: roles, scope (out of scope answers exactly like missing), formats, and privacy."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select

from server.areas.index_cache import current_generation_id
from server.areas.models import Area
from server.coverage import routes
from tests.coverage.conftest import NOW
from tests.coverage.factories import PLANTED_DESCRIPTION, PLANTED_RECEIPT

SECRETS = (
    PLANTED_DESCRIPTION,
    "PLANTED-COVERAGE",
    PLANTED_RECEIPT,
    "举报人丙",
    "13911112222",
    "覆盖测试户主",
    "13900000000",
)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr(routes, "utcnow", lambda: NOW)


def assert_no_private_data(body: bytes | str) -> None:
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    for secret in SECRETS:
        assert secret not in text, f"coverage leaked {secret!r}"
    for word in ("description", "reporter", "receipt", "head_name", "phone", "location", "raw_lon"):
        assert f'"{word}"' not in text


def test_county_staff_get_children_and_totals(client, world, make_user, auth_headers):
    headers = auth_headers(make_user("county_staff", world.county))
    response = client.get(f"/api/v1/coverage/{world.village}", headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["area"]["code"] == world.village and body["child_level"] == "grid"
    items = {i["code"]: i for i in body["items"]}
    assert items[world.g1]["households"] == 4 and items[world.g1]["tips_overdue"] == 2
    assert body["area"]["households"] == 6 and body["area"]["link_rate"] == round(4 / 6, 4)
    assert body["window"]["now"] == NOW.isoformat()
    assert_no_private_data(response.get_data())


def test_members_and_volunteers_may_not(client, world, make_user, auth_headers):
    headers = auth_headers(make_user("member", world.g1))
    response = client.get(f"/api/v1/coverage/{world.g1}", headers=headers)
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert client.get(f"/api/v1/coverage/{world.county}").status_code == 401


def _delete_area(db_session, app, code):
    area = db_session.scalar(select(Area).where(Area.generation_id == current_generation_id(), Area.code == code))
    db_session.delete(area)
    db_session.commit()
    app.extensions.pop("coverage", None)


def test_township_viewer_sees_only_their_township(app, client, db_session, world, make_user, auth_headers):
    headers = auth_headers(make_user("township_staff", world.township))
    own = client.get(f"/api/v1/coverage/{world.township}", headers=headers)
    assert own.status_code == 200
    assert client.get(f"/api/v1/coverage/{world.village}", headers=headers).status_code == 200
    for code in (world.county, world.other_township, world.g3):
        response = client.get(f"/api/v1/coverage/{code}", headers=headers)
        assert response.status_code == 404 and response.mimetype == "application/problem+json"
    out_of_scope = client.get(f"/api/v1/coverage/{world.other_township}?format=csv", headers=headers)
    _delete_area(db_session, app, world.other_township)
    missing = client.get(f"/api/v1/coverage/{world.other_township}?format=csv", headers=headers)
    assert out_of_scope.status_code == missing.status_code == 404
    assert out_of_scope.get_data() == missing.get_data()


def test_grid_chief_sees_their_grid_without_conflict_tips(client, world, make_user, auth_headers):
    chief = make_user("grid_chief", world.village, grids=[world.g2])
    headers = auth_headers(chief)
    grid = client.get(f"/api/v1/coverage/{world.g2}", headers=headers)
    assert grid.status_code == 200
    # t7 is a conflict-of-interest tip from G2: routed around its chief, so not even counted for them
    assert grid.get_json()["area"]["tips"] == 1 and grid.get_json()["area"]["tips_open"] == 1
    assert client.get(f"/api/v1/coverage/{world.village}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/coverage/{world.g1}", headers=headers).status_code == 404
    county = auth_headers(make_user("county_staff", world.county))
    assert client.get(f"/api/v1/coverage/{world.g2}", headers=county).get_json()["area"]["tips"] == 2


def test_excluded_township_staff_do_not_count_the_conflict_tip(client, world, make_user, auth_headers):
    from tests.coverage.factories import exclude

    staff, excluded = make_user("township_staff", world.township), make_user("township_staff", world.township)
    exclude(world.tips["t7"], excluded)
    seen = client.get(f"/api/v1/coverage/{world.village}", headers=auth_headers(staff)).get_json()
    hidden = client.get(f"/api/v1/coverage/{world.village}", headers=auth_headers(excluded)).get_json()
    assert seen["area"]["tips"] == 8 and hidden["area"]["tips"] == 7


def test_csv_has_a_bom_and_round_trips_chinese(client, world, make_user, auth_headers):
    headers = auth_headers(make_user("county_staff", world.county))
    response = client.get(f"/api/v1/coverage/{world.village}?format=csv", headers=headers)
    assert response.status_code == 200
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert response.mimetype == "text/csv" and "charset=utf-8" in response.content_type
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header = rows[0]
    assert (
        header[0] == "区划编码 code"
        and "联户率(%) link_rate_pct" in header
        and "按期结案率(%) on_time_close_rate_pct" in header
    )
    by_code = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    g1 = by_code[world.g1]
    name = client.get(f"/api/v1/coverage/{world.g1}", headers=headers).get_json()["area"]["name"]
    assert g1["层级 level_zh"] == "网格" and g1["名称 name"] == name and "网格" in name
    assert g1["住户数 households"] == "4" and g1["联户率(%) link_rate_pct"] == "50.0"
    total = rows[-1]
    assert total[0] == world.village and total[1].startswith("合计 ")
    assert_no_private_data(raw)


def test_geojson_is_a_choropleth_ready_feature_collection(client, world, make_user, auth_headers):
    headers = auth_headers(make_user("county_staff", world.county))
    response = client.get(f"/api/v1/coverage/{world.township}?format=geojson", headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    body = json.loads(response.get_data())
    assert body["type"] == "FeatureCollection" and body["area"]["code"] == world.township
    features = {f["id"]: f for f in body["features"]}
    assert world.village in features
    village = features[world.village]
    assert village["geometry"]["type"] == "MultiPolygon"
    assert village["properties"]["households"] == 6 and village["properties"]["index"] == "fortress"
    assert_no_private_data(response.get_data())


def test_bad_query_is_a_problem(client, world, make_user, auth_headers):
    headers = auth_headers(make_user("county_staff", world.county))
    response = client.get(f"/api/v1/coverage/{world.county}?since=2026-11-20&until=2026-11-01", headers=headers)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert client.get(f"/api/v1/coverage/{world.county}?format=xlsx", headers=headers).status_code == 422


def test_meta_documents_fields_and_index_configuration(client, world, make_user, auth_headers):
    body = client.get("/api/v1/coverage/meta", headers=auth_headers(make_user("county_staff", world.county))).get_json()
    names = [f["name"] for f in body["fields"]]
    assert "link_rate" in names and "index_value" in names
    assert body["indices"]["thresholds"] == {"red": 85.0, "yellow": 60.0}
    assert set(body["indices"]["weights"]) == {"service", "fortress", "vanguard"}
    assert body["home_area"] == world.county


def test_members_endpoint_is_scoped(client, world, make_user, auth_headers):
    headers = auth_headers(make_user("township_staff", world.township))
    response = client.get(f"/api/v1/coverage/{world.village}/members", headers=headers)
    assert response.status_code == 200
    names = {m["name"] for m in response.get_json()["items"]}
    assert "联户党员甲" in names
    assert client.get(f"/api/v1/coverage/{world.other_township}/members", headers=headers).status_code == 404
    chief = auth_headers(make_user("grid_chief", world.village, grids=[world.g1]))
    assert client.get(f"/api/v1/coverage/{world.g1}/members", headers=chief).status_code == 403


def test_a_new_tip_shows_within_the_cache_ttl(app, client, world, make_user, auth_headers, monkeypatch):
    from datetime import timedelta

    from tests.coverage import factories as f

    assert app.config["GRID"].coverage_cache_seconds <= 60
    headers = auth_headers(make_user("county_staff", world.county))
    before = client.get(f"/api/v1/coverage/{world.g1}", headers=headers).get_json()["area"]["tips"]
    f.tip(world.g1, "dispatched", start=NOW - timedelta(minutes=5))
    ttl = app.config["GRID"].coverage_cache_seconds
    if ttl:  # within the TTL the cached counts answer; the new tip waits at most ttl (<= 60 s)
        monkeypatch.setattr(routes, "utcnow", lambda: NOW + timedelta(seconds=ttl / 2))
        assert client.get(f"/api/v1/coverage/{world.g1}", headers=headers).get_json()["area"]["tips"] == before
    monkeypatch.setattr(routes, "utcnow", lambda: NOW + timedelta(seconds=ttl))
    after = client.get(f"/api/v1/coverage/{world.g1}", headers=headers).get_json()["area"]["tips"]
    assert after == before + 1
