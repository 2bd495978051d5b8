"""A database of its own for tests that need real commits seen by other connections, threads or processes.

Like tests/live.py, with a suffix per test module (so that modules never drop each other's database) and settings
overrides. On PostGIS: `<test db>_<suffix>`; on SpatiaLite: a fresh file.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit, urlunsplit

from flask_migrate import upgrade

from server import create_app
from server.accounts.assignments import assign_grid
from server.accounts.models import User
from server.accounts.tokens import issue_pair
from server.extensions import db
from tests.conftest import DEMO_MAP

GRID = "330899001001001"
SIBLING = "330899001001002"
TOWNSHIP = GRID[:9]


def fresh_database_url(base_url: str, tmp_path, suffix: str) -> str:
    if base_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / f'{suffix}.sqlite'}"
    import psycopg

    parts = urlsplit(base_url)
    name = f"{parts.path.lstrip('/')}_{suffix}"
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    with psycopg.connect(urlunsplit(("postgresql", parts.netloc, f"/{name}", "", "")), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def live_app(database_url: str, tmp_path, **overrides):
    config = {"database_url": database_url, "env": "test", "index_check_seconds": 0.0}
    config |= {"photo_dir": str(tmp_path / "photos")} | overrides
    app = create_app(config)
    with app.app_context():
        upgrade()
        from server.areas.importer import import_grid_map

        import_grid_map(DEMO_MAP.read_bytes(), source_name=DEMO_MAP.name, imported_by="tests")
        db.session.commit()
    return app


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
