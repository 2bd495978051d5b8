"""Test harness: one real database per run (SpatiaLite by default, PostGIS with GRID_TEST_DATABASE=postgresql+...).

The schema comes from the real migrations, the demo county is imported once, and every test runs inside a
transaction that is rolled back afterwards (the session joins it with SAVEPOINTs), so tests never see each
other's writes. Tests that use the database are marked `db` automatically; make test runs those on PostGIS too.
"""

from __future__ import annotations

import os
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
def app(database_url):
    app = create_app({"database_url": database_url, "env": "test", "index_check_seconds": 0.0})
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
