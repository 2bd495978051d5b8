"""The chief may be the gang's protector; the reporter must stay unknown to whoever should not know."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from server.audit.models import AuditEvent
from server.extensions import db
from tests.areas.helpers import assert_problem
from tests.tips.helpers import PLANTED_TEXT, grid_point, jpeg_bytes, payload, post_tip


@pytest.fixture
def cast(make_user, demo_areas):
    g = demo_areas
    return {
        "member": make_user("member", g["grid"], name="举报人甲", phone="13912345678"),
        "chief": make_user("grid_chief", g["village"], grids=[g["grid"]]),
        "deputy": make_user("grid_chief", g["village"], grids=[g["grid"]], kind="deputy"),
        "other_chief": make_user("grid_chief", g["village"], grids=[g["sibling_grid"]]),
        "township": make_user("township_staff", g["township"]),
        "other_township": make_user("township_staff", g["other_township"]),
        "county": make_user("county_staff", g["county"]),
        "custodian": make_user("custodian", g["county"]),
    }


def _conflict_tip(client, cast, auth_headers, demo_areas, **extra):
    body = payload(*grid_point(demo_areas["grid"]), implicates_official=True, **extra)
    response = post_tip(client, auth_headers(cast["member"]), body, photos=[("a.jpg", jpeg_bytes())])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_conflict_tip_is_absent_from_every_endpoint_the_chief_can_call(client, cast, auth_headers, demo_areas):
    tip = _conflict_tip(client, cast, auth_headers, demo_areas)
    photo = tip["photos"][0]
    for who in ("chief", "deputy"):
        h = auth_headers(cast[who])
        listing = client.get("/api/v1/tips", headers=h).get_json()
        assert tip["id"] not in [t["id"] for t in listing["items"]]
        assert sum(listing["counts"].values()) == listing["total"] == 0
        assert client.get(f"/api/v1/tips?grid={demo_areas['grid']}", headers=h).get_json()["total"] == 0
        missing = client.get("/api/v1/tips/999999", headers=h)
        hidden = client.get(f"/api/v1/tips/{tip['id']}", headers=h)
        assert hidden.status_code == 404 and hidden.get_data() == missing.get_data().replace(
            b"999999", str(tip["id"]).encode()
        )
        assert client.get(photo["url"], headers=h).status_code == 404
        assert client.get(photo["thumb_url"], headers=h).status_code == 404
        assert client.post(f"/api/v1/tips/{tip['id']}/messages", headers=h, json={"body": "?"}).status_code == 404
        assert client.put(f"/api/v1/tips/{tip['id']}/feedback", headers=h, json={"feedback": "x"}).status_code == 404
        for raw in (listing, client.get("/api/v1/me", headers=h).get_json()):
            assert PLANTED_TEXT not in str(raw)


def test_conflict_tip_reaches_the_township_discipline_queue(client, cast, auth_headers, demo_areas):
    tip = _conflict_tip(client, cast, auth_headers, demo_areas)
    seen = client.get(f"/api/v1/tips/{tip['id']}", headers=auth_headers(cast["township"])).get_json()
    assert seen["routing"]["queue"] == "township_discipline" and seen["routing"]["conflict_of_interest"] is True
    assert client.get(f"/api/v1/tips/{tip['id']}", headers=auth_headers(cast["county"])).status_code == 200
    assert client.get(f"/api/v1/tips/{tip['id']}", headers=auth_headers(cast["other_township"])).status_code == 404


def test_protective_umbrella_category_is_a_conflict_even_without_the_flag(client, cast, auth_headers, demo_areas):
    body = payload(*grid_point(demo_areas["grid"]), category="gang.protective_umbrella")
    tip = post_tip(client, auth_headers(cast["member"]), body).get_json()
    assert client.get(f"/api/v1/tips/{tip['id']}", headers=auth_headers(cast["chief"])).status_code == 404
    assert client.get(f"/api/v1/tips/{tip['id']}", headers=auth_headers(cast["township"])).status_code == 200


def test_county_discipline_queue_hides_it_from_the_township(app, client, cast, auth_headers, demo_areas, monkeypatch):
    settings = app.config["GRID"]
    monkeypatch.setitem(app.config, "GRID", type(settings)(**{**settings.__dict__, "conflict_queue": "county"}))
    tip = _conflict_tip(client, cast, auth_headers, demo_areas)
    assert client.get(f"/api/v1/tips/{tip['id']}", headers=auth_headers(cast["township"])).status_code == 404
    seen = client.get(f"/api/v1/tips/{tip['id']}", headers=auth_headers(cast["county"])).get_json()
    assert seen["routing"]["queue"] == "county_discipline"


def test_an_ordinary_tip_is_seen_by_its_chief_but_not_by_a_neighbour(client, cast, auth_headers, demo_areas):
    tip = post_tip(client, auth_headers(cast["member"]), payload(*grid_point(demo_areas["grid"]))).get_json()
    assert client.get(f"/api/v1/tips/{tip['id']}", headers=auth_headers(cast["chief"])).status_code == 200
    other = client.get(f"/api/v1/tips/{tip['id']}", headers=auth_headers(cast["other_chief"]))
    missing = client.get("/api/v1/tips/999999", headers=auth_headers(cast["other_chief"]))
    assert other.status_code == 404 and other.get_json()["detail"] == missing.get_json()["detail"]
    assert client.get(f"/api/v1/tips/{tip['id']}", headers=auth_headers(cast["member"])).status_code == 403


def test_handlers_see_a_confidential_reporter_with_a_role_and_no_device_data(client, cast, auth_headers, demo_areas):
    tip = post_tip(client, auth_headers(cast["member"]), payload(*grid_point(demo_areas["grid"]))).get_json()
    raw = client.get(f"/api/v1/tips/{tip['id']}", headers=auth_headers(cast["chief"])).get_data(as_text=True)
    view = client.get(f"/api/v1/tips/{tip['id']}", headers=auth_headers(cast["chief"])).get_json()
    assert view["reporter"] == {"confidential": True, "role": "member", "role_zh": view["reporter"]["role_zh"]}
    for secret in ("举报人甲", "13912345678", "d3v1c3h4sh", "2.3.1", "device", "exif"):
        assert secret not in raw
    assert view["submitted_at"].endswith(":00+00:00")


def test_reveal_needs_a_custodian_and_every_step_is_audited(client, cast, auth_headers, demo_areas):
    tip = post_tip(client, auth_headers(cast["member"]), payload(*grid_point(demo_areas["grid"]))).get_json()
    staff, custodian = auth_headers(cast["township"]), auth_headers(cast["custodian"])
    assert_problem(client.get(f"/api/v1/tips/{tip['id']}/reporter", headers=staff), 403, "reveal-not-approved")
    request = client.post(
        f"/api/v1/tips/{tip['id']}/reveal-requests", headers=staff, json={"reason": "需要核实举报人身份以便取证"}
    ).get_json()
    assert request["status"] == "pending"
    assert (
        client.post(
            f"/api/v1/reveal-requests/{request['id']}/decision", headers=staff, json={"decision": "approve"}
        ).status_code
        == 403
    )
    decided = client.post(
        f"/api/v1/reveal-requests/{request['id']}/decision",
        headers=custodian,
        json={"decision": "approve", "note": "同意"},
    )
    assert decided.get_json()["status"] == "approved"
    who = client.get(f"/api/v1/tips/{tip['id']}/reporter", headers=staff).get_json()
    assert who == {"anonymous": False, "name": "举报人甲", "phone": "13912345678", "role": "member"}
    actions = list(
        db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.subject_id == str(tip["id"])).order_by(AuditEvent.id)
        )
    )
    assert actions == ["reveal_requested", "reveal_approved", "reporter_identity_read"]
    assert client.get(f"/api/v1/tips/{tip['id']}/reporter", headers=auth_headers(cast["county"])).status_code == 403


def test_a_denied_reveal_reveals_nothing(client, cast, auth_headers, demo_areas):
    tip = post_tip(client, auth_headers(cast["member"]), payload(*grid_point(demo_areas["grid"]))).get_json()
    staff = auth_headers(cast["township"])
    request = client.post(
        f"/api/v1/tips/{tip['id']}/reveal-requests", headers=staff, json={"reason": "需要核实举报人身份以便取证"}
    ).get_json()
    client.post(
        f"/api/v1/reveal-requests/{request['id']}/decision",
        headers=auth_headers(cast["custodian"]),
        json={"decision": "deny"},
    )
    assert_problem(client.get(f"/api/v1/tips/{tip['id']}/reporter", headers=staff), 403, "reveal-not-approved")


def test_anonymous_channel_receipt_follows_the_tip_both_ways(client, cast, auth_headers, demo_areas):
    body = payload(*grid_point(demo_areas["grid"]))
    response = post_tip(client, {}, body, path="/api/v1/tips/anonymous")
    assert response.status_code == 202
    receipt = response.get_json()["receipt"]
    assert len(receipt["code"]) == 10 and len(receipt["secret"]) >= 16
    tip_id = response.get_json()["id"]
    client.post(f"/api/v1/tips/{tip_id}/messages", headers=auth_headers(cast["chief"]), json={"body": "几点开始?"})
    client.put(f"/api/v1/tips/{tip_id}/feedback", headers=auth_headers(cast["chief"]), json={"feedback": "已核查"})
    followed = client.post("/api/v1/tips/receipt", json=receipt).get_json()["items"][0]
    assert followed["feedback"] == "已核查" and followed["messages"][0]["body"] == "几点开始?"
    assert "related" not in followed and "routing" not in followed
    answer = client.post("/api/v1/tips/receipt/messages", json=receipt | {"body": "晚上九点"})
    assert answer.status_code == 201
    wrong = client.post("/api/v1/tips/receipt", json=receipt | {"secret": "x" * 24})
    assert_problem(wrong, 404, "not-found")
    view = client.get(f"/api/v1/tips/{tip_id}", headers=auth_headers(cast["chief"])).get_json()
    assert view["reporter"]["role"] == "public"


def test_an_anonymous_retry_gets_the_same_receipt_and_secret(client, demo_areas):
    body = payload(*grid_point(demo_areas["grid"]))
    first = post_tip(client, {}, body, path="/api/v1/tips/anonymous", key="k-anon-1").get_json()
    again = post_tip(client, {}, body, path="/api/v1/tips/anonymous", key="k-anon-1").get_json()
    assert again == first


def test_my_tips_show_status_and_feedback_but_not_links(client, cast, auth_headers, demo_areas):
    point = grid_point(demo_areas["grid"])
    first = post_tip(client, auth_headers(cast["member"]), payload(*point)).get_json()
    second = post_tip(client, auth_headers(cast["member"]), payload(point[0] + 0.0003, point[1])).get_json()
    triage = client.get(f"/api/v1/tips/{second['id']}", headers=auth_headers(cast["chief"])).get_json()
    assert [r["id"] for r in triage["related"]] == [first["id"]] and 0 < triage["related"][0]["distance_m"] < 200
    mine = client.get("/api/v1/tips/mine", headers=auth_headers(cast["member"])).get_json()["items"]
    assert {t["id"] for t in mine} == {first["id"], second["id"]}
    assert all("related" not in t for t in mine)


def test_related_tips_need_the_same_category_and_200_m(client, cast, auth_headers, demo_areas):
    point = grid_point(demo_areas["grid"])
    post_tip(client, auth_headers(cast["member"]), payload(*point))
    other_kind = post_tip(client, auth_headers(cast["member"]), payload(*point, category="vice.drugs")).get_json()
    far = post_tip(client, auth_headers(cast["member"]), payload(point[0] + 0.004, point[1])).get_json()
    for tip in (other_kind, far):
        view = client.get(f"/api/v1/tips/{tip['id']}", headers=auth_headers(cast["county"])).get_json()
        assert view["related"] == []


def test_no_log_line_holds_the_text_the_coordinates_or_the_phone(client, cast, auth_headers, demo_areas, caplog):
    caplog.set_level(logging.DEBUG)
    for logger in logging.Logger.manager.loggerDict.values():
        if isinstance(logger, logging.Logger):
            logger.disabled = False
    lon, lat = grid_point(demo_areas["grid"])
    client.post("/api/v1/auth/login", json={"phone": "13912345678", "password": "wrong-password-1"})
    tip = _conflict_tip(client, cast, auth_headers, demo_areas)
    post_tip(client, auth_headers(cast["member"]), payload(lon, lat, description="x"), key="same")
    post_tip(client, auth_headers(cast["member"]), payload(lon, lat), key="same")
    client.get(f"/api/v1/tips/{tip['id']}", headers=auth_headers(cast["township"]))
    client.get("/api/v1/tips", headers=auth_headers(cast["township"]))
    text = caplog.text
    assert caplog.records, "nothing was logged at all: the check would be vacuous"
    for secret in (PLANTED_TEXT, "13912345678", f"{lon:.5f}", f"{lat:.5f}", "Bearer"):
        assert secret not in text


def test_a_conflict_tip_outside_every_grid_goes_to_the_county_discipline_queue(
    client, cast, auth_headers, make_user, demo_areas
):
    # a county officer who also chiefs a grid elsewhere: the tip's missing grid must not hide it (NULL IN (...))
    cast["county_chief"] = make_user(
        "county_staff", demo_areas["county"], roles=["county_staff", "grid_chief"], grids=[demo_areas["other_grid"]]
    )
    body = payload(119.6, 28.9, implicates_official=True)  # beyond the snap distance of every grid
    tip = post_tip(client, auth_headers(cast["member"]), body).get_json()
    assert tip["outside_grids"] is True
    for who in ("county", "custodian", "county_chief"):
        seen = client.get(f"/api/v1/tips/{tip['id']}", headers=auth_headers(cast[who]))
        assert seen.status_code == 200 and seen.get_json()["routing"]["queue"] == "county_discipline"
    for who in ("township", "chief", "deputy"):
        assert client.get(f"/api/v1/tips/{tip['id']}", headers=auth_headers(cast[who])).status_code == 404


def test_feedback_shared_with_the_reporter_is_on_the_timeline(client, cast, auth_headers, demo_areas):
    tip = post_tip(client, auth_headers(cast["member"]), payload(*grid_point(demo_areas["grid"]))).get_json()
    client.put(f"/api/v1/tips/{tip['id']}/feedback", headers=auth_headers(cast["chief"]), json={"feedback": "已查处"})
    view = client.get(f"/api/v1/tips/{tip['id']}", headers=auth_headers(cast["township"])).get_json()
    assert [(e["action"], e["note"]) for e in view["timeline"] if e["action"] == "feedback"] == [("feedback", "已查处")]
