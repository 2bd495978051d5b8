"""Scope: the one mechanism deciding who sees which area, as a value object and on /api/v1/users."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.accounts.models import User
from server.scope import Scope, scope_for
from tests.accounts.helpers import assert_problem

OTHER_COUNTY_GRID = "330802001001001"  # 柯城区: never in the demo county's scope


# --- the value object ---------------------------------------------------------------------------------------


def test_of_keeps_the_smallest_covering_prefixes():
    assert Scope.of(["330899001001001", "330899001", "330899002001", "", "330899001001"]).prefixes == (
        "330899001",
        "330899002001",
    )


@pytest.mark.parametrize(
    ("scope", "code", "allowed"),
    [
        (Scope.of(["330899001"]), "330899001", True),
        (Scope.of(["330899001"]), "330899001001001", True),
        (Scope.of(["330899001"]), "330899002001001", False),
        (Scope.of(["330899001"]), "33089900", False),  # an ancestor is not under its descendant
        (Scope.of(["330899001"]), "", False),
        (Scope.of(["330899001"]), None, False),
        (Scope(), "330899", False),
        (Scope.all(), "999999", True),
    ],
)
def test_allows(scope, code, allowed):
    assert scope.allows(code) is allowed


def test_filter_agrees_with_allows_in_sql(db_session, make_user):
    codes = ["330899001001001", "330899001002001", "330899002001001", "330802001001001", "330899_01001001"]
    users = [make_user(area_code=c) for c in codes]
    ids = [u.id for u in users]
    scopes = [Scope.of(["330899001"]), Scope.of(["330899001001", "330802"]), Scope(), Scope.all()]
    scopes += [Scope.of(["330899001002001"]), Scope.of(["330899001001001", "330899002"])]  # grids: compared with =
    for scope in scopes:
        query = select(User.home_area_code).where(User.id.in_(ids), scope.filter(User.home_area_code))
        assert sorted(db_session.scalars(query)) == sorted(c for c in codes if scope.allows(c)), scope


def test_a_grid_in_scope_is_compared_with_equality_and_anything_above_with_a_prefix():
    """A grid's code (15 digits, the deepest level) is no other code's prefix: `=` is the same rows as LIKE, and
    PostgreSQL estimates it from its statistics of values, not of prefixes."""
    grid, village = Scope.of(["330899001001001"]), Scope.of(["330899001001"])
    assert " = " in str(grid.filter(User.home_area_code)) and "LIKE" not in str(grid.filter(User.home_area_code))
    assert "LIKE" in str(village.filter(User.home_area_code))


def test_filter_escapes_like_wildcards(db_session, make_user):
    make_user(area_code="330899X01")
    query = select(User.id).where(Scope.of(["330899_01"]).filter(User.home_area_code))
    assert db_session.scalars(query).all() == []


@pytest.mark.parametrize(
    ("roles", "home", "expected"),
    [
        (["admin"], "330899", "everything"),
        (["county_staff"], "330899", ["330899"]),
        (["township_staff"], "330899001", ["330899001"]),
        (["custodian"], "330899", ["330899"]),
        (["member"], "330899001001001", ["330899001001001"]),
    ],
)
def test_scope_for_roles(make_user, roles, home, expected):
    scope = scope_for(make_user(roles=roles, area_code=home))
    assert (scope.everything if expected == "everything" else list(scope.prefixes) == expected) is True


def test_grid_chief_scope_is_current_grids_plus_a_grid_home(make_user, demo_areas, db_session):
    from datetime import date, timedelta

    from server.accounts.assignments import assign_grid

    chief = make_user("grid_chief", demo_areas["village"], grids=[demo_areas["grid"]])
    assert scope_for(chief).prefixes == (demo_areas["grid"],)  # not the village home
    assign_grid(chief, demo_areas["sibling_grid"], "deputy", date.today() + timedelta(days=3))
    assert scope_for(chief).prefixes == (demo_areas["grid"],)  # a future deputyship is not yet scope
    assert demo_areas["sibling_grid"] in scope_for(chief, on=date.today() + timedelta(days=3)).prefixes
    homed_in_grid = make_user("grid_chief", demo_areas["other_grid"])
    assert scope_for(homed_in_grid).prefixes == (demo_areas["other_grid"],)


def test_several_roles_give_the_union(make_user, demo_areas):
    user = make_user(roles=["member", "grid_chief"], area_code=demo_areas["other_grid"], grids=[demo_areas["grid"]])
    assert set(scope_for(user).prefixes) == {demo_areas["grid"], demo_areas["other_grid"]}


# --- the scope matrix on /api/v1/users/{id} -----------------------------------------------------------------

# role -> (caller home, grids they chief, target home in scope, target home out of scope), by demo_areas keys
SETUPS = {
    "admin": ("county", (), "grid", OTHER_COUNTY_GRID),
    "county_staff": ("county", (), "grid", OTHER_COUNTY_GRID),
    "township_staff": ("township", (), "grid", "other_grid"),
    "custodian": ("county", (), "village", OTHER_COUNTY_GRID),
    "grid_chief": ("village", ("grid",), "grid", "sibling_grid"),
    "member": ("grid", (), "grid", "sibling_grid"),
}
# role -> {(case, method): status}
EXPECTED = {
    "admin": {"in": (200, 200), "out": (200, 200), "missing": (404, 404)},
    "county_staff": {"in": (200, 200), "out": (404, 404), "missing": (404, 404)},
    "township_staff": {"in": (200, 403), "out": (404, 403), "missing": (404, 403)},
    "custodian": {"in": (200, 403), "out": (404, 403), "missing": (404, 403)},
    "grid_chief": {"in": (200, 403), "out": (404, 403), "missing": (404, 403)},
    "member": {"in": (200, 403), "out": (404, 403), "missing": (404, 403)},
}
MATRIX = [(role, case, method) for role in SETUPS for case in ("in", "out", "missing") for method in ("GET", "PATCH")]


def _area(demo_areas, key):
    return demo_areas.get(key, key)


@pytest.fixture
def caller_for(make_user, demo_areas):
    def make(role):
        home, grids, *_ = SETUPS[role]
        return make_user(role, _area(demo_areas, home), grids=[_area(demo_areas, g) for g in grids])

    return make


def _request(client, method, user_id, headers):
    if method == "GET":
        return client.get(f"/api/v1/users/{user_id}", headers=headers)
    return client.patch(f"/api/v1/users/{user_id}", json={"active": False}, headers=headers)


@pytest.mark.parametrize(("role", "case", "method"), MATRIX)
def test_scope_matrix(client, db_session, make_user, auth_headers, caller_for, demo_areas, role, case, method):
    caller = caller_for(role)
    _, _, inside, outside = SETUPS[role]
    if case == "missing":
        target_id = db_session.scalar(select(User.id).order_by(User.id.desc()).limit(1)) + 1000
    else:
        target_id = make_user("member", _area(demo_areas, inside if case == "in" else outside)).id
    response = _request(client, method, target_id, auth_headers(caller))
    expected = EXPECTED[role][case][0 if method == "GET" else 1]
    assert response.status_code == expected, response.get_data(as_text=True)
    if expected == 404:
        assert_problem(response, 404, "not-found")
    if expected == 200:
        assert response.get_json()["id"] == target_id


@pytest.mark.parametrize("method", ["GET", "PATCH"])
@pytest.mark.parametrize("role", [r for r in SETUPS if r != "admin"])
def test_out_of_scope_and_missing_give_identical_bytes(
    client, db_session, make_user, auth_headers, caller_for, demo_areas, role, method
):
    caller = caller_for(role)
    headers = auth_headers(caller)
    _, _, inside, outside = SETUPS[role]
    target = make_user("member", _area(demo_areas, outside))
    target_id = target.id
    assert _request(client, "GET", make_user("member", _area(demo_areas, inside)).id, headers).status_code == 200

    out_of_scope = _request(client, method, target_id, headers)
    db_session.delete(db_session.get(User, target_id))
    db_session.commit()
    assert db_session.get(User, target_id) is None
    missing = _request(client, method, target_id, headers)

    assert out_of_scope.status_code == missing.status_code
    assert out_of_scope.status_code in (404, 403)
    assert out_of_scope.get_data() == missing.get_data()
    assert out_of_scope.headers["Content-Type"] == missing.headers["Content-Type"]


def test_not_found_body_is_the_one_for_every_missing_thing(client, make_user, auth_headers):
    body = assert_problem(client.get("/api/v1/users/987654", headers=auth_headers(make_user("county_staff"))), 404)
    assert body == {
        "type": "/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "No such user, or it is outside your area.",
        "instance": "/api/v1/users/987654",
    }


# --- the scoped list ----------------------------------------------------------------------------------------


def test_list_is_scoped_filtered_and_masks_phones(client, make_user, auth_headers, demo_areas):
    township_staff = make_user("township_staff", demo_areas["township"])
    mine = [make_user("member", demo_areas["grid"]), make_user("grid_chief", demo_areas["village"])]
    make_user("member", demo_areas["other_grid"])
    make_user("member", OTHER_COUNTY_GRID)
    response = client.get("/api/v1/users?limit=500", headers=auth_headers(township_staff))
    assert response.status_code == 200
    body = response.get_json()
    ids = {item["id"] for item in body["items"]}
    assert ids >= {u.id for u in mine} | {township_staff.id}
    assert all(item["home_area"]["code"].startswith(demo_areas["township"]) for item in body["items"])
    assert body["total"] == len(body["items"])
    assert all("****" in item["phone"] for item in body["items"])
    assert township_staff.phone not in response.get_data(as_text=True)

    chiefs = client.get("/api/v1/users?role=grid_chief", headers=auth_headers(township_staff)).get_json()
    assert [item["id"] for item in chiefs["items"]] == [mine[1].id]
    assert chiefs["items"][0]["roles"] == [{"role": "grid_chief", "role_zh": "网格长"}]


def test_list_pages(client, make_user, auth_headers, demo_areas):
    staff = make_user("county_staff", demo_areas["county"])
    for _ in range(5):
        make_user("member", demo_areas["grid"])
    first = client.get("/api/v1/users?limit=2&offset=0", headers=auth_headers(staff)).get_json()
    second = client.get("/api/v1/users?limit=2&offset=2", headers=auth_headers(staff)).get_json()
    assert len(first["items"]) == 2 and first["total"] >= 6
    assert {i["id"] for i in first["items"]}.isdisjoint({i["id"] for i in second["items"]})


@pytest.mark.parametrize("role", ["member", "grid_chief"])
def test_list_needs_a_staff_role(client, make_user, auth_headers, demo_areas, role):
    user = make_user(role, demo_areas["grid"])
    assert_problem(client.get("/api/v1/users", headers=auth_headers(user)), 403, "forbidden")


def test_list_without_token(client):
    assert_problem(client.get("/api/v1/users"), 401, "token-missing")


def test_detail_phone_is_full_for_staff_and_masked_for_a_chief(client, make_user, auth_headers, demo_areas):
    member = make_user("member", demo_areas["grid"])
    staff = make_user("township_staff", demo_areas["township"])
    chief = make_user("grid_chief", demo_areas["village"], grids=[demo_areas["grid"]])
    assert client.get(f"/api/v1/users/{member.id}", headers=auth_headers(staff)).get_json()["phone"] == member.phone
    masked = client.get(f"/api/v1/users/{member.id}", headers=auth_headers(chief)).get_json()["phone"]
    assert masked == member.phone[:3] + "****" + member.phone[-4:]


def test_each_request_computes_its_own_scope(client, make_user, auth_headers, demo_areas):
    """Tests share one app context across requests (so `g` would too): nothing may carry over between requests."""
    member = make_user("member", demo_areas["sibling_grid"])
    staff = make_user("township_staff", demo_areas["township"])
    chief = make_user("grid_chief", demo_areas["village"], grids=[demo_areas["grid"]])
    assert client.get(f"/api/v1/users/{member.id}", headers=auth_headers(staff)).status_code == 200
    assert_problem(client.get(f"/api/v1/users/{member.id}", headers=auth_headers(chief)), 404)
    assert_problem(client.get(f"/api/v1/users/{member.id}"), 401, "token-missing")
