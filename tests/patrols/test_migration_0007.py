"""Migration 0007 converts stored patrol batches and track times from JSON to packed float64 and back, losslessly."""

from __future__ import annotations

import json

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from server.extensions import db
from server.patrols.models import Patrol, PatrolBatch
from server.patrols.track import unpack_points, unpack_times
from tests.workflow.live_db import fresh_database_url, live_app, seed_people

pytestmark = pytest.mark.db

TIMES = [1790000000.0, 1790000001.25]
POINTS = [[118.871234567891, 28.941234567891, 1790000000, 8.5], [118.8713, 28.9413, 1790000001, None]]


def test_batches_survive_0007_up_and_down(database_url, tmp_path):
    app = live_app(fresh_database_url(database_url, tmp_path, "m7"), tmp_path)
    people = seed_people(app)
    with app.app_context():
        downgrade(revision="0006")
        db.session.execute(
            text(
                "INSERT INTO patrols (user_id, home_area_code, status, started_at, points_received, point_times)"
                " VALUES (:u, '330899001001001', 'open', CURRENT_TIMESTAMP, 2, :times)"
            ),
            {"u": people["member"]["id"], "times": json.dumps(TIMES)},
        )
        patrol_id = db.session.execute(text("SELECT max(id) FROM patrols")).scalar()
        db.session.execute(
            text(
                "INSERT INTO patrol_batches (patrol_id, seq, datum, content_sha256, points, received_at)"
                " VALUES (:p, 0, 'wgs84', :h, :points, CURRENT_TIMESTAMP)"
            ),
            {"p": patrol_id, "h": "0" * 64, "points": json.dumps(POINTS)},
        )
        db.session.commit()
        db.session.remove()

        upgrade()
        batch = db.session.query(PatrolBatch).filter_by(patrol_id=patrol_id).one()
        rows = unpack_points(batch.packed)
        assert batch.point_count == 2
        assert rows[0].tolist() == [float(v) for v in POINTS[0]]  # every digit of the JSON number
        assert rows[1][:3].tolist() == [float(v) for v in POINTS[1][:3]] and rows[1][3] != rows[1][3]  # NaN
        assert unpack_times(db.session.get(Patrol, patrol_id).point_times) == TIMES
        db.session.rollback()
        db.session.remove()

        downgrade(revision="0006")
        stored = db.session.execute(text("SELECT points FROM patrol_batches WHERE patrol_id = :p"), {"p": patrol_id})
        value = stored.scalar()
        assert (value if isinstance(value, list) else json.loads(value)) == POINTS
        times = db.session.execute(text("SELECT point_times FROM patrols WHERE id = :p"), {"p": patrol_id}).scalar()
        assert (times if isinstance(times, list) else json.loads(times)) == TIMES
        db.session.rollback()
        db.session.remove()
        upgrade()
