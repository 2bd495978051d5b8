"""The head of household's name and phone: absent from every answer to those who may not see them.

Each check scans the raw response bytes for the planted values, and also checks a positive control (the household
really was in the answer, masked), so that a test cannot pass merely because the household was left out.
"""

from __future__ import annotations

import pytest

from tests.households.helpers import PLANTED_NAME, PLANTED_PHONE, add_household, link

MASKED_NAME = PLANTED_NAME[0] + "*"
MASKED_PHONE = PLANTED_PHONE[:3] + "****" + PLANTED_PHONE[-4:]


def leaks(response) -> bool:
    data = response.get_data()
    return PLANTED_NAME.encode() in data or PLANTED_PHONE.encode() in data


@pytest.fixture
def planted(db_session, grids, make_user):
    grid, sibling, _ = grids
    household = add_household(grid, head_name=PLANTED_NAME, head_phone=PLANTED_PHONE)
    linked_member = make_user("member", grid)
    link(linked_member, household)
    return household, linked_member


def viewer(make_user, grids, who: str):
    grid, sibling, _ = grids
    return {
        "member_not_linked": lambda: make_user("member", grid),
        "custodian": lambda: make_user("custodian", grid[:6]),
        "chief_of_sibling_grid": lambda: make_user("grid_chief", grid[:12], grids=[sibling]),
        "deputy": lambda: make_user("grid_chief", grid[:12], grids=[grid], kind="deputy"),
        "chief": lambda: make_user("grid_chief", grid[:12], grids=[grid]),
        "township_staff": lambda: make_user("township_staff", grid[:9]),
        "county_staff": lambda: make_user("county_staff", grid[:6]),
        "admin": lambda: make_user("admin"),
        "staff_of_other_township": lambda: make_user("township_staff", grids[2][:9]),
    }[who]()


@pytest.mark.parametrize(
    ("who", "status", "full"),
    [
        ("member_not_linked", 200, False),
        ("custodian", 200, False),
        ("chief_of_sibling_grid", 404, False),
        ("staff_of_other_township", 404, False),
        ("deputy", 200, True),
        ("chief", 200, True),
        ("township_staff", 200, True),
        ("county_staff", 200, True),
        ("admin", 200, True),
    ],
)
def test_detail_shows_personal_data_only_to_those_who_may_see_it(
    client, make_user, auth_headers, grids, planted, who, status, full
):
    household, _ = planted
    response = client.get(f"/api/v1/households/{household.id}", headers=auth_headers(viewer(make_user, grids, who)))
    assert response.status_code == status, response.get_data(as_text=True)
    assert leaks(response) is full
    if status == 200:
        body = response.get_json()
        assert body["personal_data_masked"] is not full
        if not full:
            assert (body["head_name"], body["head_phone"]) == (MASKED_NAME, MASKED_PHONE)


def test_the_linked_member_sees_it_in_the_detail(client, auth_headers, planted):
    household, member = planted
    response = client.get(f"/api/v1/households/{household.id}", headers=auth_headers(member))
    assert response.status_code == 200 and leaks(response)
    assert response.get_json()["head_phone"] == PLANTED_PHONE


@pytest.mark.parametrize("who", ["chief", "township_staff", "admin", "member_not_linked", "custodian"])
def test_lists_always_mask_even_for_those_who_may_see_the_detail(client, make_user, auth_headers, grids, planted, who):
    household, _ = planted
    headers = auth_headers(viewer(make_user, grids, who))
    for url in ("/api/v1/households?limit=500", f"/api/v1/grids/{grids[0]}/households?limit=500"):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert not leaks(response), url
        item = next(i for i in response.get_json()["items"] if i["id"] == household.id)  # positive control
        assert (item["head_name"], item["head_phone"]) == (MASKED_NAME, MASKED_PHONE)


def test_my_households_and_due_lists_mask_too(client, auth_headers, planted):
    household, member = planted
    for url in ("/api/v1/me/households", "/api/v1/me/visits/due?within_days=366"):
        response = client.get(url, headers=auth_headers(member))
        assert response.status_code == 200, response.get_data(as_text=True)
        assert not leaks(response), url
        assert [i["id"] for i in response.get_json()["items"]] == [household.id]


def test_link_rebalance_and_visit_answers_carry_no_personal_data(client, make_user, auth_headers, grids, planted):
    household, member = planted
    grid = grids[0]
    chief = make_user("grid_chief", grid[:12], grids=[grid])
    other = add_household(grid, k=1, head_name=PLANTED_NAME, head_phone=PLANTED_PHONE)
    headers = auth_headers(chief)
    answers = [
        client.post("/api/v1/links/rebalance", query_string={"area": grid}, headers=headers),
        client.post("/api/v1/links", json={"member_id": member.id, "household_ids": [other.id]}, headers=headers),
        client.post(
            f"/api/v1/households/{household.id}/visits",
            json={"location": {"lon": 0.0 + household.raw_lon, "lat": household.raw_lat}},
            headers=auth_headers(member),
        ),
        client.get(f"/api/v1/households/{household.id}/visits", headers=auth_headers(make_user("member", grid))),
    ]
    for response in answers:
        assert response.status_code in (200, 201), response.get_data(as_text=True)
        assert not leaks(response), response.request.path
