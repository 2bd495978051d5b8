"""The worker: killed mid-delivery it loses nothing and the receiver acts once; SIGTERM stops it cleanly; the
in-process thread delivers; when the in-process worker starts and when it must not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from sqlalchemy import select, update

from server.extensions import db
from server.notifications.models import NotificationChannel, OutboxDelivery
from server.worker import Worker, should_start_inprocess, start_inprocess_worker
from tests.notifications.receivers import Receiver
from tests.workflow.live_db import GRID, fresh_database_url, live_app, seed_people

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]
SECRET = "kill-test-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def live(database_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ntf_live")
    url = fresh_database_url(database_url, tmp, "ntf")
    app = live_app(url, tmp, notify_lease_seconds=2.0, notify_timeout_seconds=1.0)
    people = seed_people(app)
    return app, url, people, tmp


def start_worker(url: str, tmp) -> subprocess.Popen:
    env = os.environ | {
        "GRID_DATABASE_URL": url,
        "GRID_ENV": "test",
        "GRID_INDEX_CHECK_SECONDS": "0",
        "GRID_PHOTO_DIR": str(tmp / "photos"),
        "GRID_NOTIFY_LEASE_SECONDS": "2",
        "GRID_NOTIFY_TIMEOUT_SECONDS": "1",
        "GRID_WORKER_POLL_SECONDS": "0.1",
    }
    command = [sys.executable, "-m", "flask", "--app", "server", "worker", "--no-escalation"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def file_tip(app, people, *, follow_up=False) -> int:
    """File a tip; the worker under test follows it up (notifies the queue), unless follow_up=True does it here."""
    from server.tips.followups import run_followups
    from tests.tips.helpers import grid_point, payload, post_tip

    client = app.test_client()
    with app.app_context():
        body = payload(*grid_point(GRID))
    response = post_tip(client, {"Authorization": f"Bearer {people['member']['token']}"}, body, follow_up=False)
    assert response.status_code == 202, response.get_json()
    if follow_up:
        with app.app_context():
            assert run_followups() == 1
            db.session.commit()
    return response.get_json()["id"]


def delivery(app, channel_id) -> OutboxDelivery | None:
    """The channel's delivery (None until the worker has followed the tip up)."""
    with app.app_context():
        row = db.session.scalar(select(OutboxDelivery).where(OutboxDelivery.channel_id == channel_id))
        if row is not None:
            db.session.expunge(row)
        return row


def sent(app, channel_id) -> bool:
    row = delivery(app, channel_id)
    return row is not None and row.status == "sent"


def wait_for(predicate, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def add_channel(app, url: str) -> int:
    """The only active channel of the live database (earlier tests' receivers are gone)."""
    with app.app_context():
        db.session.execute(update(NotificationChannel).values(active=False))
        channel = NotificationChannel(area_code=GRID, kind="webhook", url=url, secret=SECRET, audience="general")
        channel.active = True
        db.session.add(channel)
        db.session.commit()
        return channel.id


def test_a_worker_killed_after_the_receiver_got_it_loses_nothing_and_the_effect_is_once(live):
    app, url, people, tmp = live
    with Receiver("webhook", secret=SECRET) as receiver:
        channel = add_channel(app, receiver.url)
        worker = start_worker(url, tmp)
        killed = []

        def kill_on_first(record):
            if not killed:  # the receiver has the request; the worker has not recorded anything yet
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
                killed.append(record["headers"]["X-Grid-Delivery"])

        receiver.on_request = kill_on_first
        try:
            file_tip(app, people)
            assert wait_for(lambda: killed), worker.stdout.read() if worker.poll() is not None else "no request came"
        finally:
            if worker.poll() is None:  # a failed test must not leave a worker running
                worker.kill()
                worker.wait(timeout=10)
        assert worker.returncode == -signal.SIGKILL
        row = delivery(app, channel)
        assert row.status == "sending" and row.attempts == 1  # claimed, delivered, never recorded

        restarted = start_worker(url, tmp)
        try:
            assert wait_for(lambda: sent(app, channel)), "not redelivered after the lease"
            time.sleep(1.0)  # a chance to (wrongly) send it again
        finally:
            restarted.send_signal(signal.SIGTERM)
            output, _ = restarted.communicate(timeout=15)
        assert restarted.returncode == 0, output
        assert "worker stopped" in output
    row = delivery(app, channel)
    ident = str(row.id)
    assert killed == [ident] and row.attempts == 2
    assert receiver.raw_ids[ident] == 2  # at least once: the receiver saw it twice ...
    assert receiver.effects == {ident: 1}  # ... and acted once, deduplicating on the delivery id
    assert all(r["verdict"] == "ok" for r in receiver.requests)


def test_the_in_process_worker_thread_delivers(live):
    app, url, people, tmp = live
    with Receiver("webhook", secret=SECRET) as receiver:
        channel = add_channel(app, receiver.url)
        thread = start_inprocess_worker(app)
        try:
            file_tip(app, people)
            assert wait_for(lambda: sent(app, channel), 15)
        finally:
            thread.worker.stop.set()
            thread.join(timeout=10)
        assert not thread.is_alive()
    assert len(receiver.requests) == 1


def test_one_worker_tick_delivers_and_escalates(live):
    app, url, people, tmp = live
    with Receiver("webhook", secret=SECRET) as receiver:
        channel = add_channel(app, receiver.url)
        file_tip(app, people)
        assert Worker(app).tick() is True
        assert delivery(app, channel).status == "sent" and len(receiver.requests) == 1


def test_when_the_in_process_worker_starts(app):
    base = app.config["GRID"]

    def settings(**changes):
        return type(base)(**{**base.__dict__, **changes})

    assert not should_start_inprocess(settings(inprocess_worker=False, env="development"))
    assert not should_start_inprocess(settings(inprocess_worker=True, env="test"))
    assert should_start_inprocess(settings(inprocess_worker=True, env="development"))  # a WSGI server
    for command, params, expected in [
        ("run", {"reload": False}, True),
        ("upgrade", {}, False),
        ("worker", {}, False),
        ("run", {"reload": True}, False),  # the reloader's parent: only the child serves
    ]:
        ctx = click.Context(click.Command(command), info_name=command)
        ctx.params = params
        with ctx:
            assert should_start_inprocess(settings(inprocess_worker=True, env="development")) is expected, command


def test_two_workers_claiming_at_once_never_share_a_delivery(live):
    """SKIP LOCKED on PostgreSQL, a serialised write transaction and a lease on SQLite: disjoint claims."""
    import threading

    from server.areas.models import utcnow
    from server.notifications.delivery import claim

    app, url, people, tmp = live
    channel = add_channel(app, "http://127.0.0.1:9/never-called")
    for _ in range(6):
        file_tip(app, people, follow_up=True)
    with app.app_context():
        pending = set(
            db.session.scalars(
                select(OutboxDelivery.id).where(
                    OutboxDelivery.channel_id == channel, OutboxDelivery.status == "pending"
                )
            )
        )
    assert len(pending) == 6
    barrier = threading.Barrier(2)
    got: list[list[int]] = [[], []]

    def worker(i):
        with app.app_context():
            barrier.wait()
            for _ in range(4):
                got[i] += [c.id for c in claim(utcnow(), 2, 60.0)]
            db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not set(got[0]) & set(got[1])
    assert pending <= set(got[0]) | set(got[1])
    with app.app_context():
        leased = db.session.scalars(select(OutboxDelivery.status).where(OutboxDelivery.id.in_(pending)))
        assert set(leased) == {"sending"}
