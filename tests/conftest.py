"""Test harness: one real database per run (SpatiaLite by default, PostGIS with GRID_TEST_DATABASE=postgresql+...).

The schema comes from the real migrations, the demo county is imported once, and every test runs inside a
transaction that is rolled back afterwards (the session joins it with SAVEPOINTs), so tests never see each
other's writes. Tests that use the database are marked `db` automatically; make test runs those on PostGIS too.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from functools import cache
from pathlib import Path

import pytest
from flask_migrate import upgrade

from server import create_app
from server.extensions import db

ROOT = Path(__file__).resolve().parent.parent
DEMO_MAP = ROOT / "grid_maps" / "demo_county.geojson"
DB_FIXTURES = {"app", "client", "db_session"}


def pytest_collection_modifyitems(items):
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("GRID_TEST_DATABASE", "spatialite")
    if url == "spatialite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    return url


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    photos = str(tmp_path_factory.mktemp("photos"))
    app = create_app({"database_url": database_url, "env": "test", "index_check_seconds": 0.0, "photo_dir": photos})
    app.config["TESTING"] = True
    with app.app_context():
        upgrade()
        _import_demo_county()
    return app


def _import_demo_county() -> None:
    from server.areas.importer import import_grid_map

    import_grid_map(DEMO_MAP.read_bytes(), source_name=DEMO_MAP.name, imported_by="tests")
    db.session.commit()


@pytest.fixture
def db_session(app):
    """Every session in the test runs on one connection whose outer transaction is rolled back afterwards.

    Flask-SQLAlchemy picks the bind from `db.engines`, not from the session's own `bind`, so the connection
    takes the engine's place there for the duration of the test; commits inside it only release SAVEPOINTs.
    """
    with app.app_context():
        engines = db.engines
        engine = engines[None]
        connection = engine.connect()
        outer = connection.begin()
        engines[None] = connection
        original = db.session
        db.session = db._make_scoped_session({"join_transaction_mode": "create_savepoint"})
        app.extensions["grid_index"].invalidate()
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            engines[None] = engine
            outer.rollback()
            connection.close()
            app.extensions["grid_index"].invalidate()


@pytest.fixture
def client(app, db_session):
    return app.test_client()


@pytest.fixture
def is_postgis(app) -> bool:
    return app.config["GRID"].database_url.startswith("postgresql")


# --- accounts: factories and safety nets shared by every feature's tests (added with server/accounts) ---------

TEST_PASSWORD = "test-pass-2026!"
_phone_numbers = itertools.count(1)


@cache
def _test_password_hash() -> str:
    """Hashed once per run with the real argon2 parameters: creating users stays fast, logging in stays real."""
    from server.accounts.passwords import hash_password

    return hash_password(TEST_PASSWORD)


@pytest.fixture(scope="session")
def demo_areas() -> dict:
    """Codes from the demo county: county, two townships, villages and grids in each (sorted, first ones)."""
    features = json.loads(DEMO_MAP.read_bytes())["features"]
    by_level: dict[str, list[str]] = {}
    for f in features:
        by_level.setdefault(f["properties"]["level"], []).append(f["properties"]["code"])
    codes = {level: sorted(values) for level, values in by_level.items()}
    grid = codes["grid"][0]
    other_grid = next(g for g in codes["grid"] if not g.startswith(grid[:9]))
    return {
        "county": codes["county"][0],
        "township": grid[:9],
        "village": grid[:12],
        "grid": grid,
        "sibling_grid": next(g for g in codes["grid"] if g != grid and g.startswith(grid[:12])),
        "other_township": other_grid[:9],
        "other_village": other_grid[:12],
        "other_grid": other_grid,
    }


@pytest.fixture
def make_user(db_session):
    """make_user("grid_chief", "330899001001", grids=["330899001001001"]) -> a committed User (password TEST_PASSWORD).

    `roles=[...]` gives several roles; `grids` makes a grid_chief chief of those grids from today (`kind="deputy"`
    for deputies). Commits only release the test's savepoint: the test's outer transaction still rolls back.
    """
    from datetime import date

    from server.accounts.assignments import assign_grid
    from server.accounts.models import User

    def make(
        role="member",
        area_code="330899",
        *,
        roles=None,
        phone=None,
        name=None,
        active=True,
        grids=(),
        kind="chief",
        password_hash=...,
    ):
        user = User(
            phone=phone or f"137{next(_phone_numbers):08d}",
            name=name or f"测试{role}",
            home_area_code=area_code,
            active=active,
            token_version=1,
            password_hash=_test_password_hash() if password_hash is ... else password_hash,
        )
        user.set_roles(roles or [role])
        db_session.add(user)
        db_session.flush()
        for grid in grids:
            assign_grid(user, grid, kind, date.today())
        db_session.commit()
        return user

    return make


@pytest.fixture
def auth_headers(db_session):
    """auth_headers(user) -> {"Authorization": "Bearer <access token>"} for a fresh login of that user."""
    from server.accounts.tokens import issue_pair

    def headers(user, *, token: str | None = None) -> dict:
        if token is None:
            token = issue_pair(user)["access_token"]
            db_session.commit()
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture(autouse=True)
def _reset_rate_limits(request):
    """Rate-limit counters never leak from one test into the next (only for tests that use the app)."""
    if "app" not in request.fixturenames:
        yield
        return
    from server.accounts.ratelimit import limiter

    request.getfixturevalue("app")
    limiter.reset()
    yield
    limiter.reset()


# Every response any test client produces in the whole run is scanned: a password hash anywhere, or a JWT
# outside the two answers that hand tokens out, fails the test that caused it.
_HASH_MARKERS = ("$argon2", "$scrypt", "$pbkdf2", "$2b$")
_JWT = re.compile(rb"eyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]*")
TOKEN_ISSUING_PATHS = frozenset({"/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/me/password"})
LEAKS: list[str] = []


def leak_in(path: str, status: int, body: bytes) -> str | None:
    for marker in _HASH_MARKERS:
        if marker.encode() in body:
            return f"{path} ({status}) leaks a password hash ({marker})"
    if _JWT.search(body) and not (status == 200 and path in TOKEN_ISSUING_PATHS):
        return f"{path} ({status}) contains a token"
    return None


@pytest.fixture(scope="session", autouse=True)
def _scan_every_response():
    from flask.testing import FlaskClient

    original = FlaskClient.open

    def open_and_scan(self, *args, **kwargs):
        response = original(self, *args, **kwargs)
        # get_data() buffers the body (test responses are iterators), so the test can still read it afterwards
        leak = leak_in(response.request.path, response.status_code, response.get_data())
        if leak:
            LEAKS.append(leak)
            pytest.fail(f"response leak: {leak}")
        return response

    FlaskClient.open = open_and_scan
    yield
    FlaskClient.open = original
    assert not LEAKS, f"responses leaked secrets: {LEAKS}"
