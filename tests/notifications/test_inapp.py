"""The in-app channel: my notifications (paged, unread filter), marking read, the SSE stream; and the channel CLI."""

from __future__ import annotations

import json
import threading
import urllib.request
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.areas.models import utcnow
from server.extensions import db
from server.notifications.models import NotificationChannel, StreamTicket
from tests.areas.helpers import assert_problem
from tests.live import serving
from tests.workflow.helpers import file_tip
from tests.workflow.live_db import GRID, fresh_database_url, live_app, seed_people


def test_my_notifications_paged_with_an_unread_filter(client, cast, headers, demo_areas):
    tips = [file_tip(client, headers["member"], demo_areas["grid"]) for _ in range(3)]
    page = client.get("/api/v1/notifications?limit=2", headers=headers["chief"]).get_json()
    assert page["total"] == 3 and page["unread"] == 3 and len(page["items"]) == 2
    assert [n["tip_id"] for n in page["items"]] == [tips[2], tips[1]]  # newest first
    first = page["items"][0]
    assert first["kind"] == "dispatched" and first["title"] == "【新线索待受理】赌博" and first["read_at"] is None
    assert first["created_at"].endswith(":00+00:00")  # to the minute, like every time handlers see
    read = client.post(f"/api/v1/notifications/{first['id']}/read", headers=headers["chief"]).get_json()
    assert read["read_at"] is not None
    again = client.post(f"/api/v1/notifications/{first['id']}/read", headers=headers["chief"]).get_json()
    assert again["read_at"] == read["read_at"]
    unread = client.get("/api/v1/notifications?unread=true", headers=headers["chief"]).get_json()
    assert unread["total"] == 2 and first["id"] not in [n["id"] for n in unread["items"]]
    done = client.get("/api/v1/notifications?unread=false", headers=headers["chief"]).get_json()
    assert [n["id"] for n in done["items"]] == [first["id"]]
    # someone else's notification answers like a missing one
    missing = client.post("/api/v1/notifications/999999/read", headers=headers["deputy"])
    assert_problem(
        client.post(f"/api/v1/notifications/{first['id']}/read", headers=headers["deputy"]), 404, "not-found"
    )
    assert missing.status_code == 404
    assert client.get("/api/v1/notifications", headers=headers["member"]).get_json()["total"] == 0
    assert client.get("/api/v1/notifications").status_code == 401


def test_the_stream_replays_from_an_id_and_ends_when_asked(client, headers, demo_areas):
    file_tip(client, headers["member"], demo_areas["grid"])
    file_tip(client, headers["member"], demo_areas["grid"])
    response = client.get("/api/v1/notifications/stream?after=0&max_seconds=0.3", headers=headers["chief"])
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    events = _parse(response.get_data(as_text=True))
    kinds = [e["event"] for e in events]
    assert kinds == ["notification", "notification", "end"]
    assert json.loads(events[0]["data"])["kind"] == "dispatched" and events[0]["id"] < events[1]["id"]
    later = client.get(
        "/api/v1/notifications/stream?max_seconds=0.2", headers=headers["chief"] | {"Last-Event-ID": events[0]["id"]}
    )
    assert [e.get("id") for e in _parse(later.get_data(as_text=True))][:1] == [events[1]["id"]]
    fresh = client.get("/api/v1/notifications/stream?max_seconds=0.2", headers=headers["chief"])
    assert [e["event"] for e in _parse(fresh.get_data(as_text=True))] == ["end"]  # from now on
    bad = client.get("/api/v1/notifications/stream?max_seconds=0.2", headers=headers["chief"] | {"Last-Event-ID": "x"})
    assert_problem(bad, 400, "bad-last-event-id")


def test_a_browser_opens_the_stream_with_a_one_time_ticket(client, headers, demo_areas):
    """EventSource sends no Authorization header: a ticket (asked for with the token) opens the stream once."""
    file_tip(client, headers["member"], demo_areas["grid"])
    assert_problem(client.post("/api/v1/notifications/stream-ticket"), 401, "token-missing")
    issued = client.post("/api/v1/notifications/stream-ticket", headers=headers["chief"])
    assert issued.status_code == 201, issued.get_json()
    body = issued.get_json()
    assert body["expires_in"] == 30 and body["stream_url"].endswith(f"?ticket={body['ticket']}")
    opened = client.get(f"{body['stream_url']}&after=0&max_seconds=0.2")  # no Authorization header
    assert opened.status_code == 200 and opened.mimetype == "text/event-stream"
    events = _parse(opened.get_data(as_text=True))
    assert [e["event"] for e in events] == ["notification", "end"]  # the chief's own, as with the token
    assert json.loads(events[0]["data"])["kind"] == "dispatched"
    again = client.get(f"{body['stream_url']}&max_seconds=0.2")
    assert_problem(again, 401, "ticket-invalid")  # once only
    assert again.headers["WWW-Authenticate"] == 'Bearer realm="grid"'
    assert_problem(client.get("/api/v1/notifications/stream?ticket=made-up&max_seconds=0.2"), 401, "ticket-invalid")
    assert client.get("/api/v1/notifications/stream?max_seconds=0.2").status_code == 401  # neither: as before
    assert db.session.scalar(select(func.count()).select_from(StreamTicket)) == 0  # a used ticket is gone


def test_a_stream_ticket_expires_and_dies_with_its_account(app, client, headers, cast, demo_areas, monkeypatch):
    from server.notifications import tickets

    expired = client.post("/api/v1/notifications/stream-ticket", headers=headers["chief"]).get_json()
    monkeypatch.setattr(tickets, "utcnow", lambda: utcnow() + timedelta(seconds=tickets.TICKET_SECONDS + 1))
    assert_problem(client.get(f"{expired['stream_url']}&max_seconds=0.2"), 401, "ticket-invalid")
    monkeypatch.undo()
    valid = client.post("/api/v1/notifications/stream-ticket", headers=headers["chief"]).get_json()
    cast["chief"].active = False
    db.session.commit()
    assert_problem(client.get(f"{valid['stream_url']}&max_seconds=0.2"), 401, "ticket-invalid")


@pytest.mark.db
def test_an_open_stream_receives_a_new_notification(database_url, tmp_path):
    """A real server: the chief's app holds the stream open; a tip filed meanwhile arrives as an event."""
    app = live_app(fresh_database_url(database_url, tmp_path, "sse"), tmp_path, sse_poll_seconds=0.1)
    people = seed_people(app)
    with app.app_context():
        from tests.tips.helpers import grid_point, payload

        body = payload(*grid_point(GRID))
    with serving(app) as base:
        request = urllib.request.Request(
            f"{base}/api/v1/notifications/stream?max_seconds=20",
            headers={"Authorization": f"Bearer {people['chief']['token']}"},
        )
        with urllib.request.urlopen(request, timeout=30) as stream:
            assert stream.headers["Content-Type"].startswith("text/event-stream")
            assert stream.readline() == b"retry: 3000\n"
            filed = threading.Thread(target=_file_tip, args=(app, base, people["member"]["token"], body))
            filed.start()
            lines = []
            while not lines or lines[-1] != b"\n" or not any(line.startswith(b"data:") for line in lines):
                lines.append(stream.readline())
            filed.join(timeout=30)
    event = _parse(b"".join(lines).decode())[-1]
    assert event["event"] == "notification"
    data = json.loads(event["data"])
    assert data["kind"] == "dispatched" and data["data"]["grid"]["code"] == GRID


def test_channels_cli(app, cast, demo_areas):
    runner = app.test_cli_runner()
    secret = "cli-secret-abcdefghijklmnopqrstuvwxyz"
    url = "https://oapi.dingtalk.com/robot/send?access_token=tok-SECRET-123"
    added = runner.invoke(
        args=[
            "notifications",
            "add-channel",
            "--area",
            demo_areas["township"],
            "--kind",
            "dingtalk",
            "--url",
            url,
            "--audience",
            "discipline",
            "--secret-stdin",
            "--label",
            "乡镇纪委群",
        ],
        input=secret + "\n",
    )
    assert added.exit_code == 0, added.output
    assert "tok-SECRET-123" not in added.output and secret not in added.output
    channel = db.session.scalar(select(NotificationChannel).order_by(NotificationChannel.id.desc()))
    assert channel.secret == secret and channel.audience == "discipline" and channel.area_code == demo_areas["township"]
    listed = runner.invoke(args=["notifications", "list-channels"])
    assert "oapi.dingtalk.com/robot/send?…" in listed.output
    assert "tok-SECRET-123" not in listed.output and secret not in listed.output and "signed" in listed.output
    wrong = runner.invoke(
        args=["notifications", "add-channel", "--area", "999", "--kind", "wecom", "--url", url, "--no-secret"]
    )
    assert wrong.exit_code != 0 and "not an area" in wrong.output
    ftp = runner.invoke(
        args=[
            "notifications",
            "add-channel",
            "--area",
            demo_areas["grid"],
            "--kind",
            "wecom",
            "--url",
            "ftp://example.com/x",
            "--no-secret",
        ]
    )
    assert ftp.exit_code != 0
    unsigned = runner.invoke(
        args=[
            "notifications",
            "add-channel",
            "--user",
            str(cast["chief"].id),
            "--kind",
            "webhook",
            "--url",
            "https://hooks.example.com/grid",
            "--no-secret",
        ]
    )
    assert unsigned.exit_code != 0 and "secret" in unsigned.output
    removed = runner.invoke(args=["notifications", "remove-channel", str(channel.id)])
    assert removed.exit_code == 0 and db.session.get(NotificationChannel, channel.id).active is False
    status = runner.invoke(args=["notifications", "status"])
    assert status.exit_code == 0 and "pending" in status.output


def _file_tip(app, base: str, token: str, body: dict) -> None:
    """File a tip over HTTP, then let one worker round follow it up (it notifies the chief's queue)."""
    import time
    import uuid

    from server.worker import Worker

    time.sleep(0.3)  # the stream is open and polling
    request = urllib.request.Request(
        f"{base}/api/v1/tips",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": str(uuid.uuid4()),
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
    assert Worker(app, escalate=False).tick() is True


def _parse(text: str) -> list[dict]:
    events = []
    for block in text.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            if line.startswith(":") or ":" not in line:
                continue
            name, _, value = line.partition(":")
            fields[name] = value.lstrip(" ")
        if "event" in fields:
            events.append(fields)
    return events
