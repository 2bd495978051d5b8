"""seconds_between (server/timestamps.py): `later - earlier` in seconds, computed by either database.

The timestamps go through the column type as any stored moment does (UTCDateTime: aware, stored as UTC), so the
expression is tested on what the tables hold: sub-second, multi-day, across a day boundary, negative, and NULL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import literal, select

from server.extensions import db
from server.timestamps import UTCDateTime, seconds_between

pytestmark = pytest.mark.db

T0 = datetime(2026, 11, 30, 23, 59, 59, 250_000, tzinfo=UTC)


@pytest.mark.parametrize(
    "delta",
    [
        timedelta(0),
        timedelta(milliseconds=750),
        timedelta(minutes=432),
        timedelta(days=3, hours=2, seconds=1, milliseconds=5),
        -timedelta(hours=8),
    ],
)
def test_seconds_between_stored_moments(db_session, delta):
    earlier, later = literal(T0, UTCDateTime), literal(T0 + delta, UTCDateTime)
    assert db.session.scalar(select(seconds_between(later, earlier))) == pytest.approx(delta.total_seconds(), abs=1e-3)


def test_a_moment_given_in_another_zone_is_the_same_moment(db_session):
    beijing = (T0 + timedelta(minutes=30)).astimezone(timezone(timedelta(hours=8)))
    got = db.session.scalar(select(seconds_between(literal(beijing, UTCDateTime), literal(T0, UTCDateTime))))
    assert got == pytest.approx(1800.0, abs=1e-3)


def test_null_gives_null(db_session):
    assert db.session.scalar(select(seconds_between(literal(None, UTCDateTime), literal(T0, UTCDateTime)))) is None
