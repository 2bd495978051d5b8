"""Home visits (五上门): far-from-household flag, datums, times, due/overdue with a frozen now, and the photo."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL.TiffImagePlugin import IFDRational
from sqlalchemy import func, select

from server.geo import datum
from server.geo.metric import METRES_PER_DEGREE
from server.households import services, visits
from server.households.models import Household, Visit
from server.scope import scope_for
from tests.areas.helpers import assert_problem
from tests.households.helpers import T0, add_household, link, location
from tests.photos.helpers import jpeg_with_everything


def north_of(household, metres: float) -> tuple[float, float]:
    return household.raw_lon, household.raw_lat + metres / METRES_PER_DEGREE


@pytest.fixture
def linked(db_session, make_user, grids):
    member = make_user("member", grids[0])
    household = add_household(grids[0])
    link(member, household)
    return member, household


def post_visit(client, headers, household, **body):
    return client.post(f"/api/v1/households/{household.id}/visits", json=body, headers=headers)


@pytest.mark.parametrize(("metres", "far"), [(30.0, False), (99.0, False), (101.0, True), (450.0, True)])
def test_far_from_household_flag(client, auth_headers, linked, metres, far):
    member, household = linked
    response = post_visit(client, auth_headers(member), household, location=location(*north_of(household, metres)))
    assert response.status_code == 201, response.get_data(as_text=True)
    visit = response.get_json()
    assert visit["far_from_household"] is far
    assert visit["distance_m"] == pytest.approx(metres, abs=0.5)


def test_a_gcj02_position_is_converted_before_measuring(client, auth_headers, linked):
    member, household = linked
    gcj = datum.wgs84_to_gcj02(*north_of(household, 20.0))  # read as WGS-84 it would be ~500 m off
    response = post_visit(client, auth_headers(member), household, location=location(*gcj, "gcj02"))
    visit = response.get_json()
    assert visit["far_from_household"] is False and visit["distance_m"] == pytest.approx(20.0, abs=0.5)
    assert visit["source"]["datum"] == "gcj02" and visit["source"]["lon"] == gcj[0]


def test_visit_updates_the_households_status(client, db_session, auth_headers, linked):
    member, household = linked
    before = client.get(f"/api/v1/households/{household.id}", headers=auth_headers(member)).get_json()["visit"]
    assert before["overdue"] is True and before["never_visited"] is True  # registered 2026-09-01, never visited
    when = datetime.now(UTC) - timedelta(days=1)
    response = post_visit(
        client,
        auth_headers(member),
        household,
        location=location(household.raw_lon, household.raw_lat),
        visited_at=when.isoformat(),
        note="家中一切正常",
    )
    status = response.get_json()["household_visit"]
    assert status["overdue"] is False and status["status"] == "ok" and status["never_visited"] is False
    assert datetime.fromisoformat(status["last_visited_at"]) == when
    assert datetime.fromisoformat(status["next_due_at"]) == when + timedelta(days=30)


def test_a_late_upload_of_an_old_visit_does_not_move_the_clock_back(db_session, linked):
    member, household = linked
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    here = {"location": location(household.raw_lon, household.raw_lat)}
    scope = scope_for(member)
    visits.log_visit(household.id, member, here | {"visited_at": now - timedelta(days=2)}, None, now=now, scope=scope)
    visits.log_visit(household.id, member, here | {"visited_at": now - timedelta(days=20)}, None, now=now, scope=scope)
    visits.log_visit(household.id, member, here, None, now=now, scope=scope)  # no visited_at: now
    db_session.expire_all()
    assert db_session.get(Household, household.id).last_visited_at == now
    assert db_session.scalar(select(func.count()).where(Visit.household_id == household.id)) == 3


def test_visit_in_the_future_and_bad_coordinates_are_refused(client, db_session, auth_headers, linked):
    member, household = linked
    headers = auth_headers(member)
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    here = location(household.raw_lon, household.raw_lat)
    assert_problem(post_visit(client, headers, household, location=here, visited_at=future), 422, "visit-in-future")
    nan = here | {"lon": "NaN"}
    assert_problem(post_visit(client, headers, household, location=nan), 422, "coordinate-not-finite")
    assert_problem(post_visit(client, headers, household), 422, "validation-failed")
    assert db_session.scalar(select(func.count()).where(Visit.household_id == household.id)) == 0


def test_naive_visited_at_is_china_time(client, auth_headers, linked):
    member, household = linked
    response = post_visit(
        client,
        auth_headers(member),
        household,
        location=location(household.raw_lon, household.raw_lat),
        visited_at="2026-11-20T09:30:00",
    )
    assert datetime.fromisoformat(response.get_json()["visited_at"]) == datetime(2026, 11, 20, 1, 30, tzinfo=UTC)


# --- due and overdue, with a frozen now -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_after_visit", "status", "overdue"),
    [(0, "ok", False), (22, "ok", False), (23.5, "due_soon", False), (30, "due_soon", False), (30.01, "overdue", True)],
)
def test_visit_status_against_the_target(db_session, grids, days_after_visit, status, overdue):
    visited = T0 + timedelta(days=3)
    household = add_household(grids[0], created_at=T0, last_visited_at=visited)
    now = visited + timedelta(days=days_after_visit)
    got = services.visit_status(household, now, target_days=30)
    assert (got.status, got.overdue, got.next_due_at) == (status, overdue, visited + timedelta(days=30))


def test_never_visited_households_are_due_from_registration(db_session, grids):
    household = add_household(grids[0], created_at=T0)
    assert services.visit_status(household, T0 + timedelta(days=29), 30).overdue is False
    assert services.visit_status(household, T0 + timedelta(days=31), 30).overdue is True


def test_the_sql_overdue_filter_agrees_with_visit_status(db_session, make_user, grids):
    scope_user = make_user("admin")
    households = [
        add_household(grids[0], k=k, created_at=T0, last_visited_at=T0 + timedelta(days=d) if d is not None else None)
        for k, d in enumerate([None, 1, 10, 20, 29])
    ]
    for now in (T0 + timedelta(days=d) for d in (15, 31, 40, 49.9, 50.1, 60)):
        query = services.household_query(scope_for(scope_user), overdue=True, now=now, target_days=30)
        listed = set(db_session.scalars(query.with_only_columns(Household.id)))
        expected = {h.id for h in households if services.visit_status(h, now, 30).overdue}
        assert listed == expected, now


def test_my_due_list_orders_by_due_date_within_the_window(client, db_session, make_user, auth_headers, grids):
    member = make_user("member", grids[0])
    now = datetime.now(UTC)
    late = add_household(grids[0], k=0, created_at=now - timedelta(days=90), last_visited_at=now - timedelta(days=40))
    soon = add_household(grids[0], k=1, created_at=now - timedelta(days=90), last_visited_at=now - timedelta(days=26))
    fresh = add_household(grids[0], k=2, created_at=now - timedelta(days=90), last_visited_at=now - timedelta(days=2))
    never = add_household(grids[0], k=3, created_at=now - timedelta(days=50))
    add_household(grids[0], k=4, created_at=now - timedelta(days=300))  # not linked to this member
    link(member, late, soon, fresh, never)
    due = client.get("/api/v1/me/visits/due", headers=auth_headers(member)).get_json()
    assert [i["id"] for i in due["items"]] == [never.id, late.id, soon.id]
    assert [i["visit"]["status"] for i in due["items"]] == ["overdue", "overdue", "due_soon"]
    everything = client.get("/api/v1/me/visits/due?within_days=30", headers=auth_headers(member)).get_json()
    assert [i["id"] for i in everything["items"]] == [never.id, late.id, soon.id, fresh.id]
    mine = client.get("/api/v1/me/households", headers=auth_headers(member)).get_json()
    assert {i["id"] for i in mine["items"]} == {late.id, soon.id, fresh.id, never.id}


# --- photo ----------------------------------------------------------------------------------------------------


def _dms(value: float):
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(round(seconds * 10000), 10000)


def test_multipart_visit_with_a_photo(client, db_session, auth_headers, linked, photo_store):
    member, household = linked
    gps = {1: "N", 2: _dms(household.raw_lat), 3: "E", 4: _dms(household.raw_lon)}
    photo = jpeg_with_everything(gps=gps)
    lon, lat = north_of(household, 40.0)
    form = {"lon": str(lon), "lat": str(lat), "datum": "wgs84", "note": "拍照留档"}
    form["photo"] = (io.BytesIO(photo), "a.jpg")
    response = client.post(
        f"/api/v1/households/{household.id}/visits",
        data=form,
        headers=auth_headers(member),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    visit = response.get_json()
    assert visit["far_from_household"] is False and visit["note"] == "拍照留档"
    assert visit["photo"]["mime"] == "image/jpeg"
    stored = photo_store.get(visit["photo"]["sha256"])
    assert b"PLANTED" not in stored and photo_store.exists(visit["photo"]["thumb_sha256"])
    row = db_session.get(Visit, visit["id"])
    assert row.photo_exif_distance_m == pytest.approx(0.0, abs=1.0)  # the photo was taken at the household
    assert "photo_exif_distance_m" not in visit  # private corroboration, never in the answer


def test_a_file_that_is_no_photo_is_refused_and_nothing_is_logged(
    client, db_session, auth_headers, linked, photo_store
):
    member, household = linked
    form = {
        "lon": str(household.raw_lon),
        "lat": str(household.raw_lat),
        "photo": (io.BytesIO(b"%PDF-1.4 not"), "a.jpg"),
    }
    response = client.post(
        f"/api/v1/households/{household.id}/visits",
        data=form,
        headers=auth_headers(member),
        content_type="multipart/form-data",
    )
    assert_problem(response, 415, "unsupported-image-type")
    assert db_session.scalar(select(func.count()).where(Visit.household_id == household.id)) == 0
