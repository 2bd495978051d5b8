"""households.linked (migration 0012) always says whether the household has a primary member link.

The triggers on household_links keep it, on both databases, whoever writes the links: the link and unlink API, the
ORM, one UPDATE or DELETE over many links, a household deleted with its links. After every step the flag is compared
with the truth, read from household_links itself. Coverage counts "households linked" from the flag.
"""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, exists, insert, inspect, select, update

from server.accounts.models import User
from server.extensions import db
from server.households.models import Household, HouseholdLink
from tests.households.helpers import add_household, link
from tests.workflow.live_db import GRID, fresh_database_url, live_app

pytestmark = pytest.mark.db

LINKS = "/api/v1/links"


def flags() -> dict[int, bool]:
    db.session.expire_all()
    return {hid: bool(flag) for hid, flag in db.session.execute(select(Household.id, Household.linked))}


def truth() -> dict[int, bool]:
    has_primary = exists().where(HouseholdLink.household_id == Household.id, HouseholdLink.is_primary.is_(True))
    return {hid: bool(flag) for hid, flag in db.session.execute(select(Household.id, has_primary))}


def assert_flags(expected: dict[int, bool]) -> None:
    current = flags()
    assert current == truth()
    assert {hid: current[hid] for hid in expected} == expected


def test_the_flag_follows_the_link_api(client, db_session, make_user, auth_headers, grids):
    grid = grids[0]
    chief, member = make_user("grid_chief", grid[:12], grids=[grid]), make_user("member", grid)
    a, b, c = (add_household(grid, k=k) for k in range(3))
    headers = auth_headers(chief)
    assert_flags({a.id: False, b.id: False, c.id: False})
    response = client.post(LINKS, json={"member_id": member.id, "household_ids": [a.id, b.id]}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert_flags({a.id: True, b.id: True, c.id: False})
    response = client.post(f"{LINKS}/unlink", json={"member_id": member.id, "household_ids": [a.id]}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert_flags({a.id: False, b.id: True, c.id: False})


def test_a_secondary_link_does_not_make_a_household_linked(db_session, make_user, grids):
    first, second = make_user("member", grids[0]), make_user("member", grids[0])
    a = add_household(grids[0], k=0)
    link(second, a, primary=False)
    assert_flags({a.id: False})
    link(first, a)
    assert_flags({a.id: True})
    db.session.execute(delete(HouseholdLink).where(HouseholdLink.member_id == second.id))  # the secondary goes
    assert_flags({a.id: True})


def test_one_statement_over_many_links(db_session, make_user, grids):
    member, other, third = (make_user("member", grids[0]) for _ in range(3))
    homes = [add_household(grids[0], k=k) for k in range(4)]
    link(member, *homes[:2])
    link(third, homes[2])
    link(other, homes[3], primary=False)
    assert_flags({homes[0].id: True, homes[1].id: True, homes[2].id: True, homes[3].id: False})
    # demote two primaries and promote the secondary, in one UPDATE
    db.session.execute(
        update(HouseholdLink)
        .where(HouseholdLink.household_id.in_([homes[0].id, homes[1].id, homes[3].id]))
        .values(is_primary=HouseholdLink.household_id == homes[3].id)
    )
    assert_flags({homes[0].id: False, homes[1].id: False, homes[2].id: True, homes[3].id: True})
    # move a primary link to another household: both households change
    db.session.execute(
        update(HouseholdLink).where(HouseholdLink.household_id == homes[2].id).values(household_id=homes[0].id)
    )
    assert_flags({homes[0].id: True, homes[2].id: False})
    db.session.execute(delete(HouseholdLink).where(HouseholdLink.member_id.in_([member.id, other.id, third.id])))
    assert_flags({h.id: False for h in homes})


def test_deleting_a_household_deletes_its_links_without_error(db_session, make_user, grids):
    member = make_user("member", grids[0])
    a, b = add_household(grids[0], k=0), add_household(grids[0], k=1)
    link(member, a, b)
    db.session.execute(delete(Household).where(Household.id == a.id))  # ON DELETE CASCADE takes its link
    assert a.id not in flags()
    assert_flags({b.id: True})


def test_migration_0012_sets_the_flag_of_existing_households(database_url, tmp_path):
    app = live_app(fresh_database_url(database_url, tmp_path, "linked"), tmp_path)
    with app.app_context():
        member = _member()
        homes = [add_household(GRID, k=k) for k in range(3)]
        link(member, homes[0])
        link(member, homes[1], primary=False)
        ids = [h.id for h in homes]
        db.session.commit()
        db.session.remove()
        downgrade(revision="0011")
        assert "linked" not in {c["name"] for c in inspect(db.engine).get_columns("households")}
        upgrade(revision="0012")
        assert flags() == {ids[0]: True, ids[1]: False, ids[2]: False} == truth()
        db.session.rollback()


def _member():
    user = User(phone="13800000123", name="迁移测试党员", home_area_code=GRID, active=True, token_version=1)
    user.set_roles(["member"])
    db.session.add(user)
    db.session.flush()
    return user


# --- any history of link changes, one statement at a time ---------------------------------------------------------

MEMBERS, HOMES = 3, 4
operation = st.tuples(
    st.sampled_from(["link", "link_secondary", "unlink", "promote", "demote", "move", "unlink_member"]),
    st.integers(0, MEMBERS - 1),
    st.integers(0, HOMES - 1),
    st.integers(0, HOMES - 1),
)


@pytest.fixture
def cast(db_session, make_user, grids) -> tuple[list[int], list[int]]:
    """Members and households made once for the test; every example then runs in a savepoint rolled back after it."""
    members = [make_user("member", grids[0]).id for _ in range(MEMBERS)]
    return members, [add_household(grids[0], k=k).id for k in range(HOMES)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(operation, max_size=14))
def test_any_history_of_link_changes_keeps_the_flag_true(cast, history):
    """Random inserts, deletes and updates of links (one row or many per statement), each checked against the truth;
    a change the constraints would refuse (a second primary, a duplicate link) is skipped, as the API would refuse."""
    members, homes = cast
    example = db.session.begin_nested()
    try:
        for op, m, h, other in history:
            _apply(op, members[m], homes[h], homes[other])
            assert flags_of(homes) == truth_of(homes)
    finally:
        example.rollback()


def _apply(op: str, member: int, home: int, other: int) -> None:
    links = {(hid, mid): primary for hid, mid, primary in db.session.execute(select(*LINK_KEY))}
    primary_taken = {hid for (hid, _), primary in links.items() if primary}
    mine = HouseholdLink.member_id == member
    if op in ("link", "link_secondary") and (home, member) not in links:
        if op == "link" and home in primary_taken:
            return
        db.session.execute(insert(HouseholdLink).values(household_id=home, member_id=member, is_primary=op == "link"))
    elif op == "unlink":
        db.session.execute(delete(HouseholdLink).where(mine, HouseholdLink.household_id == home))
    elif op == "promote" and (home, member) in links and home not in primary_taken:
        db.session.execute(
            update(HouseholdLink).where(mine, HouseholdLink.household_id == home).values(is_primary=True)
        )
    elif op == "demote":  # every primary link of the member at once
        db.session.execute(
            update(HouseholdLink).where(mine, HouseholdLink.is_primary.is_(True)).values(is_primary=False)
        )
    elif op == "move" and (home, member) in links and (other, member) not in links:
        if links[(home, member)] and other in primary_taken:
            return
        db.session.execute(
            update(HouseholdLink).where(mine, HouseholdLink.household_id == home).values(household_id=other)
        )
    elif op == "unlink_member":  # every link of the member at once
        db.session.execute(delete(HouseholdLink).where(mine))


LINK_KEY = (HouseholdLink.household_id, HouseholdLink.member_id, HouseholdLink.is_primary)


def flags_of(homes: list[int]) -> dict[int, bool]:
    query = select(Household.id, Household.linked).where(Household.id.in_(homes))
    return {hid: bool(flag) for hid, flag in db.session.execute(query)}


def truth_of(homes: list[int]) -> dict[int, bool]:
    has_primary = exists().where(HouseholdLink.household_id == Household.id, HouseholdLink.is_primary.is_(True))
    return {
        hid: bool(flag)
        for hid, flag in db.session.execute(select(Household.id, has_primary).where(Household.id.in_(homes)))
    }
