"""reassign_households(generation_id) and `flask households reassign` after a new grid map is imported."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from server.areas.importer import generation_imported, import_grid_map
from server.households.models import Household
from server.households.reassign import reassign_households
from tests.conftest import DEMO_MAP
from tests.households.helpers import add_household, link


def swapped_map(a: str, b: str) -> bytes:
    """The demo map with the codes (and names) of two grids of one village swapped: a valid new generation in which
    every household of grid a now lies in the grid coded b, and the other way round."""
    collection = json.loads(DEMO_MAP.read_bytes())
    features = {f["properties"]["code"]: f for f in collection["features"]}
    pa, pb = features[a]["properties"], features[b]["properties"]
    pa["code"], pb["code"] = b, a
    pa["name"], pb["name"] = pb["name"], pa["name"]
    return json.dumps(collection, ensure_ascii=False).encode()


@pytest.fixture
def new_generation(db_session, grids):
    """A new generation imported WITHOUT the automatic re-assignment, so that reassign_households is tested alone."""
    grid, sibling, _ = grids
    with generation_imported.muted():
        result = import_grid_map(swapped_map(grid, sibling), source_name="swapped.geojson", imported_by="tests")
    db_session.flush()
    return result.generation_id


def test_importing_a_map_reassigns_households_by_itself(db_session, grids, placed):
    grid, sibling, _ = grids
    member, moving, moving_back, staying, stray = placed
    result = import_grid_map(swapped_map(grid, sibling), source_name="swapped.geojson", imported_by="tests")
    assert result.followups == [
        "households: 4 re-assigned, 2 moved grid, 1 outside every grid (kept in their old grid; "
        "see `flask households reassign --dry-run`)"
    ]
    db_session.expire_all()
    assert (moving.grid_code, moving_back.grid_code) == (sibling, grid)
    assert reassign_households(result.generation_id).moved == []  # already done: nothing left to move


@pytest.fixture
def placed(db_session, make_user, grids):
    grid, sibling, other = grids
    member = make_user("member", grid)
    moving = add_household(grid)
    moving_back = add_household(sibling)
    staying = add_household(other)
    link(member, moving)
    stray = add_household(other, k=1)
    db_session.execute(
        Household.__table__.update()
        .where(Household.__table__.c.id == stray.id)
        .values(location="SRID=4326;POINT(118.2 28.2)")  # far outside the county
    )
    db_session.commit()
    return member, moving, moving_back, staying, stray


def test_reassign_moves_households_and_reports_what_moved(db_session, grids, placed, new_generation):
    grid, sibling, other = grids
    member, moving, moving_back, staying, stray = placed
    report = reassign_households(new_generation)
    assert report.households == 4
    assert sorted(report.moved) == sorted([(moving.id, grid, sibling), (moving_back.id, sibling, grid)])
    assert report.outside == [stray.id]
    assert report.links_outside_member_area == [(moving.id, member.id)]
    db_session.expire_all()
    rows = {h.id: h for h in db_session.scalars(select(Household))}
    assert (rows[moving.id].grid_code, rows[moving.id].generation_id) == (sibling, new_generation)
    assert rows[moving_back.id].grid_code == grid and rows[staying.id].generation_id == new_generation
    assert rows[stray.id].generation_id != new_generation and rows[stray.id].grid_code == other  # left alone
    assert reassign_households(new_generation).moved == []  # a second run has nothing to do


def test_dry_run_changes_nothing(db_session, grids, placed, new_generation):
    _, moving, _, _, _ = placed
    report = reassign_households(new_generation, dry_run=True)
    assert len(report.moved) == 2 and report.links_outside_member_area
    db_session.expire_all()
    assert db_session.get(Household, moving.id).grid_code == grids[0]


def test_cli_prints_what_moved(app, db_session, grids, placed, new_generation):
    _, moving, _, _, stray = placed
    result = app.test_cli_runner().invoke(args=["households", "reassign"])
    assert result.exit_code == 0, result.output
    assert f"household {moving.id}: {grids[0]} -> {grids[1]}" in result.output
    assert f"household {stray.id}: outside every grid" in result.output
    assert "2 of 4 household(s) moved" in result.output
    db_session.expire_all()
    assert db_session.get(Household, moving.id).grid_code == grids[1]
