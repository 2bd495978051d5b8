"""Out of scope == missing: the same 404, byte for byte, for households and for grids."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.areas.index_cache import current_generation_id
from server.areas.models import Area
from server.households.models import Household
from tests.areas.helpers import assert_problem
from tests.households.helpers import add_household, inside, link, location

CALLERS = {
    "member_of_sibling_grid": lambda mk, g: mk("member", g[1]),
    "chief_of_sibling_grid": lambda mk, g: mk("grid_chief", g[1][:12], grids=[g[1]]),
    "staff_of_other_township": lambda mk, g: mk("township_staff", g[2][:9]),
}
REQUESTS = {
    "detail": lambda client, hid, headers, point: client.get(f"/api/v1/households/{hid}", headers=headers),
    "visits": lambda client, hid, headers, point: client.get(f"/api/v1/households/{hid}/visits", headers=headers),
    "log visit": lambda client, hid, headers, point: client.post(
        f"/api/v1/households/{hid}/visits", json={"location": location(*point)}, headers=headers
    ),
}


CASES = [(c, r) for c in CALLERS for r in REQUESTS if r != "log visit" or c.startswith("member")]


@pytest.mark.parametrize(("caller", "request_kind"), CASES)
def test_out_of_scope_household_is_byte_identical_to_a_missing_one(
    client, db_session, make_user, auth_headers, grids, caller, request_kind
):
    who = CALLERS[caller](make_user, grids)
    household = add_household(grids[0])
    point = inside(grids[0])
    link(who, household)  # even a (wrongly) linked member outside the area cannot reach it
    headers = auth_headers(who)
    out_of_scope = REQUESTS[request_kind](client, household.id, headers, point)
    db_session.delete(db_session.get(Household, household.id))
    db_session.commit()
    missing = REQUESTS[request_kind](client, household.id, headers, point)
    assert_problem(out_of_scope, 404, "not-found")
    assert out_of_scope.get_data() == missing.get_data()
    assert out_of_scope.headers["Content-Type"] == missing.headers["Content-Type"]


def test_in_scope_household_is_found_as_a_control(client, make_user, auth_headers, grids):
    household = add_household(grids[0])
    for who in (make_user("member", grids[0]), make_user("township_staff", grids[0][:9])):
        assert client.get(f"/api/v1/households/{household.id}", headers=auth_headers(who)).status_code == 200


@pytest.fixture
def rebuilt_index(app):
    """For a test that changes the map under the same generation: the index is rebuilt now and again afterwards,
    so that no later test sees the changed map."""
    cache = app.extensions["grid_index"]

    def rebuild():
        cache.index = None
        cache.invalidate()

    yield rebuild
    rebuild()


@pytest.mark.parametrize("path", ["households", "patrols"])
def test_out_of_scope_grid_is_byte_identical_to_a_missing_grid(
    client, db_session, make_user, auth_headers, grids, rebuilt_index, path
):
    grid, sibling, _ = grids
    chief = make_user("grid_chief", grid[:12], grids=[grid])
    headers = auth_headers(chief)
    assert client.get(f"/api/v1/grids/{grid}/{path}", headers=headers).status_code == 200
    out_of_scope = client.get(f"/api/v1/grids/{sibling}/{path}", headers=headers)
    area = db_session.scalar(select(Area).where(Area.generation_id == current_generation_id(), Area.code == sibling))
    db_session.delete(area)
    db_session.commit()
    rebuilt_index()
    missing = client.get(f"/api/v1/grids/{sibling}/{path}", headers=headers)
    assert_problem(out_of_scope, 404, "not-found")
    assert out_of_scope.get_data() == missing.get_data()
    assert client.get(f"/api/v1/grids/{grid}/{path}", headers=headers).status_code == 200


def test_a_member_cannot_log_a_visit_to_an_unlinked_household_in_scope(client, make_user, auth_headers, grids):
    household = add_household(grids[0])
    member = make_user("member", grids[0])
    response = client.post(
        f"/api/v1/households/{household.id}/visits",
        json={"location": location(*inside(grids[0]))},
        headers=auth_headers(member),
    )
    assert_problem(response, 403, "not-linked")
