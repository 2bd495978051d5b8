"""Member links (党员联户): the limit, one primary member, all-or-nothing bulk link/unlink, and rebalance."""

from __future__ import annotations

import dataclasses
import math

import pytest
import shapely
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from server.areas.index_cache import current_index
from server.households.models import HouseholdLink
from tests.areas.helpers import assert_problem
from tests.households.helpers import add_household, grid_geom, link

LINKS = "/api/v1/links"


@pytest.fixture
def limit(app, monkeypatch):
    """GRID_LINK_LIMIT=3 for the test (the default 15 would only make the tests slower)."""
    monkeypatch.setitem(app.config, "GRID", dataclasses.replace(app.config["GRID"], link_limit=3))
    return 3


def links_of(db_session, member_id) -> set[int]:
    db_session.expire_all()
    return set(db_session.scalars(select(HouseholdLink.household_id).where(HouseholdLink.member_id == member_id)))


def test_link_up_to_the_limit_then_refuse(client, db_session, make_user, auth_headers, grids, limit):
    grid = grids[0]
    chief, member = make_user("grid_chief", grid[:12], grids=[grid]), make_user("member", grid)
    households = [add_household(grid, k=k) for k in range(limit + 2)]
    headers = auth_headers(chief)
    ids = [h.id for h in households]
    response = client.post(LINKS, json={"member_id": member.id, "household_ids": ids[:limit]}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {
        "member_id": member.id,
        "linked": ids[:limit],
        "unchanged": [],
        "links": limit,
        "limit": limit,
    }
    again = client.post(LINKS, json={"member_id": member.id, "household_ids": ids[: limit + 1]}, headers=headers)
    problem = assert_problem(again, 422, "link-rejected")
    assert problem["errors"] == [
        {"index": limit, "household_id": ids[limit], "reason": "link-limit", "detail": problem["errors"][0]["detail"]}
    ]
    assert links_of(db_session, member.id) == set(ids[:limit])
    # relinking what is already linked is not an error and changes nothing
    same = client.post(LINKS, json={"member_id": member.id, "household_ids": ids[:2]}, headers=headers).get_json()
    assert same["linked"] == [] and same["unchanged"] == ids[:2]


def test_bulk_link_is_all_or_nothing_with_a_report_per_item(client, db_session, make_user, auth_headers, grids, limit):
    grid, sibling, other = grids
    admin, member = make_user("admin"), make_user("member", grid)
    good = add_household(grid)
    outside_member_area = add_household(sibling)
    rival = make_user("member", grid)
    taken = add_household(grid, k=1)
    link(rival, taken)
    ids = [good.id, 999_999, outside_member_area.id, taken.id]
    response = client.post(LINKS, json={"member_id": member.id, "household_ids": ids}, headers=auth_headers(admin))
    problem = assert_problem(response, 422, "link-rejected")
    assert [(e["index"], e["household_id"], e["reason"]) for e in problem["errors"]] == [
        (1, 999_999, "not-found"),
        (2, outside_member_area.id, "outside-member-area"),
        (3, taken.id, "has-primary-member"),
    ]
    assert links_of(db_session, member.id) == set()  # `good` was not linked either


def test_one_primary_member_per_household(client, db_session, make_user, auth_headers, grids, limit):
    grid = grids[0]
    chief = make_user("grid_chief", grid[:12], grids=[grid])
    first, second = make_user("member", grid), make_user("member", grid)
    household = add_household(grid)
    headers = auth_headers(chief)
    linked = client.post(LINKS, json={"member_id": first.id, "household_ids": [household.id]}, headers=headers)
    assert linked.status_code == 200
    refused = client.post(LINKS, json={"member_id": second.id, "household_ids": [household.id]}, headers=headers)
    assert assert_problem(refused, 422, "link-rejected")["errors"][0]["reason"] == "has-primary-member"
    secondary = {"member_id": second.id, "household_ids": [household.id], "primary": False}
    assert client.post(LINKS, json=secondary, headers=headers).status_code == 200
    detail = client.get(f"/api/v1/households/{household.id}", headers=headers).get_json()
    assert detail["primary_member"]["id"] == first.id
    assert [(m["id"], m["primary"]) for m in detail["members"]] == [(first.id, True), (second.id, False)]


def test_the_database_refuses_a_second_primary_member(db_session, make_user, grids):
    household = add_household(grids[0])
    first, second = make_user("member", grids[0]), make_user("member", grids[0])
    link(first, household)
    db_session.add(HouseholdLink(household_id=household.id, member_id=second.id, is_primary=True))
    with pytest.raises(IntegrityError):
        db_session.flush()
    db_session.rollback()


def test_member_outside_the_callers_area_is_404_and_non_members_are_422(client, make_user, auth_headers, grids):
    grid, sibling, _ = grids
    chief = make_user("grid_chief", grid[:12], grids=[grid])
    household = add_household(grid)
    elsewhere = make_user("member", sibling)
    body = {"member_id": elsewhere.id, "household_ids": [household.id]}
    assert_problem(client.post(LINKS, json=body, headers=auth_headers(chief)), 404, "not-found")
    staff = make_user("township_staff", grid)
    body = {"member_id": staff.id, "household_ids": [household.id]}
    assert_problem(client.post(LINKS, json=body, headers=auth_headers(make_user("admin"))), 422, "not-a-member")
    member = make_user("member", grid)
    body = {"member_id": member.id, "household_ids": [household.id]}
    assert_problem(client.post(LINKS, json=body, headers=auth_headers(member)), 403, "forbidden")


def test_unlink_is_all_or_nothing(client, db_session, make_user, auth_headers, grids):
    grid = grids[0]
    chief, member = make_user("grid_chief", grid[:12], grids=[grid]), make_user("member", grid)
    a, b, c = (add_household(grid, k=k) for k in range(3))
    link(member, a, b)
    headers = auth_headers(chief)
    bad = client.post(f"{LINKS}/unlink", json={"member_id": member.id, "household_ids": [a.id, c.id]}, headers=headers)
    assert [(e["index"], e["reason"]) for e in assert_problem(bad, 422, "unlink-rejected")["errors"]] == [
        (1, "not-linked")
    ]
    assert links_of(db_session, member.id) == {a.id, b.id}
    ok = client.post(f"{LINKS}/unlink", json={"member_id": member.id, "household_ids": [a.id]}, headers=headers)
    assert ok.status_code == 200 and ok.get_json()["links"] == 1
    assert links_of(db_session, member.id) == {b.id}


# --- rebalance ------------------------------------------------------------------------------------------------


def _metres(a, b) -> float:
    lat = math.radians((a[1] + b[1]) / 2)
    return math.hypot((a[0] - b[0]) * math.cos(lat) * 111_320.0, (a[1] - b[1]) * 111_320.0)


def _expected_greedy(households, members, limit, linked_counts):
    """An independent, plain re-statement of the rule: nearest eligible (household, member) pairs first."""
    pairs = []
    for h in households:
        for m, position in members.items():
            if h.grid_code.startswith(m.home_area_code):
                pairs.append((round(_metres((h.raw_lon, h.raw_lat), position), 6), h.id, m.id))
    room = {m.id: limit - linked_counts.get(m.id, 0) for m in members}
    taken, out = set(), {}
    for _, hid, mid in sorted(pairs):
        if hid not in taken and room[mid] > 0:
            taken.add(hid)
            room[mid] -= 1
            out[hid] = mid
    return out


def test_rebalance_proposes_nearest_members_within_limits_and_scope(client, db_session, make_user, auth_headers, grids):
    grid, sibling, other = grids
    township = make_user("township_staff", grid[:9])
    m_grid, m_sibling = make_user("member", grid), make_user("member", sibling)
    m_village = make_user("member", grid[:12])
    m_elsewhere = make_user("member", other)  # another township: never proposed
    limit = 15
    already = [add_household(grid, k=k) for k in range(limit - 1)]
    link(m_grid, *already)  # one place left
    unlinked = [add_household(grid, k=k) for k in range(limit, limit + 3)]
    unlinked += [add_household(sibling, k=k) for k in range(2)]
    headers = auth_headers(township)
    response = client.post("/api/v1/links/rebalance", query_string={"area": grid[:12]}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    result = response.get_json()
    assert result["dry_run"] is True and result["applied"] is False
    proposed = {p["household_id"]: p["member_id"] for p in result["proposals"]}
    assert set(proposed) == {h.id for h in unlinked} and result["unassigned"] == []
    assert m_elsewhere.id not in {m["id"] for m in result["members"]}
    positions = {m["id"]: (m["position"]["lon"], m["position"]["lat"]) for m in result["members"]}
    centre = shapely.centroid(grid_geom(sibling))
    assert positions[m_sibling.id] == pytest.approx((centre.x, centre.y))  # no links yet: its home grid's centroid
    mean = (sum(h.raw_lon for h in already) / len(already), sum(h.raw_lat for h in already) / len(already))
    assert positions[m_grid.id] == pytest.approx(mean)  # the centroid of its linked households
    members = {m: positions[m.id] for m in (m_grid, m_sibling, m_village)}
    assert proposed == _expected_greedy(unlinked, members, limit, {m_grid.id: limit - 1})
    assert sum(1 for m in proposed.values() if m == m_grid.id) <= 1
    assert all(
        next(h for h in unlinked if h.id == hid).grid_code.startswith(
            {m_grid.id: grid, m_sibling.id: sibling, m_village.id: grid[:12]}[mid]
        )
        for hid, mid in proposed.items()
    )
    assert db_session.scalar(select(func.count()).select_from(HouseholdLink)) == limit - 1  # dry run wrote nothing

    applied = client.post(
        "/api/v1/links/rebalance", query_string={"area": grid[:12], "dry_run": "false"}, headers=headers
    ).get_json()
    assert applied["applied"] is True and {p["household_id"] for p in applied["proposals"]} == set(proposed)
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(HouseholdLink)) == limit - 1 + len(unlinked)
    again = client.post(
        "/api/v1/links/rebalance", query_string={"area": grid[:12], "dry_run": "false"}, headers=headers
    ).get_json()
    assert again["proposals"] == [] and again["unassigned"] == []


def test_rebalance_leaves_households_without_room_unassigned(client, make_user, auth_headers, grids, limit):
    grid = grids[0]
    chief = make_user("grid_chief", grid[:12], grids=[grid])
    member = make_user("member", grid)
    households = [add_household(grid, k=k) for k in range(limit + 2)]
    response = client.post("/api/v1/links/rebalance", query_string={"area": grid}, headers=auth_headers(chief))
    result = response.get_json()
    assert [p["member_id"] for p in result["proposals"]] == [member.id] * limit
    assert len(result["unassigned"]) == 2 and {u["reason"] for u in result["unassigned"]} == {"no-member-with-room"}
    assert {p["household_id"] for p in result["proposals"]} | {u["household_id"] for u in result["unassigned"]} == {
        h.id for h in households
    }


def test_rebalance_outside_your_area_is_404(client, make_user, auth_headers, grids):
    grid, sibling, _ = grids
    chief = make_user("grid_chief", grid[:12], grids=[grid])
    response = client.post("/api/v1/links/rebalance", query_string={"area": sibling}, headers=auth_headers(chief))
    assert_problem(response, 404, "not-found")
    assert current_index() is not None
