"""Migration 0005 goes down and up again on both backends, and gives tips filed before it their deadlines."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text

from server.extensions import db
from server.tips.models import Tip
from tests.tips.helpers import grid_point, payload, post_tip
from tests.workflow.live_db import GRID, fresh_database_url, live_app, seed_people

pytestmark = pytest.mark.db


def test_down_to_0004_and_up_again_backfills_open_tips(database_url, tmp_path):
    app = live_app(fresh_database_url(database_url, tmp_path, "mig"), tmp_path)
    people = seed_people(app)
    with app.app_context():
        body = payload(*grid_point(GRID))
    headers = {"Authorization": f"Bearer {people['member']['token']}"}
    response = post_tip(app.test_client(), headers, body, follow_up=False)  # the worker has not run: a waiting row
    tip_id = response.get_json()["id"]
    with app.app_context():
        downgrade(revision="0004")
        columns = {c["name"] for c in inspect(db.engine).get_columns("tips")}
        assert "accept_due_at" not in columns and "notifications" not in inspect(db.engine).get_table_names()
        db.session.remove()
        upgrade(revision="0005")
        assert db.session.execute(text("SELECT count(*) FROM tips")).scalar() == 1
        tip = db.session.scalar(select(Tip).where(Tip.id == tip_id))
        assert tip.accept_due_at is not None and tip.resolve_due_at is not None and tip.next_check_at is not None
        assert tip.clock_started_at is not None and tip.escalation_level == 0
        db.session.rollback()  # SQLite: end this (write) transaction before inspecting on another connection
        indexes = {i["name"] for i in inspect(db.engine).get_indexes("tips")}
        assert {"ix_tips_next_check", "ix_tips_submitted_at"} <= indexes
