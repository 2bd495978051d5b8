"""A real server on a database of its own, for tests that need real commits and real concurrency.

On SpatiaLite: a fresh file. On PostGIS: a fresh database `<test db>_live` with the extension. The rollback
fixtures cannot serve here: parallel requests need separate connections that see each other's commits.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from flask_migrate import upgrade
from werkzeug.serving import make_server

from server import create_app
from server.extensions import db
from tests.conftest import DEMO_MAP


def fresh_database_url(base_url: str, tmp_path, suffix: str = "live") -> str:
    """A new empty database next to the test run's: `<test db>_<suffix>` on PostGIS, a fresh file on SpatiaLite.
    Test modules that run side by side use different suffixes, so that none drops another's database."""
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


def live_app(database_url: str, photo_dir: str, **overrides):
    """An app on that database, migrated, with the demo county imported (and any settings overridden)."""
    config = {"database_url": database_url, "env": "test", "index_check_seconds": 0.0, "photo_dir": photo_dir}
    app = create_app(config | overrides)
    with app.app_context():
        upgrade()
        from server.areas.importer import import_grid_map

        import_grid_map(DEMO_MAP.read_bytes(), source_name=DEMO_MAP.name, imported_by="tests")
        db.session.commit()
    return app


@contextmanager
def serving(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
