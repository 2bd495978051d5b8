"""The anonymous channel is rate-limited per client address (GRID_ANONYMOUS_TIP_RATE): 429 problem+json."""

from __future__ import annotations

import dataclasses

from sqlalchemy import func, select

from server.accounts.ratelimit import limiter
from server.extensions import db
from server.tips.models import Tip
from tests.accounts.helpers import assert_problem
from tests.tips.helpers import grid_point, payload, post_tip


def test_anonymous_tips_are_limited_per_address(app, client, demo_areas, monkeypatch):
    monkeypatch.setitem(app.config, "GRID", dataclasses.replace(app.config["GRID"], anonymous_tip_rate="3/minute"))
    limiter.reset()
    body = payload(*grid_point(demo_areas["grid"]))
    for _ in range(3):
        assert post_tip(client, {}, body, path="/api/v1/tips/anonymous").status_code == 202
    before = db.session.scalar(select(func.count(Tip.id)))
    refused = post_tip(client, {}, body, path="/api/v1/tips/anonymous")
    assert_problem(refused, 429, "too-many-requests")
    assert 0 < int(refused.headers["Retry-After"]) <= 61
    assert db.session.scalar(select(func.count(Tip.id))) == before
    other = post_tip(client, {}, body, path="/api/v1/tips/anonymous", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 202  # another address has its own budget
    limiter.reset()
