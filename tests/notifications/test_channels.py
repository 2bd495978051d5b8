"""Each outside channel against a local fake receiver that checks signature and format; retries and backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from sqlalchemy import select

from server.areas.models import utcnow
from server.extensions import db
from server.notifications.delivery import backoff_seconds, deliver_pending
from server.notifications.models import NotificationChannel, OutboxDelivery
from tests.notifications.receivers import Receiver
from tests.workflow.helpers import file_tip

SECRET = "webhook-secret-0123456789abcdef"
DING_SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"


def add_channel(area_code: str, kind: str, url: str, secret: str | None = None, audience="general", user_id=None):
    channel = NotificationChannel(
        area_code=None if user_id else area_code,
        user_id=user_id,
        kind=kind,
        url=url,
        secret=secret,
        audience=audience,
        active=True,
    )
    db.session.add(channel)
    db.session.commit()
    return channel


def outbox(channel_id: int | None = None) -> list[OutboxDelivery]:
    db.session.expire_all()
    query = select(OutboxDelivery).order_by(OutboxDelivery.id)
    if channel_id is not None:
        query = query.where(OutboxDelivery.channel_id == channel_id)
    return list(db.session.scalars(query))


def test_signed_webhook_is_verified_by_the_receiver(client, headers, demo_areas):
    with Receiver("webhook", secret=SECRET) as receiver:
        channel = add_channel(demo_areas["grid"], "webhook", receiver.url, SECRET)
        tip = file_tip(client, headers["member"], demo_areas["grid"])
        [row] = outbox(channel.id)
        assert row.status == "pending" and row.kind == "dispatched"
        assert deliver_pending() == {"sent": 1}
        [request] = receiver.requests
        assert request["verdict"] == "ok", request["verdict"]
        body = request["json"]
        assert body["delivery_id"] == row.id and request["headers"]["X-Grid-Delivery"] == str(row.id)
        assert body["kind"] == "dispatched" and body["tip_id"] == tip and body["category_zh"] == "赌博"
        assert body["grid"]["code"] == demo_areas["grid"] and body["deadline"]
        [row] = outbox(channel.id)
        assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None
        assert deliver_pending() == {}  # nothing twice


def test_a_tampered_or_stale_webhook_is_rejected(client, headers, demo_areas):
    with Receiver("webhook", secret=SECRET) as receiver:
        add_channel(demo_areas["grid"], "webhook", receiver.url, SECRET)
        file_tip(client, headers["member"], demo_areas["grid"])
        deliver_pending()
        good = receiver.requests[0]

        def replay(body: bytes, stamp: str, signature: str) -> int:
            sent = {"Content-Type": "application/json", "X-Grid-Delivery": good["headers"]["X-Grid-Delivery"]}
            sent |= {"X-Grid-Timestamp": stamp, "X-Grid-Signature": signature}
            request = urllib.request.Request(receiver.url, data=body, headers=sent, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code

        stamp, signature = good["headers"]["X-Grid-Timestamp"], good["headers"]["X-Grid-Signature"]
        tampered = good["body"].replace(b'"dispatched"', b'"closed"')
        assert tampered != good["body"]
        assert replay(tampered, stamp, signature) == 401
        old = str(int(time.time()) - 600)
        resigned = hmac.new(SECRET.encode(), old.encode() + b"." + good["body"], hashlib.sha256).hexdigest()
        assert replay(good["body"], old, resigned) == 401
        assert [r["verdict"] for r in receiver.requests] == ["ok", "bad signature", "stale"]
        assert receiver.effects == {good["headers"]["X-Grid-Delivery"]: 1}


def test_a_webhook_signed_with_the_wrong_secret_is_refused_and_retried(client, headers, demo_areas):
    with Receiver("webhook", secret=SECRET) as receiver:
        channel = add_channel(demo_areas["grid"], "webhook", receiver.url, "not-the-receivers-secret")
        file_tip(client, headers["member"], demo_areas["grid"])
        before = utcnow()
        assert deliver_pending() == {"retry": 1}
        [row] = outbox(channel.id)
        assert receiver.requests[0]["verdict"] == "bad signature"
        assert row.status == "pending" and row.attempts == 1 and row.last_error == "HTTP 401"
        assert 24 <= (row.next_attempt_at - before).total_seconds() <= 37  # 30 s +- 20 %


def test_dingtalk_robot_sign_and_format(client, headers, demo_areas):
    with Receiver("dingtalk", secret=DING_SECRET) as receiver:
        channel = add_channel(demo_areas["grid"], "dingtalk", receiver.url, DING_SECRET)
        file_tip(client, headers["member"], demo_areas["grid"])
        assert deliver_pending() == {"sent": 1}
        [request] = receiver.requests
        assert request["verdict"] == "ok", request["verdict"]
        markdown = request["json"]["markdown"]
        assert markdown["title"] == "【新线索待受理】赌博"
        assert "赌博" in markdown["text"] and demo_areas["grid"] in markdown["text"] and "受理时限" in markdown["text"]
        assert outbox(channel.id)[0].status == "sent"


def test_wecom_robot_format(client, headers, demo_areas):
    with Receiver("wecom", key="wecom-key-1") as receiver:
        add_channel(demo_areas["grid"], "wecom", receiver.url)
        file_tip(client, headers["member"], demo_areas["grid"])
        assert deliver_pending() == {"sent": 1}
        [request] = receiver.requests
        assert request["verdict"] == "ok", request["verdict"]
        assert request["json"]["markdown"]["content"].startswith("#### 【新线索待受理】赌博")


def test_a_robot_answering_errcode_is_retried_with_backoff(client, headers, demo_areas):
    with Receiver("dingtalk", secret=DING_SECRET, fail_first=1) as receiver:
        channel = add_channel(demo_areas["grid"], "dingtalk", receiver.url, DING_SECRET)
        file_tip(client, headers["member"], demo_areas["grid"])
        assert deliver_pending() == {"retry": 1}
        [row] = outbox(channel.id)
        assert row.status == "pending" and "errcode=45009" in row.last_error
        assert deliver_pending() == {}  # not due yet: it waits for its backoff
        later = row.next_attempt_at + timedelta(seconds=1)
        assert deliver_pending(clock=lambda: later) == {"sent": 1}
        assert len(receiver.requests) == 2 and outbox(channel.id)[0].attempts == 2


def test_a_channel_that_never_accepts_ends_dead(app, client, headers, demo_areas, monkeypatch):
    settings = app.config["GRID"]
    monkeypatch.setitem(app.config, "GRID", type(settings)(**{**settings.__dict__, "notify_max_attempts": 2}))
    with Receiver("wecom", key="right-key") as receiver:
        channel = add_channel(demo_areas["grid"], "wecom", receiver.url.replace("right-key", "wrong-key"))
        file_tip(client, headers["member"], demo_areas["grid"])
        assert deliver_pending() == {"retry": 1}
        later = utcnow() + timedelta(hours=1)
        assert deliver_pending(clock=lambda: later) == {"dead": 1}
        assert outbox(channel.id)[0].status == "dead" and "errcode=310000" in outbox(channel.id)[0].last_error
        assert deliver_pending(clock=lambda: later + timedelta(days=1)) == {}


def test_no_answer_is_a_failure_too(client, headers, demo_areas):
    channel = add_channel(demo_areas["grid"], "webhook", "http://127.0.0.1:9/nothing-listens-here", SECRET)
    file_tip(client, headers["member"], demo_areas["grid"])
    assert deliver_pending() == {"retry": 1}
    assert outbox(channel.id)[0].last_error.startswith("no answer")


def test_backoff_doubles_up_to_its_cap(app):
    settings = app.config["GRID"]
    waits = [backoff_seconds(n, 7, settings) for n in range(1, 10)]
    factor = waits[0] / 30
    assert 0.8 <= factor <= 1.2
    assert waits[:4] == pytest.approx([30 * factor, 60 * factor, 120 * factor, 240 * factor])
    assert waits[-1] == pytest.approx(3600 * factor)


def test_a_removed_channel_gets_nothing_more(client, headers, demo_areas):
    with Receiver("wecom", key="k") as receiver:
        channel = add_channel(demo_areas["grid"], "wecom", receiver.url.replace("KEY-123", "k"))
        file_tip(client, headers["member"], demo_areas["grid"])
        channel.active = False
        db.session.commit()
        assert deliver_pending() == {}
        assert outbox(channel.id)[0].status == "dead" and receiver.requests == []
        file_tip(client, headers["member"], demo_areas["grid"])
        assert len(outbox(channel.id)) == 1  # no new rows for an inactive channel


def test_webhook_body_is_exactly_what_was_signed(client, headers, demo_areas):
    with Receiver("webhook", secret=SECRET) as receiver:
        add_channel(demo_areas["grid"], "webhook", receiver.url, SECRET)
        file_tip(client, headers["member"], demo_areas["grid"])
        deliver_pending()
        body = receiver.requests[0]["body"]
        assert json.loads(body)["kind"] == "dispatched" and "\\u" not in body.decode()  # UTF-8, not escaped


def test_logs_never_hold_a_secret_a_robot_token_or_the_content(client, headers, demo_areas, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    with Receiver("dingtalk", secret=DING_SECRET, token="TOKEN-in-the-url-77", fail_first=1) as receiver:
        add_channel(demo_areas["grid"], "dingtalk", receiver.url, DING_SECRET)
        file_tip(client, headers["member"], demo_areas["grid"])
        deliver_pending()
        later = utcnow() + timedelta(hours=1)
        deliver_pending(clock=lambda: later)
    assert "delivery" in caplog.text  # something was logged, so the check below is not vacuous
    for secret in (DING_SECRET, "TOKEN-in-the-url-77", "sign=", "赌博", "受理时限"):
        assert secret not in caplog.text
