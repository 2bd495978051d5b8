"""Timestamps: one column type for every moment the models store.

`UTCDateTime` stores an aware datetime as UTC and hands it back aware on both backends (SQLite returns timezone
columns naive; PostgreSQL in the session's zone). So no caller ever has to guess or patch a datetime's zone, and a
naive datetime bound to a query or a column is refused as the bug it is.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
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
