"""Workflow and notification tests on a database of their own (tests/live.py), seeded with the people they need."""

from __future__ import annotations

from datetime import date

from server.accounts.assignments import assign_grid
from server.accounts.models import User
from server.accounts.tokens import issue_pair
from server.extensions import db
from tests import live

GRID = "330899001001001"
SIBLING = "330899001001002"
TOWNSHIP = GRID[:9]


def fresh_database_url(base_url: str, tmp_path, suffix: str) -> str:
    return live.fresh_database_url(base_url, tmp_path, suffix)


def live_app(database_url: str, tmp_path, **overrides):
    return live.live_app(database_url, str(tmp_path / "photos"), **overrides)


def seed_people(app) -> dict[str, dict]:
    """A member, the grid's chief and deputy, two township officers; each with id and a bearer token."""
    people = {}
    spec = [
        ("member", "member", GRID, None),
        ("chief", "grid_chief", GRID[:12], "chief"),
        ("deputy", "grid_chief", GRID[:12], "deputy"),
        ("township", "township_staff", TOWNSHIP, None),
        ("township2", "township_staff", TOWNSHIP, None),
    ]
    with app.app_context():
        for i, (name, role, area, kind) in enumerate(spec):
            user = User(phone=f"1360000{i:04d}", name=name, home_area_code=area, active=True, token_version=1)
            user.set_roles([role])
            db.session.add(user)
            db.session.flush()
            if kind:
                assign_grid(user, GRID, kind, date.today())
            people[name] = {"id": user.id, "token": issue_pair(user)["access_token"]}
        db.session.commit()
    return people
