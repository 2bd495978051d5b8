"""Who is told, through which channel, and what they are told: the outbox is written with the change or not at all,
no notification carries the reporter or the tip's text, and a conflict tip never reaches anyone it was routed
around."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from server.extensions import db
from server.notifications.delivery import deliver_pending
from server.notifications.models import Notification, OutboxDelivery
from server.tips.models import TipReporter
from tests.notifications.receivers import Receiver
from tests.notifications.test_channels import SECRET, add_channel
from tests.tips.helpers import PLANTED_TEXT, grid_point, payload, post_tip
from tests.workflow.helpers import act, file_tip


def told(user) -> list[str]:
    query = select(Notification.kind).where(Notification.user_id == user.id).order_by(Notification.id)
    return list(db.session.scalars(query))


def counts() -> tuple[int, int]:
    db.session.expire_all()
    return (
        db.session.scalar(select(func.count(Notification.id))),
        db.session.scalar(select(func.count(OutboxDelivery.id))),
    )


def test_the_people_who_must_act_are_told_and_nobody_else(client, cast, headers, demo_areas):
    tip = file_tip(client, headers["member"], demo_areas["grid"])
    assert told(cast["chief"]) == ["dispatched"] and told(cast["deputy"]) == ["dispatched"]
    for nobody in ("member", "other_chief", "township", "other_township", "county", "custodian"):
        assert told(cast[nobody]) == [], nobody
    act(client, headers["chief"], tip, "accept")
    act(client, headers["chief"], tip, "start")
    act(client, headers["chief"], tip, "resolve", result="已处理")
    assert told(cast["township"]) == ["resolved"] and told(cast["township2"]) == ["resolved"]  # to verify it
    act(client, headers["township"], tip, "close")
    assert told(cast["chief"])[-1] == "closed" and told(cast["township"]) == ["resolved"]  # not told of own move
    assert told(cast["other_township"]) == []


def test_notifications_are_written_with_the_change_or_not_at_all(client, headers, demo_areas):
    add_channel(demo_areas["grid"], "webhook", "http://127.0.0.1:9/x", SECRET)
    before = counts()
    tip = file_tip(client, headers["member"], demo_areas["grid"])
    after_intake = counts()
    assert after_intake == (before[0] + 2, before[1] + 1)  # chief + deputy in-app, one delivery
    assert act(client, headers["chief"], tip, "close").status_code == 409
    assert act(client, headers["township"], tip, "dismiss").status_code == 422
    bad = post_tip(client, headers["member"], payload(*grid_point(demo_areas["grid"]), category="nope"))
    assert bad.status_code == 422
    assert counts() == after_intake
    assert act(client, headers["chief"], tip, "return", reason="不属本网格").status_code == 200
    assert counts()[0] > after_intake[0]


def test_no_notification_carries_the_reporter_or_the_tip_text(client, cast, headers, demo_areas):
    reporter = cast["member"]
    secrets = [reporter.name, reporter.phone, "d3v1c3h4sh", PLANTED_TEXT, "赌场", "仓库"]
    with (
        Receiver("webhook", secret=SECRET) as hook,
        Receiver("dingtalk", secret=SECRET) as ding,
        Receiver("wecom") as wecom,
    ):
        add_channel(demo_areas["grid"], "webhook", hook.url, SECRET)
        add_channel(demo_areas["grid"], "dingtalk", ding.url, SECRET)
        add_channel(demo_areas["township"], "wecom", wecom.url)
        tip = file_tip(client, headers["member"], demo_areas["grid"])
        anonymous = post_tip(client, {}, payload(*grid_point(demo_areas["grid"])), path="/api/v1/tips/anonymous")
        assert anonymous.status_code == 202
        act(client, headers["chief"], tip, "accept", note="联系了举报人")
        act(client, headers["chief"], tip, "escalate", reason="赌场规模大")
        act(client, headers["township"], tip, "accept")
        deliver_pending()
        received = [r["body"].decode() for r in hook.requests + ding.requests + wecom.requests]
        assert len(received) >= 5 and all(r["verdict"] == "ok" for r in hook.requests + ding.requests + wecom.requests)
    stored = [json.dumps(p, ensure_ascii=False) for p in db.session.scalars(select(OutboxDelivery.payload))]
    inbox = [
        f"{n.title}{n.body}{json.dumps(n.data, ensure_ascii=False)}" for n in db.session.scalars(select(Notification))
    ]
    listed = [
        client.get("/api/v1/notifications", headers=headers[w]).get_data(as_text=True) for w in ("chief", "township")
    ]
    texts = received + stored + inbox + listed
    assert db.session.scalar(select(TipReporter.device_hash).where(TipReporter.tip_id == tip)).startswith("d3v1c3h4sh")
    for text in texts:
        for secret in secrets:
            assert secret not in text, (secret, text)
        assert "member" not in text and "举报人" not in text  # not even the reporter's role
    assert any("赌博" in t for t in received) and any(demo_areas["grid"] in t for t in received)


def test_a_conflict_tip_notifies_no_excluded_person(client, cast, headers, make_user, demo_areas):
    g = demo_areas
    chief_channel = add_channel(None, "webhook", "http://127.0.0.1:9/chief", SECRET, user_id=cast["chief"].id)
    grid_group = add_channel(g["grid"], "dingtalk", "http://127.0.0.1:9/grid", SECRET)
    village_group = add_channel(g["township"], "wecom", "http://127.0.0.1:9/township-general")
    discipline = add_channel(g["township"], "webhook", "http://127.0.0.1:9/township-jw", SECRET, audience="discipline")
    county_discipline = add_channel(g["county"], "webhook", "http://127.0.0.1:9/county-jw", SECRET, "discipline")
    # a township officer who is also a deputy of that grid: excluded, though township staff otherwise see it
    both = make_user(
        "township_staff", g["township"], roles=["township_staff", "grid_chief"], grids=[g["grid"]], kind="deputy"
    )
    tip = file_tip(client, headers["member"], g["grid"], implicates_official=True)
    act(client, headers["township"], tip, "escalate", reason="涉及村干部")
    act(client, headers["county"], tip, "transfer", grid_code=g["sibling_grid"])
    for excluded in (cast["chief"], cast["deputy"], both, cast["other_chief"]):
        assert told(excluded) == [], excluded
    assert told(cast["township2"]) == ["dispatched", "transferred"]
    assert told(cast["custodian"]) == ["dispatched", "escalated", "transferred"]
    by_channel = dict(
        db.session.execute(select(OutboxDelivery.channel_id, func.count()).group_by(OutboxDelivery.channel_id)).all()
    )
    assert by_channel.get(chief_channel.id) is None and by_channel.get(grid_group.id) is None
    assert by_channel.get(village_group.id) is None
    assert by_channel[discipline.id] == 2  # dispatched to the township's discipline queue; transferred back to it
    assert by_channel[county_discipline.id] == 1  # escalated
