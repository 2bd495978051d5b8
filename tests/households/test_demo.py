"""`flask households demo`: something to show for the chief and the member; idempotent; refused in production."""

from __future__ import annotations

import dataclasses

from sqlalchemy import func, select

from server.accounts.cli import DEMO_PASSWORD
from server.households.models import Household, HouseholdLink, Visit
from server.patrols.models import Patrol, PatrolGrid


def counts(db_session) -> tuple[int, ...]:
    db_session.expire_all()
    return tuple(
        db_session.scalar(select(func.count()).select_from(model))
        for model in (Household, HouseholdLink, Visit, Patrol, PatrolGrid)
    )


def test_demo_is_idempotent_and_feeds_the_chief_and_member_endpoints(app, client, db_session):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["users", "demo"]).exit_code == 0
    first = runner.invoke(args=["households", "demo"])
    assert first.exit_code == 0, first.output
    after_first = counts(db_session)
    households, links, visits, patrols, patrol_grids = after_first
    assert households == 44 and links == 11 and visits > 0 and patrols == 1 and patrol_grids >= 2
    second = runner.invoke(args=["households", "demo"])
    assert second.exit_code == 0, second.output
    assert counts(db_session) == after_first

    chief = client.post("/api/v1/auth/login", json={"phone": "13900899005", "password": DEMO_PASSWORD}).get_json()
    headers = {"Authorization": f"Bearer {chief['access_token']}"}
    grid = chief["user"]["assignments"][0]["grid_code"]
    listed = client.get(f"/api/v1/grids/{grid}/households", headers=headers).get_json()
    assert listed["summary"]["households"] == 11 and listed["summary"]["linked"] == 11
    assert 0 < listed["summary"]["overdue"] < 11
    patrols = client.get(f"/api/v1/grids/{grid}/patrols", headers=headers).get_json()
    assert patrols["total"] == 1 and patrols["items"][0]["seconds"] > 0
    member = client.post("/api/v1/auth/login", json={"phone": "13900899006", "password": DEMO_PASSWORD}).get_json()
    mine = client.get("/api/v1/me/households", headers={"Authorization": f"Bearer {member['access_token']}"})
    assert mine.get_json()["total"] == 11
    patrol = db_session.scalar(select(Patrol))
    assert patrol.dropped_too_fast == 1  # the planted GPS outlier


def test_demo_is_refused_in_production(app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "GRID", dataclasses.replace(app.config["GRID"], env="production"))
    result = app.test_cli_runner().invoke(args=["households", "demo"])
    assert result.exit_code != 0 and "production" in result.output
    assert counts(db_session)[0] == 0
