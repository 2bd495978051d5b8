"""Engine set-up for the two backends: SpatiaLite (embedded default) and PostGIS (production).

SQLite needs three things on every new connection:
- mod_spatialite loaded, and its metadata initialised once (WGS84 only, which keeps the file small);
- pysqlite's own transaction handling switched off, so that SQLAlchemy's BEGIN/SAVEPOINT work as documented
  (see SQLAlchemy's "pysqlite: serializable isolation / savepoints" notes); without it per-test rollback breaks;
  writing requests begin IMMEDIATE (see _may_write);
- WAL, a busy timeout and foreign keys, so that several gunicorn workers can share the file; writers queue at a
  write gate (server.sqlite_gate) instead of SQLite's sleeping busy handler, and a thread of each process
  checkpoints the log (server.sqlite_checkpoint); GRID_SQLITE_SYNCHRONOUS sets how hard a commit waits for the disk.
"""

from __future__ import annotations

import os

from flask import has_request_context, request
from geoalchemy2.admin.dialects.sqlite import init_spatialite
from sqlalchemy import event
from sqlalchemy.engine import Engine

from server import jsoncodec
from server.config import Settings
from server.sqlite_checkpoint import BACKSTOP_PAGES, ensure_checkpointer
from server.sqlite_gate import GatedConnection, gate_for

SQLITE_BUSY_TIMEOUT_MS = 30_000


def engine_options(settings: Settings) -> dict:
    if settings.is_spatialite:
        connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        return {"connect_args": connect_args | {"factory": GatedConnection}, **jsoncodec.ENGINE_OPTIONS}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10, **jsoncodec.ENGINE_OPTIONS}


def configure_engine(engine: Engine, settings: Settings) -> None:
    if engine.dialect.name != "sqlite":
        return

    gate = gate_for(engine.url.database)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.gate = gate
        dbapi_conn.isolation_level = None
        dbapi_conn.enable_load_extension(True)
        dbapi_conn.load_extension(settings.spatialite_path)
        dbapi_conn.enable_load_extension(False)
        # `full` is kept by syncing the log ourselves, after the commit has left the write gate (GatedConnection):
        # SQLite's own FULL would fsync with the write lock held, and every other writer would wait out the disk.
        synchronous = "synchronous=NORMAL"
        if settings.sqlite_synchronous == "full" and engine.url.database not in (None, "", ":memory:"):
            dbapi_conn.log_to_sync = os.path.abspath(engine.url.database) + "-wal"  # as SQLite resolved it, now
        backstop = f"wal_autocheckpoint={BACKSTOP_PAGES}"  # the checkpoint thread does the regular ones
        busy = f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}"
        for pragma in ("journal_mode=WAL", busy, "foreign_keys=ON", synchronous, backstop):
            dbapi_conn.execute(f"PRAGMA {pragma}")
        init_spatialite(dbapi_conn, transaction=True, init_mode="WGS84")

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if _may_write():
            begin_sqlite_write(engine, conn.connection.driver_connection)
        else:
            conn.exec_driver_sql("BEGIN")


def begin_sqlite_write(engine: Engine, dbapi) -> None:
    """Open a writing transaction on a SpatiaLite connection: BEGIN IMMEDIATE through the write gate, with this
    process's checkpoint thread running. The `begin` listener uses it, and so does server.rawsql for connections
    it takes from the pool itself."""
    ensure_checkpointer(engine.url.database)
    dbapi.begin_write()


def _may_write() -> bool:
    """A transaction that may write must take SQLite's write lock up front (BEGIN IMMEDIATE). A deferred one that
    reads first and writes later cannot wait for the lock: SQLite answers 'database is locked' at once instead of
    honouring the busy timeout. Reads (GET, HEAD) stay deferred so that they run side by side."""
    return not has_request_context() or request.method not in ("GET", "HEAD", "OPTIONS")
