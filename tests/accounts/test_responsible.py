"""Who answers for a grid (网格长 first, then deputies), over time; and the `responsible` field of locate."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from shapely.geometry import shape

from server.accounts.assignments import assign_grid, responsible_for_grid
from server.accounts.models import GridAssignment
from tests.accounts.helpers import assert_problem, bearer
from tests.conftest import DEMO_MAP

TODAY = date.today()


@pytest.fixture(scope="module")
def inside_point():
    """A point well inside each demo grid, by code."""
    features = json.loads(DEMO_MAP.read_bytes())["features"]
    points = {}
    for f in features:
        if f["properties"]["level"] == "grid":
            p = shape(f["geometry"]).representative_point()
            points[f["properties"]["code"]] = (p.x, p.y)
    return points


def test_nobody(app, db_session, demo_areas):
    assert responsible_for_grid(demo_areas["grid"]) == []


def test_chief_first_then_deputies(db_session, make_user, demo_areas):
    grid = demo_areas["grid"]
    deputy_a = make_user("grid_chief", demo_areas["village"], name="副甲", grids=[grid], kind="deputy")
    chief = make_user("grid_chief", demo_areas["village"], name="正长", grids=[grid])
    deputy_b = make_user("grid_chief", demo_areas["village"], name="副乙", grids=[grid], kind="deputy")
    people = responsible_for_grid(grid)
    assert [(p.user_id, p.role, p.role_zh) for p in people] == [
        (chief.id, "chief", "网格长"),
        (deputy_a.id, "deputy", "副网格长"),
        (deputy_b.id, "deputy", "副网格长"),
    ]


def test_handover_keeps_history(db_session, make_user, demo_areas):
    grid = demo_areas["grid"]
    old = make_user("grid_chief", demo_areas["village"], name="老网格长")
    new = make_user("grid_chief", demo_areas["village"], name="新网格长")
    start = TODAY - timedelta(days=30)
    assign_grid(old, grid, "chief", start)
    assign_grid(new, grid, "chief", TODAY)
    old_version = old.token_version
    db_session.commit()
    assert [p.name for p in responsible_for_grid(grid)] == ["新网格长"]
    assert [p.name for p in responsible_for_grid(grid, TODAY - timedelta(days=1))] == ["老网格长"]
    assert responsible_for_grid(grid, start - timedelta(days=1)) == []
    history = db_session.query(GridAssignment).filter_by(grid_code=grid).order_by(GridAssignment.starts_on).all()
    assert [(a.user_id, a.starts_on, a.ends_on) for a in history] == [
        (old.id, start, TODAY - timedelta(days=1)),
        (new.id, TODAY, None),
    ]
    assert old_version >= 2  # the outgoing chief's tokens were invalidated (scope shrank)


def test_ended_and_future_assignments_do_not_count(db_session, make_user, demo_areas):
    grid = demo_areas["grid"]
    past = make_user("grid_chief", demo_areas["village"])
    future = make_user("grid_chief", demo_areas["village"])
    assign_grid(past, grid, "deputy", TODAY - timedelta(days=10), TODAY - timedelta(days=1))
    assign_grid(future, grid, "deputy", TODAY + timedelta(days=1))
    assert responsible_for_grid(grid) == []
    assert [p.user_id for p in responsible_for_grid(grid, TODAY + timedelta(days=1))] == [future.id]


def test_deactivated_chief_is_nobody(db_session, make_user, demo_areas):
    make_user("grid_chief", demo_areas["village"], grids=[demo_areas["grid"]], active=False)
    assert responsible_for_grid(demo_areas["grid"]) == []


def test_a_grid_has_one_chief_at_a_time(db_session, make_user, demo_areas):
    from server.errors import Problem

    grid = demo_areas["grid"]
    make_user("grid_chief", demo_areas["village"], grids=[grid])
    with pytest.raises(Problem) as conflict:
        assign_grid(make_user("grid_chief", demo_areas["village"]), grid, "chief", TODAY)
    assert conflict.value.status == 409
    with pytest.raises(Problem, match="not a grid"):
        assign_grid(make_user("grid_chief", demo_areas["village"]), demo_areas["village"], "chief", TODAY)
    with pytest.raises(Problem, match="grid_chief role"):
        assign_grid(make_user("member", demo_areas["grid"]), demo_areas["sibling_grid"], "deputy", TODAY)


def _locate(client, point, headers=None):
    return client.get(f"/api/v1/grids/locate?lon={point[0]}&lat={point[1]}", headers=headers or {})


def test_locate_names_the_responsible_only_for_authenticated_callers(
    client, make_user, auth_headers, demo_areas, inside_point
):
    grid = demo_areas["grid"]
    chief = make_user("grid_chief", demo_areas["village"], name="王网格长", grids=[grid], phone="13933334444")
    make_user("grid_chief", demo_areas["village"], name="李副网格长", grids=[grid], kind="deputy")
    anonymous = _locate(client, inside_point[grid])
    assert anonymous.status_code == 200
    assert anonymous.get_json()["grid"]["code"] == grid
    assert "responsible" not in anonymous.get_json()
    assert "王网格长" not in anonymous.get_data(as_text=True)

    member = make_user("member", demo_areas["other_grid"])
    known = _locate(client, inside_point[grid], auth_headers(member))
    assert known.get_json()["responsible"] == [
        {"name": "王网格长", "role": "chief", "role_zh": "网格长"},
        {"name": "李副网格长", "role": "deputy", "role_zh": "副网格长"},
    ]
    assert chief.phone not in known.get_data(as_text=True)


def test_locate_with_nobody_responsible_is_an_empty_list(client, make_user, auth_headers, demo_areas, inside_point):
    body = _locate(client, inside_point[demo_areas["other_grid"]], auth_headers(make_user())).get_json()
    assert body["responsible"] == []


def test_locate_with_a_bad_token_is_401_not_anonymous(client, inside_point, demo_areas):
    assert_problem(_locate(client, inside_point[demo_areas["grid"]], bearer("not.a.token")), 401, "token-invalid")


def test_locate_schema_documents_responsible(app):
    spec = app.extensions["smorest_api"].spec.to_dict()
    schema = spec["components"]["schemas"]["LocateResult"]["properties"]["responsible"]
    assert schema["type"] == "array"
