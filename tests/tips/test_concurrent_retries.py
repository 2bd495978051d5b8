"""50 phones' worth of identical retries at the same moment create exactly one tip."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from datetime import date

import pytest
from sqlalchemy import func, select

from server.accounts.assignments import assign_grid
from server.accounts.models import User
from server.accounts.tokens import issue_pair
from server.extensions import db
from server.tips.materialise import materialise_waiting
from server.tips.models import Tip, TipIntake
from tests.live import fresh_database_url, live_app, serving
from tests.tips.helpers import grid_point, payload

pytestmark = pytest.mark.db
PARALLEL = 50


@pytest.fixture(
    scope="module",
    params=[3600.0, 0.0],
    ids=["own transaction (grid index cached)", "joins the request's transaction (grid index re-checked)"],
)
def live(request, database_url, tmp_path_factory):
    """A threaded server. With the grid index cached (as in production) JSON intake runs in a transaction of its
    own; re-checking the index on every request opens the request's session first, and intake joins it."""
    tmp = tmp_path_factory.mktemp("live")
    suffix = f"live{int(request.param)}"
    app = live_app(
        fresh_database_url(database_url, tmp, suffix), str(tmp / "photos"), index_check_seconds=request.param
    )
    with app.app_context():
        grid = "330899001001001"
        member = User(phone="13700000001", name="并发测试", home_area_code=grid, active=True, token_version=1)
        member.set_roles(["member"])
        chief = User(phone="13700000002", name="网格长", home_area_code=grid[:12], active=True, token_version=1)
        chief.set_roles(["grid_chief"])
        db.session.add_all([member, chief])
        db.session.flush()
        assign_grid(chief, grid, "chief", date.today())
        token = issue_pair(member)["access_token"]
        body = payload(*grid_point(grid))
        db.session.commit()
    with serving(app) as base:
        yield app, base, token, body


def _post(url: str, headers: dict, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_fifty_parallel_identical_retries_create_one_tip(live):
    app, base, token, body = live
    headers = {
        "Authorization": f"Bearer {token}",
        "Idempotency-Key": str(uuid.uuid4()),
        "Content-Type": "application/json",
    }
    start = threading.Barrier(PARALLEL)
    results: list[tuple[int, dict]] = []

    def one():
        start.wait()
        results.append(_post(f"{base}/api/v1/tips", headers, body))

    threads = [threading.Thread(target=one) for _ in range(PARALLEL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    statuses = sorted(status for status, _ in results)
    assert len(results) == PARALLEL
    assert set(statuses) <= {202, 409}, statuses
    created = {b["id"] for s, b in results if s == 202}
    assert len(created) == 1, created
    assert all(b["type"] == "/problems/request-in-progress" for s, b in results if s == 409)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TipIntake)) == 1  # accepted once
        assert materialise_waiting() == 1
        db.session.commit()
        assert db.session.scalar(select(func.count(Tip.id))) == 1  # and written once
    status, replay = _post(f"{base}/api/v1/tips", headers, body)
    assert status == 202 and replay["id"] in created
