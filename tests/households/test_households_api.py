"""POST/GET households: routing from the location (datums, edges, snapping, misses), tags, phones, lists and filters."""

from __future__ import annotations

from sqlalchemy import select

from server.geo import datum
from server.households.models import Household
from tests.areas.helpers import assert_problem, grid_shapes
from tests.households.helpers import T0, add_household, inside, link, location, shared_edge_midpoint

URL = "/api/v1/households"


def body(lon, lat, datum_name="wgs84", **extra) -> dict:
    return {
        "address": "白云社区新村路8号",
        "location": location(lon, lat, datum_name),
        "head_name": "李四",
        "head_phone": "138 0000 2222",
        "size": 4,
        "tags": ["困难户", "留守老人", "困难户"],
    } | extra


def test_create_routes_to_the_grid_and_keeps_raw_and_canonical(client, make_user, auth_headers, grids):
    grid, _, _ = grids
    chief = make_user("grid_chief", grid[:12], grids=[grid])
    lon, lat = inside(grid)
    response = client.post(URL, json=body(lon, lat), headers=auth_headers(chief))
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    assert created["grid"]["code"] == grid and created["grid"]["name"]
    assert created["location"] == {"lon": lon, "lat": lat, "datum": "wgs84"}
    assert created["tags"] == ["留守老人", "困难户"]  # configured order, duplicates collapsed
    assert created["head_phone"] == "13800002222" and created["personal_data_masked"] is False  # the chief sees it
    assert created["linked"] is False and created["visit"]["never_visited"] is True


def test_gcj02_location_is_converted_and_the_raw_values_kept(client, make_user, auth_headers, db_session, grids):
    grid, _, _ = grids
    chief = make_user("grid_chief", grid[:12], grids=[grid])
    lon, lat = inside(grid)
    gcj = datum.wgs84_to_gcj02(lon, lat)
    response = client.post(URL, json=body(*gcj, "gcj02"), headers=auth_headers(chief))
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    assert abs(created["location"]["lon"] - lon) < 1e-9 and abs(created["location"]["lat"] - lat) < 1e-9
    assert created["source"] == {"lon": gcj[0], "lat": gcj[1], "datum": "gcj02", "accuracy_m": 5.0}
    assert created["grid"]["code"] == grid
    row = db_session.get(Household, created["id"])
    assert (row.raw_lon, row.raw_lat, row.source_datum) == (gcj[0], gcj[1], "gcj02")


def test_a_household_on_a_shared_edge_goes_to_the_smallest_code(client, make_user, auth_headers, db_session):
    shapes = grid_shapes()
    edge_point, owners = shared_edge_midpoint(shapes)
    admin = make_user("admin")
    response = client.post(URL, json=body(*edge_point), headers=auth_headers(admin))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["grid"]["code"] == owners[0]
    assert response.get_json()["snap_distance_m"] is None


def test_outside_every_grid_is_the_locate_problem(client, make_user, auth_headers):
    admin = make_user("admin")
    response = client.post(URL, json=body(118.0, 28.0), headers=auth_headers(admin))
    problem = assert_problem(response, 404, "outside-all-grids")
    assert problem["nearest_grid"]["code"] and problem["distance_m"] > 150


def test_unknown_tag_bad_phone_and_bad_coordinates_are_422(client, make_user, auth_headers, grids, db_session):
    admin = make_user("admin")
    lon, lat = inside(grids[0])
    before = db_session.scalar(select(Household.id).order_by(Household.id.desc()).limit(1))
    bad_tag = body(lon, lat, tags=["黑户"])
    assert_problem(client.post(URL, json=bad_tag, headers=auth_headers(admin)), 422, "unknown-tag")
    bad_phone = body(lon, lat, head_phone="12345")
    assert_problem(client.post(URL, json=bad_phone, headers=auth_headers(admin)), 422, "bad-phone")
    assert_problem(client.post(URL, json=body(lat, lon), headers=auth_headers(admin)), 422, "coordinates-swapped")
    assert_problem(client.post(URL, json=body(lon, lat, "mars"), headers=auth_headers(admin)), 422, "unknown-datum")
    missing = {k: v for k, v in body(lon, lat).items() if k != "head_name"}
    assert_problem(client.post(URL, json=missing, headers=auth_headers(admin)), 422, "validation-failed")
    assert db_session.scalar(select(Household.id).order_by(Household.id.desc()).limit(1)) == before


def test_a_chief_cannot_register_a_household_in_another_grid(client, make_user, auth_headers, grids):
    grid, sibling, _ = grids
    chief = make_user("grid_chief", grid[:12], grids=[grid])
    response = client.post(URL, json=body(*inside(sibling)), headers=auth_headers(chief))
    assert_problem(response, 422, "outside-your-area")
    member = make_user("member", grid)
    assert_problem(client.post(URL, json=body(*inside(grid)), headers=auth_headers(member)), 403, "forbidden")


def test_duplicate_ref_is_409(client, make_user, auth_headers, grids):
    admin = make_user("admin")
    lon, lat = inside(grids[0])
    assert client.post(URL, json=body(lon, lat, ref="HH-1"), headers=auth_headers(admin)).status_code == 201
    assert_problem(client.post(URL, json=body(lon, lat, ref="HH-1"), headers=auth_headers(admin)), 409, "duplicate-ref")


def test_list_is_scoped_and_filters_by_area_tag_linked_and_overdue(client, make_user, auth_headers, grids):
    grid, sibling, other = grids
    township = make_user("township_staff", grid[:9])
    member = make_user("member", grid)
    a = add_household(grid, tags=["困难户"], created_at=T0)
    b = add_household(grid, k=1, created_at=T0, last_visited_at=_recent())
    c = add_household(sibling, tags=["困难户"], last_visited_at=_recent())
    add_household(other)  # another township: never listed
    link(member, a)
    headers = auth_headers(township)

    def ids(**query):
        response = client.get(URL, query_string=query | {"limit": 500}, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [item["id"] for item in response.get_json()["items"]]

    assert ids() == [a.id, b.id, c.id]
    assert ids(area=grid) == [a.id, b.id]
    assert ids(tag="困难户") == [a.id, c.id]
    assert ids(linked="true") == [a.id] and ids(linked="false") == [b.id, c.id]
    assert ids(overdue="true") == [a.id] and ids(overdue="false") == [b.id, c.id]
    page = client.get(URL, query_string={"limit": 1, "offset": 1}, headers=headers).get_json()
    assert page["total"] == 3 and [i["id"] for i in page["items"]] == [b.id]


def _recent():
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) - timedelta(days=2)


def test_grid_households_lists_status_and_counts_for_the_chief(client, make_user, auth_headers, grids):
    grid, sibling, _ = grids
    chief = make_user("grid_chief", grid[:12], grids=[grid])
    member = make_user("member", grid, name="党员甲")
    a = add_household(grid)
    b = add_household(grid, k=1, last_visited_at=_recent())
    add_household(sibling)
    link(member, a)
    response = client.get(f"/api/v1/grids/{grid}/households", headers=auth_headers(chief))
    assert response.status_code == 200, response.get_data(as_text=True)
    listed = response.get_json()
    assert [i["id"] for i in listed["items"]] == [a.id, b.id]
    assert listed["summary"] == {"households": 2, "linked": 1, "visited_within_target": 1, "overdue": 1}
    first = listed["items"][0]
    assert first["primary_member"] == {"id": member.id, "name": "党员甲"} and first["linked"] is True
    assert first["visit"]["status"] == "overdue" and first["visit"]["status_zh"] == "已逾期"
    assert listed["items"][1]["visit"]["status"] == "ok" and listed["items"][1]["visit"]["status_zh"] == "按期走访"
    assert_problem(client.get(f"/api/v1/grids/{sibling}/households", headers=auth_headers(chief)), 404, "not-found")
