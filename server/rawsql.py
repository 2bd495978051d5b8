"""Hot paths: SQLAlchemy Core statements compiled once per dialect, run straight on the DBAPI cursor.

Why this is hand-written: SQLAlchemy's execution path costs 30-50 µs per statement in Python (execution
context, parameter and result machinery, ORM identity map); tip intake runs about ten statements per request and
must keep up with a bare web endpoint (issue 4). So the statements are still *built* with Core from the models,
and the SQL text and every value conversion (UTC timestamps, JSON, booleans, dates, geometry) are SQLAlchemy's
own, compiled once per dialect; only the execution is done here, on the connection of the request's session,
inside the request's one transaction. No other library does "compile once, run on the raw cursor".

psycopg sends a batch of statements in one round trip (pipeline mode, `batch()`); sqlite3 runs in-process, where
a batch is just a sequence.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import create_engine
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.sql import Executable

from server.db import begin_sqlite_write
from server.extensions import db

T = TypeVar("T")


@dataclass(frozen=True)
class _Compiled:
    sql: str
    order: tuple[str, ...] | None  # parameter names in order for a positional paramstyle, else None (named)
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
    order = tuple(compiled.positiontup) if compiled.positional else None
    columns = getattr(statement, "selected_columns", None)
    results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns or ())
    return _Compiled(compiled.string, order, binds, literals, results)


def _params(c: _Compiled, values: dict[str, Any]):
    if c.literals:
        values = c.literals | values
    if c.order is not None:
        binds = c.binds
        return tuple(values[name] if binds[name] is None else binds[name](values[name]) for name in c.order)
    return {name: values[name] if p is None else p(values[name]) for name, p in c.binds.items()}


class RawConnection:
    """A transaction seen as a DBAPI connection: by default the request session's (BEGIN IMMEDIATE on SQLite, as for
    any write); `transact` runs work in one without the session."""

    def __init__(self, dialect: Dialect | None = None, dbapi=None):
        if dbapi is None:
            connection = db.session.connection()
            dialect, dbapi = connection.dialect, connection.connection.driver_connection
        self.dialect: Dialect = dialect
        self.dbapi = dbapi
        self.is_postgres = self.dialect.name == "postgresql"
        self.owned = False  # True inside `transact`'s own transaction: the last batch may commit
        self._write_cursor = None

    @classmethod
    def transact(cls, work: Callable[[RawConnection], T]) -> T:
        """Run `work` as the request's one transaction, without the ORM session: committed when it returns, rolled
        back if it raises.

        - On PostgreSQL the connection comes from a pool without pre-ping (`_hot_engine`), which saves a round
          trip a request. A connection the database dropped (a restart, an idle timeout) is thrown away and `work`
          runs once more on a fresh one, so `work` must be safe to repeat: intake's is, by its idempotency key.
        - If the request's session has already begun a transaction (a grid map check, say), `work` joins it
          instead and the request commits it as usual: a second writer on SQLite would wait for the first.
        """
        engine = db.engine
        if (db.session.registry.has() and db.session().in_transaction()) or not isinstance(engine, Engine):
            return work(cls())  # (not an Engine: the app is bound to an outer transaction's Connection, as in tests)
        hot = _hot_engine(engine)
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
        raw.owned = True
        try:
            if not raw.is_postgres:
                begin_sqlite_write(engine, dbapi)
            result = work(raw)
            dbapi.commit()  # on PostgreSQL usually done already, in the last batch's round trip
            return result
        except BaseException:
            with contextlib.suppress(Exception):  # a dropped connection cannot roll back; the error says why
                dbapi.rollback()  # (on SQLite this also leaves the write gate)
            raise

    def cursor(self):
        return self.dbapi.cursor()

    @contextlib.contextmanager
    def batch(self, *, last: bool = False) -> Iterator[None]:
        """Statements issued inside go to PostgreSQL in one round trip; their results are read after the block.
        `last`: nothing follows, so a transaction of our own commits in the same round trip."""
        if self.is_postgres:
            with self.dbapi.pipeline():
                yield
                if last and self.owned:
                    self.dbapi.commit()
        else:
            yield

    def run(self, statement: Prepared, **values):
        """Execute on a cursor of its own (whose rows are read later); return the cursor."""
        return statement.execute(self.cursor(), self.dialect, values)

    def write(self, statement: Prepared, **values) -> None:
        """Execute a statement whose result nobody reads, on the session's one writing cursor."""
        statement.execute(self._writer(), self.dialect, values)

    def write_many(self, statement: Prepared, rows: list[dict[str, Any]]) -> None:
        statement.execute_many(self._writer(), self.dialect, rows)

    def _writer(self):
        if self._write_cursor is None:
            self._write_cursor = self.dbapi.cursor()
        return self._write_cursor


_hot_engines: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _hot_engine(engine: Engine) -> Engine:
    """PostgreSQL: an engine on the same database whose pool does not ping on checkout (`transact` handles a
    dropped connection itself); the app's keeps its pre-ping. SQLite: the app's engine (it has no pre-ping)."""
    if engine.dialect.name != "postgresql":
        return engine
    hot = _hot_engines.get(engine)
    if hot is None:
        size = engine.pool.size()
        hot = _hot_engines[engine] = create_engine(engine.url, pool_pre_ping=False, pool_size=size, max_overflow=size)
    return hot
