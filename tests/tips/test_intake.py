"""POST /api/v1/tips: routing to the responsible person, datums, idempotency, validation, nothing lost."""

from __future__ import annotations

import uuid

import pytest
import shapely
from sqlalchemy import func, select

from server.extensions import db
from server.geo import datum
from server.idempotency import IdempotencyRecord
from server.tips.models import Tip, TipEvent, TipReporter
from tests.areas.helpers import assert_problem, grid_shapes
from tests.tips.helpers import grid_point, payload, post_tip


@pytest.fixture
def member(make_user, demo_areas):
    return make_user("member", demo_areas["grid"])


def count_tips() -> int:
    return db.session.scalar(select(func.count(Tip.id)))


def test_tip_goes_to_the_grid_chief(client, make_user, member, auth_headers, demo_areas):
    chief = make_user("grid_chief", demo_areas["village"], grids=[demo_areas["grid"]])
    response = post_tip(client, auth_headers(member), payload(*grid_point(demo_areas["grid"])))
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["grid"]["code"] == demo_areas["grid"] and body["status"] == "submitted"  # the worker routes it
    tip = db.session.get(Tip, body["id"])
    assert tip.status == "dispatched" and tip.assignee_user_id == chief.id and tip.queue_kind == "grid_chief"
    assert tip.generation_id is not None and tip.source_datum == "wgs84"
    assert db.session.scalar(select(TipEvent.action).where(TipEvent.tip_id == tip.id)) == "dispatch"


def test_without_a_chief_a_deputy_then_the_township_queue(client, make_user, member, auth_headers, demo_areas):
    grid = demo_areas["sibling_grid"]
    body = post_tip(client, auth_headers(member), payload(*grid_point(grid))).get_json()
    tip = db.session.get(Tip, body["id"])
    assert tip.queue_kind == "township" and tip.queue_area_code == grid[:9] and tip.assignee_user_id is None
    deputy = make_user("grid_chief", demo_areas["village"], grids=[grid], kind="deputy")
    body = post_tip(client, auth_headers(member), payload(*grid_point(grid))).get_json()
    tip = db.session.get(Tip, body["id"])
    assert tip.queue_kind == "grid_deputy" and tip.assignee_user_id == deputy.id


def test_gcj02_point_near_an_edge_routes_to_the_right_grid(client, member, auth_headers):
    shapes = grid_shapes()
    code, wgs = next(
        (code, (p.x, p.y))
        for code, geom in sorted(shapes.items())
        for p in [geom.representative_point()]
        if not geom.covers(shapely.Point(*datum.from_wgs84(p.x, p.y, "gcj02")))
    )
    right = post_tip(client, auth_headers(member), payload(*wgs, datum_name="gcj02")).get_json()
    assert right["grid"]["code"] == code
    tip = db.session.get(Tip, right["id"])
    assert tip.source_datum == "gcj02" and tip.raw_lon != wgs[0]
    misread = dict(payload(*wgs, datum_name="gcj02"))
    misread["location"] = misread["location"] | {"datum": "wgs84"}
    wrong = post_tip(client, auth_headers(member), misread).get_json()
    assert wrong["outside_grids"] or wrong["grid"]["code"] != code


def test_outside_every_grid_goes_to_the_county_queue_flagged(client, member, auth_headers, demo_areas):
    body = post_tip(client, auth_headers(member), payload(119.6, 28.9)).get_json()
    assert body["outside_grids"] is True and body["grid"] is None
    tip = db.session.get(Tip, body["id"])
    assert tip.queue_kind == "county" and tip.area_code == demo_areas["county"]


def test_same_key_same_body_returns_the_original_response(client, member, auth_headers, demo_areas):
    key, body = str(uuid.uuid4()), payload(*grid_point(demo_areas["grid"]))
    first = post_tip(client, auth_headers(member), body, key=key)
    before = count_tips()
    again = post_tip(client, auth_headers(member), body, key=key)
    assert again.status_code == first.status_code == 202
    assert again.get_json() == first.get_json() and count_tips() == before


def test_same_key_different_body_is_422(client, member, auth_headers, demo_areas):
    key = str(uuid.uuid4())
    post_tip(client, auth_headers(member), payload(*grid_point(demo_areas["grid"])), key=key)
    before = count_tips()
    other = payload(*grid_point(demo_areas["grid"]), description="something else")
    assert_problem(post_tip(client, auth_headers(member), other, key=key), 422, "idempotency-key-reused")
    assert count_tips() == before


def test_another_user_reusing_a_key_gets_nothing_of_the_first(client, make_user, member, auth_headers, demo_areas):
    key, body = str(uuid.uuid4()), payload(*grid_point(demo_areas["grid"]))
    first = post_tip(client, auth_headers(member), body, key=key).get_json()
    stranger = make_user("member", demo_areas["grid"])
    second = post_tip(client, auth_headers(stranger), body, key=key)
    assert second.status_code == 202
    assert second.get_json()["id"] != first["id"]
    reporter = db.session.get(TipReporter, second.get_json()["id"])
    assert reporter.user_id == stranger.id


def test_same_key_while_the_first_is_running_is_409(client, member, auth_headers, demo_areas):
    key = str(uuid.uuid4())
    db.session.add(IdempotencyRecord(caller=f"user:{member.id}", key=key, request_hash="x" * 64, state="processing"))
    db.session.commit()
    response = post_tip(client, auth_headers(member), payload(*grid_point(demo_areas["grid"])), key=key)
    assert_problem(response, 409, "request-in-progress")


def test_missing_key_is_400_and_nothing_is_written(client, member, auth_headers, demo_areas):
    before = count_tips()
    response = client.post("/api/v1/tips", headers=auth_headers(member), json=payload(*grid_point(demo_areas["grid"])))
    assert_problem(response, 400, "idempotency-key-missing")
    assert count_tips() == before


@pytest.mark.parametrize(
    ("change", "status", "slug"),
    [
        ({"category": "no.such"}, 422, "unknown-category"),
        ({"description": ""}, 422, "validation-failed"),
        ({"description": "x" * 5001}, 422, "validation-failed"),
        ({"location": {"lon": 118.9, "lat": 28.9, "datum": "wgs85"}}, 422, "unknown-datum"),
        ({"location": {"lon": 28.9, "lat": 118.9, "datum": "wgs84"}}, 422, "coordinates-swapped"),
        ({"location": {"lon": 218.9, "lat": 28.9, "datum": "wgs84"}}, 422, "coordinate-out-of-range"),
        ({"location": {"lon": "nan", "lat": 28.9, "datum": "wgs84"}}, 422, "coordinate-not-finite"),
        ({"occurred_at": "2099-01-01T00:00:00+08:00"}, 422, "occurred-in-future"),
        ({"occurred_at": "2026-11-28T21:30:00"}, 422, "validation-failed"),
    ],
)
def test_bad_input_is_a_clear_problem_and_changes_nothing(
    client, member, auth_headers, demo_areas, change, status, slug
):
    before = count_tips()
    body = payload(*grid_point(demo_areas["grid"])) | change
    assert_problem(post_tip(client, auth_headers(member), body), status, slug)
    assert count_tips() == before
    assert (
        db.session.scalar(select(func.count(IdempotencyRecord.id)).where(IdempotencyRecord.state == "processing")) == 0
    )


def test_a_failed_request_releases_its_key_so_a_retry_works(client, member, auth_headers, demo_areas):
    key = str(uuid.uuid4())
    bad = payload(*grid_point(demo_areas["grid"])) | {"category": "no.such"}
    assert post_tip(client, auth_headers(member), bad, key=key).status_code == 422
    good = payload(*grid_point(demo_areas["grid"]))
    assert post_tip(client, auth_headers(member), good, key=key).status_code == 202


def test_unauthenticated_posting_is_401(client, demo_areas):
    assert_problem(post_tip(client, {}, payload(*grid_point(demo_areas["grid"]))), 401, "token-missing")


def test_categories_are_listed_with_labels_and_limits(client):
    items = client.get("/api/v1/tips/categories").get_json()["items"]
    by_code = {c["code"]: c for c in items}
    assert by_code["gang"]["label_zh"] == "涉黑涉恶" and by_code["gang"]["accept_hours"] == 2
    assert by_code["cult"]["accept_hours"] == 2 and by_code["vice"]["accept_hours"] == 8
    assert by_code["gang.protective_umbrella"]["conflict"] is True
    for sub in (
        "gang.village_bully",
        "gang.clan_gang",
        "gang.forced_contracting",
        "gang.market_bullying",
        "gang.loan_sharking",
        "vice.gambling",
        "vice.drugs",
        "vice.pornography",
        "other",
    ):
        assert sub in by_code and by_code[sub]["label_en"]
