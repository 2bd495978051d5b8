"""Two people acting on one tip at once: one wins, the other gets 409, and no update is lost. On a real server with
its own database (real commits, real parallel requests), and with interleaved service calls."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from server.accounts.models import User
from server.areas.models import utcnow
from server.errors import Problem
from server.extensions import db
from server.tips.materialise import materialise
from server.tips.models import Tip, TipEvent
from server.workflow.escalation import run_escalation
from server.workflow.services import act, apply, prepare
from tests.live import serving
from tests.tips.helpers import grid_point, payload
from tests.workflow.live_db import GRID, fresh_database_url, live_app, seed_people

pytestmark = pytest.mark.db
ROUNDS = 8


@pytest.fixture(scope="module")
def live(database_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wf_live")
    app = live_app(fresh_database_url(database_url, tmp, "wf"), tmp)
    people = seed_people(app)
    with app.app_context():
        point = grid_point(GRID)
    with serving(app) as base:
        yield app, base, people, point


def call(base: str, token: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Idempotency-Key"] = str(uuid.uuid4())
    request = urllib.request.Request(base + path, data=data, headers=headers, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def new_tip(app, base, people, point) -> int:
    """File a tip through the live server, then do the worker's step: route and write it."""
    status, body = call(base, people["member"]["token"], "/api/v1/tips", payload(*point))
    assert status == 202, body
    with app.app_context():
        assert materialise(body["id"])
        db.session.commit()
    return body["id"]


def at_once(*requests) -> list[tuple[int, dict]]:
    barrier = threading.Barrier(len(requests))
    results: list = [None] * len(requests)

    def run(i, fn):
        barrier.wait()
        results[i] = fn()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def tip_state(app, tip_id) -> tuple[str, int, list[str]]:
    with app.app_context():
        tip = db.session.get(Tip, tip_id)
        actions = list(
            db.session.scalars(select(TipEvent.action).where(TipEvent.tip_id == tip_id).order_by(TipEvent.id))
        )
        return tip.status, tip.version, actions


def test_chief_and_deputy_decide_at_once_one_wins(live):
    app, base, people, point = live
    for _ in range(ROUNDS):
        tip = new_tip(app, base, people, point)
        _, seen = call(base, people["chief"]["token"], f"/api/v1/tips/{tip}")
        version = seen["version"]
        chief = {"action": "accept", "version": version}
        deputy = {"action": "return", "reason": "不属本网格", "version": version}
        results = at_once(
            lambda t=tip, b=chief: call(base, people["chief"]["token"], f"/api/v1/tips/{t}/actions", b),
            lambda t=tip, b=deputy: call(base, people["deputy"]["token"], f"/api/v1/tips/{t}/actions", b),
        )
        statuses = sorted(s for s, _ in results)
        assert statuses == [200, 409], results
        winner = next(b for s, b in results if s == 200)
        loser = next(b for s, b in results if s == 409)
        assert loser["type"] == "/problems/conflicting-update", loser
        status, stored_version, actions = tip_state(app, tip)
        assert status == winner["status"] and stored_version == version + 1
        assert actions == ["dispatch", "accept" if status == "accepted" else "return"]


def test_the_same_move_twice_at_once_happens_once(live):
    app, base, people, point = live
    for _ in range(ROUNDS):
        tip = new_tip(app, base, people, point)
        body = {"action": "accept"}  # no version: the server's own read decides
        results = at_once(
            lambda t=tip, b=body: call(base, people["chief"]["token"], f"/api/v1/tips/{t}/actions", b),
            lambda t=tip, b=body: call(base, people["deputy"]["token"], f"/api/v1/tips/{t}/actions", b),
        )
        assert sorted(s for s, _ in results) == [200, 409], results
        loser = next(b for s, b in results if s == 409)
        assert loser["type"] in ("/problems/conflicting-update", "/problems/invalid-transition")
        assert tip_state(app, tip)[1:] == (2, ["dispatch", "accept"])


def test_interleaved_service_calls_lose_no_update(live):
    """A reads the tip and plans; B commits a move; A's write finds the version changed: 409, nothing written."""
    app, base, people, point = live
    tip = new_tip(app, base, people, point)
    now = utcnow()
    with app.app_context():
        chief = db.session.get(User, people["chief"]["id"])
        plan = prepare(chief, tip, "accept", {}, now=now)
        db.session.rollback()  # A's read is over; it holds its plan (version 1) in memory
        with app.app_context():  # B: its own session and connection
            deputy = db.session.get(User, people["deputy"]["id"])
            act(deputy, tip, "return", {"reason": "不属本网格"}, now=now)
            db.session.commit()
        with pytest.raises(Problem) as refused:
            apply(plan, now=now)
        assert refused.value.slug == "conflicting-update"
        db.session.rollback()
    assert tip_state(app, tip) == ("returned", 2, ["dispatch", "return"])


def test_two_escalation_jobs_at_once_take_each_step_once(live):
    app, base, people, point = live
    tips = [new_tip(app, base, people, point) for _ in range(30)]
    later = datetime(2099, 1, 5, 2, 0, tzinfo=UTC)  # past every accept deadline
    counters = at_once(*[lambda: _escalate_in_own_context(app, later) for _ in range(2)])
    assert all(c is not None for c in counters)
    with app.app_context():
        per_tip = dict(
            db.session.execute(
                select(TipEvent.tip_id, func.count())
                .where(TipEvent.tip_id.in_(tips), TipEvent.action == "escalate")
                .group_by(TipEvent.tip_id)
            ).all()
        )
        from server.notifications.models import Notification

        told = db.session.scalar(
            select(func.count()).where(Notification.tip_id.in_(tips), Notification.kind == "escalated")
        )
    assert per_tip == {t: 1 for t in tips}
    assert told == 2 * len(tips)  # the two township officers, once each per tip


def test_a_chief_accepting_while_the_job_escalates(live):
    app, base, people, point = live
    later = datetime(2099, 1, 5, 2, 0, tzinfo=UTC)
    for _ in range(ROUNDS):
        tip = new_tip(app, base, people, point)
        accepted, counted = at_once(
            lambda t=tip: call(base, people["chief"]["token"], f"/api/v1/tips/{t}/actions", {"action": "accept"}),
            lambda: _escalate_in_own_context(app, later),
        )
        status, _, actions = tip_state(app, tip)
        if accepted[0] == 200:
            assert status == "accepted" and "escalate" not in actions
        else:
            assert accepted[0] in (403, 409) and status == "escalated" and actions.count("escalate") == 1
        assert actions.count("accept") + actions.count("escalate") == 1


def _escalate_in_own_context(app, now):
    with app.app_context():
        try:
            return run_escalation(now)
        finally:
            db.session.remove()
