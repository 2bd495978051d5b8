"""Timestamps: one column type for every moment the models store.

`UTCDateTime` stores an aware datetime as UTC and hands it back aware on both backends (SQLite returns timezone
columns naive; PostgreSQL in the session's zone). So no caller ever has to guess or patch a datetime's zone, and a
naive datetime bound to a query or a column is refused as the bug it is.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs a timezone-aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class seconds_between(FunctionElement):  # noqa: N801 -- used like func.x(...) in queries
    """`later - earlier` in seconds as a float, computed by the database (no datetimes cross the wire).

    Hand-written because SQLAlchemy has no portable interval-to-seconds: PostgreSQL takes EXTRACT(EPOCH ...) of the
    interval; SQLite subtracts julian days, which it computes from whole milliseconds, so the result is rounded to
    the millisecond to drop the float noise of two numbers near 2.46 million.
    """

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "postgresql")
def _seconds_between_postgresql(element, compiler, **kw):
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM ({later}) - ({earlier})) AS DOUBLE PRECISION)"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element, compiler, **kw):
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"round((julianday({later}) - julianday({earlier})) * 86400.0, 3)"
