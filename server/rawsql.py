"""Hot paths: SQLAlchemy Core statements compiled once per dialect, run straight on the DBAPI cursor.

Why this is hand-written: SQLAlchemy's execution path costs 30-50 µs per statement in Python (execution
context, parameter and result machinery, ORM identity map); tip intake runs about ten statements per request and
must keep up with a bare web endpoint (issue 4). So the statements are still *built* with Core from the models,
and the SQL text and every value conversion (UTC timestamps, JSON, booleans, dates, geometry) are SQLAlchemy's
own, compiled once per dialect; only the execution is done here, on the connection of the request's session,
inside the request's one transaction. No other library does "compile once, run on the raw cursor".

psycopg sends a batch of statements in one round trip (pipeline mode, `batch()`); sqlite3 runs in-process, where
a batch is just a sequence. `read_then_write` (intake's way in) runs on PostgreSQL in autocommit instead: each
statement a single round trip with no BEGIN or COMMIT, and at most one of them writing.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.sql import Executable

from server import jsoncodec
from server.db import begin_sqlite_write
from server.extensions import db

T = TypeVar("T")


@dataclass(frozen=True)
class _Compiled:
    sql: str
    order: tuple[tuple[str, Callable | None], ...] | None  # (name, bind processor) in order if positional, else None
    binds: dict[str, Callable | None]
    literals: dict[str, Any]  # values of the statement's own anonymous parameters (constants like 0 and 1)
    results: tuple[Callable | None, ...]


class Prepared:
    """One statement: built lazily (the models must be imported), compiled once per dialect."""

    every: list[Prepared] = []  # so that a serving process can compile them all before its first request

    def __init__(self, build: Callable[[Dialect], Executable]):
        self._build = build
        self._compiled: dict[str, _Compiled] = {}
        Prepared.every.append(self)

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = _compile(self._build(dialect), dialect)
        return found

    def execute(self, cursor, dialect: Dialect, values: dict[str, Any]):
        c = self.compiled(dialect)
        cursor.execute(c.sql, _params(c, values))
        return cursor

    def execute_many(self, cursor, dialect: Dialect, rows: list[dict[str, Any]]) -> None:
        if rows:
            c = self.compiled(dialect)
            cursor.executemany(c.sql, [_params(c, values) for values in rows])

    def rows(self, cursor, dialect: Dialect) -> list[tuple]:
        """The fetched rows, with SQLAlchemy's result conversions applied (call after `execute`)."""
        processors = self.compiled(dialect).results
        return [tuple(p(v) if p else v for p, v in zip(processors, row, strict=True)) for row in cursor.fetchall()]


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    binds = {
        name: bind.type.dialect_impl(dialect).bind_processor(dialect) for bind, name in compiled.bind_names.items()
    }
    literals = {name: bind.effective_value for bind, name in compiled.bind_names.items() if bind.key.startswith("%(")}
    order = tuple((name, binds[name]) for name in compiled.positiontup) if compiled.positional else None
    columns = getattr(statement, "selected_columns", None)
    results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns or ())
    return _Compiled(compiled.string, order, binds, literals, results)


def _params(c: _Compiled, values: dict[str, Any]):
    if c.literals:
        values = c.literals | values
    if c.order is not None:
        return tuple([values[name] if p is None else p(values[name]) for name, p in c.order])
    return {name: values[name] if p is None else p(values[name]) for name, p in c.binds.items()}


class RawConnection:
    """A transaction seen as a DBAPI connection: by default the request session's (BEGIN IMMEDIATE on SQLite, as for
    any write); `read_then_write` runs work without the session."""

    def __init__(self, dialect: Dialect | None = None, dbapi=None):
        if dbapi is None:
            connection = db.session.connection()
            dialect, dbapi = connection.dialect, connection.connection.driver_connection
        self.dialect: Dialect = dialect
        self.dbapi = dbapi
        self.is_postgres = self.dialect.name == "postgresql"
        self.autocommit = False  # True on `read_then_write`'s own PostgreSQL connection: one writing statement only
        self._write_cursor = None
        self._writes = 0

    @classmethod
    def read_then_write(cls, work: Callable[[RawConnection], T]) -> T:
        """Run `work` -- reads, then at most one writing statement -- as the request's one unit of work, without the
        ORM session: what it wrote is committed when it returns, nothing is if it raises.

        - On PostgreSQL the connection is in autocommit, from a pool without pre-ping (`_hot_engine`): every
          statement is one round trip, with no BEGIN, COMMIT or pipeline. (Measured with psycopg 3.3 on loopback,
          for a read plus a two-insert write: as two pipelines with BEGIN and COMMIT, 813 µs of wall time and 363 µs
          of CPU; as two statements in autocommit, 533-564 and 165; as one statement, 358-447 and 82-90.) A write is
          atomic only as one statement (intake chains its inserts in one WITH), so `write` refuses a second. A read
          is not in the write's transaction, which under READ COMMITTED gives nothing away: the write's own
          constraints (a unique idempotency key) are what make it safe against a concurrent request. Intake's usual
          statement reads and writes at once (ACCEPT_IF_CLEAR, sent with `run` because it returns a row); it writes
          only when its own reading is clear, and `write` then follows only if it wrote nothing.
        - A connection the database dropped (a restart, an idle timeout) is thrown away and `work` runs once more
          on a fresh one, so `work` must be safe to repeat: intake's is, by its idempotency key.
        - On SQLite, the read and the write share one BEGIN IMMEDIATE transaction (the write lock, taken first,
          also makes the read authoritative).
        - If the request's session has already begun a transaction (a grid map check, say), `work` joins it
          instead and the request commits it as usual: a second writer on SQLite would wait for the first.
        """
        engine = db.engine
        if (db.session.registry.has() and db.session().in_transaction()) or not isinstance(engine, Engine):
            return work(cls())  # (not an Engine: the app is bound to an outer transaction's Connection, as in tests)
        hot = _hot_engine(engine, current_app.config["GRID"].pg_intake_synchronous_commit)
        for attempt in (1, 2):
            pooled = hot.raw_connection()
            try:
                return cls._run_owned(hot, pooled.driver_connection, work)
            except hot.dialect.loaded_dbapi.Error as error:
                dropped = hot.dialect.is_disconnect(error, pooled.driver_connection, None)
                if dropped:
                    pooled.invalidate()
                if attempt == 2 or not dropped:
                    raise
            finally:
                pooled.close()  # back to the pool (an invalidated one is replaced there)
        raise AssertionError("unreachable")

    @classmethod
    def _run_owned(cls, engine: Engine, dbapi, work: Callable[[RawConnection], T]) -> T:
        raw = cls(engine.dialect, dbapi)
        raw.autocommit = raw.is_postgres
        try:
            if not raw.is_postgres:
                begin_sqlite_write(engine, dbapi)
            result = work(raw)
            dbapi.commit()  # SQLite: ends the write transaction; PostgreSQL in autocommit: nothing to do
            return result
        except BaseException:
            with contextlib.suppress(Exception):  # a dropped connection cannot roll back; the error says why
                dbapi.rollback()  # (on SQLite this also leaves the write gate; in autocommit there is nothing)
            raise

    def cursor(self):
        return self.dbapi.cursor()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Statements issued inside go to PostgreSQL in one round trip; their results are read after the block. In
        autocommit every statement is a round trip (and a transaction) of its own, so there is no pipeline."""
        if self.is_postgres and not self.autocommit:
            with self.dbapi.pipeline():
                yield
        else:
            yield

    def run(self, statement: Prepared, **values):
        """Execute on a cursor of its own (whose rows are read later); return the cursor."""
        return statement.execute(self.cursor(), self.dialect, values)

    def write(self, statement: Prepared, **values) -> None:
        """Execute a statement whose result nobody reads, on the session's one writing cursor."""
        self._count_write()
        statement.execute(self._writer(), self.dialect, values)

    def write_many(self, statement: Prepared, rows: list[dict[str, Any]]) -> None:
        self._count_write()
        statement.execute_many(self._writer(), self.dialect, rows)

    def _count_write(self) -> None:
        """In autocommit each statement commits by itself: a second write would make the work half-doable."""
        self._writes += 1
        if self.autocommit and self._writes > 1:
            raise RuntimeError("read_then_write allows one writing statement on PostgreSQL; chain the inserts in one")

    def _writer(self):
        if self._write_cursor is None:
            self._write_cursor = self.dbapi.cursor()
        return self._write_cursor


_hot_engines: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _hot_engine(engine: Engine, synchronous_commit: str) -> Engine:
    """PostgreSQL: an engine on the same database whose connections are in autocommit and whose pool does not ping
    on checkout (`read_then_write` handles a dropped connection itself); the app's keeps its pre-ping. Its sessions
    run with `synchronous_commit` as given (GRID_PG_INTAKE_SYNCHRONOUS_COMMIT: intake is its only user), while the
    app's engine keeps the server's setting. SQLite: the app's engine (it has no pre-ping)."""
    if engine.dialect.name != "postgresql":
        return engine
    engines = _hot_engines.setdefault(engine, {})
    hot = engines.get(synchronous_commit)
    if hot is None:
        size = engine.pool.size()
        hot = engines[synchronous_commit] = create_engine(
            engine.url,
            isolation_level="AUTOCOMMIT",
            pool_pre_ping=False,
            pool_size=size,
            max_overflow=size,
            **jsoncodec.ENGINE_OPTIONS,
        )
        event.listen(hot, "connect", _session_setting("synchronous_commit", synchronous_commit))
    return hot


def _session_setting(name: str, value: str) -> Callable:
    """A pool 'connect' hook that sets a PostgreSQL setting for the whole session (not a startup option, which a
    connection pooler such as PgBouncer may refuse)."""

    def on_connect(dbapi_connection, _record) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, false)", (name, value))
        dbapi_connection.commit()  # (in autocommit already: nothing to end, but harmless if it were not)

    return on_connect
