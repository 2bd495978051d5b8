"""The closed loop walked end to end through the API, and what each side path does to queue, clock and timeline."""

from __future__ import annotations

from datetime import timedelta

from server.areas.models import utcnow
from server.extensions import db
from server.tips.models import Tip, TipExclusion
from tests.areas.helpers import assert_problem
from tests.workflow.helpers import act, events, file_tip


def detail(client, headers, tip_id):
    return client.get(f"/api/v1/tips/{tip_id}", headers=headers).get_json()


def test_main_path_from_dispatch_to_close(client, cast, headers, demo_areas):
    tip = file_tip(client, headers["member"], demo_areas["grid"])
    seen = detail(client, headers["chief"], tip)
    assert seen["status"] == "dispatched" and seen["allowed_actions"] == [
        "accept",
        "return",
        "transfer",
        "escalate",
        "merge",
    ]
    assert seen["deadlines"]["accept_due_at"] and seen["deadlines"]["resolve_due_at"]
    assert act(client, headers["deputy"], tip, "accept", note="我来处理").get_json()["status"] == "accepted"
    assert db.session.get(Tip, tip).assignee_user_id == cast["deputy"].id
    assert act(client, headers["deputy"], tip, "start").get_json()["status"] == "in_progress"
    resolved = act(client, headers["deputy"], tip, "resolve", result="已联合派出所查处，收缴赌资").get_json()
    assert resolved["status"] == "resolved" and resolved["result"].startswith("已联合")
    closed = act(client, headers["township"], tip, "close", note="现场核查属实").get_json()
    assert closed["status"] == "closed"
    assert closed["deadlines"]["closed_at"] and closed["deadlines"]["accepted_at"]
    timeline = closed["timeline"]
    assert [e["action"] for e in timeline] == ["dispatch", "accept", "start", "resolve", "close"]
    assert timeline[1]["actor"] == {"id": cast["deputy"].id, "name": "李副网格长"} and timeline[1]["note"] == "我来处理"
    assert timeline[0]["actor"] is None  # intake: never the reporter
    assert timeline[-1]["from_status"] == "resolved" and timeline[-1]["to_status"] == "closed"
    assert closed["allowed_actions"] == ["reopen"]  # the township's own view
    assert detail(client, headers["chief"], tip)["allowed_actions"] == []


def test_return_goes_up_to_the_township_and_comes_back_down(client, cast, headers, make_user, demo_areas):
    neighbour = cast["other_chief"]
    tip = file_tip(client, headers["member"], demo_areas["grid"])
    returned = act(client, headers["chief"], tip, "return", reason="点位在相邻网格").get_json()
    assert returned["status"] == "returned"
    assert returned["routing"]["queue"] == "township" and returned["routing"]["area_code"] == demo_areas["township"]
    assert returned["routing"]["escalation_level"] == 1
    assert act(client, headers["chief"], tip, "dispatch", grid_code=demo_areas["sibling_grid"]).status_code == 403
    again = act(client, headers["township"], tip, "dispatch", grid_code=demo_areas["sibling_grid"]).get_json()
    assert again["status"] == "dispatched" and again["grid"]["code"] == demo_areas["sibling_grid"]
    row = db.session.get(Tip, tip)
    assert row.assignee_user_id == neighbour.id and row.queue_kind == "grid_chief" and row.escalation_level == 0
    assert client.get(f"/api/v1/tips/{tip}", headers=headers["chief"]).status_code == 404  # not his grid any more
    assert act(client, headers["other_chief"], tip, "accept").status_code == 200


def test_transfer_restarts_the_accept_clock_but_not_the_resolve_clock(client, headers, demo_areas):
    tip = file_tip(client, headers["member"], demo_areas["grid"])
    before = db.session.get(Tip, tip)
    resolve_due, accept_due = before.resolve_due_at, before.accept_due_at
    moved = act(client, headers["chief"], tip, "transfer", grid_code=demo_areas["sibling_grid"])
    assert moved.status_code == 200
    db.session.expire_all()
    after = db.session.get(Tip, tip)
    assert after.resolve_due_at == resolve_due
    assert after.accept_due_at >= accept_due and after.dispatched_at >= before.submitted_at
    assert events(tip)[-1] == ("transfer", "dispatched", "dispatched")
    assert moved.get_json()["timeline"][-1]["details"]["to_grid"] == demo_areas["sibling_grid"]
    same = act(client, headers["other_chief"], tip, "transfer", grid_code=demo_areas["sibling_grid"])
    assert_problem(same, 422, "invalid-field")
    assert_problem(
        act(client, headers["other_chief"], tip, "transfer", grid_code="999999001001001"), 422, "invalid-field"
    )


def test_a_conflict_tip_is_never_transferred_to_a_chief(client, cast, headers, demo_areas):
    tip = file_tip(client, headers["member"], demo_areas["grid"], implicates_official=True)
    moved = act(client, headers["township"], tip, "transfer", grid_code=demo_areas["sibling_grid"]).get_json()
    assert moved["routing"]["queue"] == "township_discipline" and moved["grid"]["code"] == demo_areas["sibling_grid"]
    excluded = set(db.session.scalars(db.select(TipExclusion.user_id).where(TipExclusion.tip_id == tip)))
    assert {cast["chief"].id, cast["deputy"].id, cast["other_chief"].id} <= excluded
    for who in ("chief", "deputy", "other_chief"):
        assert client.get(f"/api/v1/tips/{tip}", headers=headers[who]).status_code == 404
        assert act(client, headers[who], tip, "accept").status_code == 404
    assert db.session.get(Tip, tip).assignee_user_id is None


def test_escalate_moves_the_tip_to_the_township_then_the_county(client, cast, headers, demo_areas):
    tip = file_tip(client, headers["member"], demo_areas["grid"])
    up = act(client, headers["chief"], tip, "escalate", reason="涉及多村").get_json()
    assert up["status"] == "escalated" and up["routing"]["queue"] == "township"
    assert act(client, headers["chief"], tip, "accept").status_code == 403  # not his queue any more
    up = act(client, headers["township"], tip, "escalate", reason="需县级协调").get_json()
    assert up["routing"]["queue"] == "county" and up["routing"]["area_code"] == demo_areas["county"]
    body = assert_problem(act(client, headers["county"], tip, "escalate", reason="x"), 409, "cannot-escalate")
    assert "escalate" not in body["allowed_actions"] and "accept" in body["allowed_actions"]
    assert act(client, headers["county"], tip, "accept").get_json()["status"] == "accepted"


def test_a_conflict_tip_escalates_to_the_county_discipline_queue(client, headers, demo_areas):
    tip = file_tip(client, headers["member"], demo_areas["grid"], implicates_official=True)
    assert act(client, headers["custodian"], tip, "accept").status_code == 200  # custodians handle discipline queues
    up = act(client, headers["township"], tip, "escalate", reason="涉及乡镇干部").get_json()
    assert up["routing"]["queue"] == "county_discipline"


def test_referral_keeps_the_tip_tracked_until_the_result_comes_back(client, headers, demo_areas):
    tip = file_tip(client, headers["member"], demo_areas["grid"])
    act(client, headers["chief"], tip, "accept")
    referred = act(client, headers["township"], tip, "refer", to="police", note="移送派出所").get_json()
    assert referred["status"] == "referred" and referred["referred_to"] == "police"
    listed = client.get("/api/v1/tips?status=referred", headers=headers["township"]).get_json()
    assert [t["id"] for t in listed["items"]] == [tip]
    done = act(client, headers["township"], tip, "resolve", result="公安已立案侦查").get_json()
    assert done["status"] == "resolved"


def test_dismiss_needs_a_reason_and_township_staff(client, headers, demo_areas):
    tip = file_tip(client, headers["member"], demo_areas["grid"])
    assert_problem(act(client, headers["chief"], tip, "dismiss", reason="不属实"), 403, "not-your-move")
    body = assert_problem(act(client, headers["township"], tip, "dismiss"), 422, "missing-fields")
    assert body["errors"] == {"reason": ["Required for this action."]}
    assert act(client, headers["township"], tip, "dismiss", reason="重复举报，已核实不属实").status_code == 200
    reopened = act(client, headers["county"], tip, "reopen", reason="有新证据").get_json()
    assert reopened["status"] == "dispatched" and reopened["deadlines"]["accept_due_at"]


def test_postponement_is_asked_by_the_handler_and_approved_above(client, cast, headers, demo_areas):
    tip = file_tip(client, headers["member"], demo_areas["grid"])
    act(client, headers["chief"], tip, "accept")
    act(client, headers["chief"], tip, "start")
    new = (utcnow() + timedelta(days=40)).replace(second=0, microsecond=0)
    asked = act(client, headers["chief"], tip, "request_postpone", new_deadline=new.isoformat(), reason="等待鉴定结果")
    assert asked.get_json()["status"] == "postpone_requested"
    assert asked.get_json()["postpone_request"]["requested_by"] == cast["chief"].id
    assert act(client, headers["chief"], tip, "approve_postpone").status_code == 403
    approved = act(client, headers["township"], tip, "approve_postpone").get_json()
    assert approved["status"] == "postponed" and approved["deadlines"]["postponements"] == 1
    assert approved["deadlines"]["resolve_due_at"] == new.isoformat().replace("+00:00", "+00:00")
    assert approved["postpone_request"] is None
    assert act(client, headers["chief"], tip, "resolve", result="已办结").status_code == 200


def test_a_township_officer_cannot_approve_their_own_postponement(client, cast, headers, demo_areas):
    tip = file_tip(client, headers["member"], demo_areas["grid"])
    act(client, headers["chief"], tip, "escalate", reason="需乡镇处理")
    assert act(client, headers["township"], tip, "accept").status_code == 200
    new = (utcnow() + timedelta(days=40)).isoformat()
    act(client, headers["township"], tip, "request_postpone", new_deadline=new, reason="等待鉴定")
    body = assert_problem(act(client, headers["township"], tip, "approve_postpone"), 409, "own-request")
    assert "approve_postpone" not in body["allowed_actions"]
    assert act(client, headers["township2"], tip, "approve_postpone").status_code == 200


def test_merge_points_at_the_original(client, headers, demo_areas):
    first = file_tip(client, headers["member"], demo_areas["grid"])
    second = file_tip(client, headers["member"], demo_areas["grid"])
    merged = act(client, headers["chief"], second, "merge", duplicate_of=first).get_json()
    assert merged["status"] == "merged" and merged["duplicate_of"] == first
    assert_problem(act(client, headers["chief"], first, "merge", duplicate_of=second), 422, "invalid-field")


def test_feedback_to_the_reporter_still_works(client, headers, demo_areas):
    tip = file_tip(client, headers["member"], demo_areas["grid"])
    shared = client.put(f"/api/v1/tips/{tip}/feedback", headers=headers["chief"], json={"feedback": "已处理"})
    assert shared.status_code == 200 and shared.get_json()["feedback"] == "已处理"
    mine = client.get("/api/v1/tips/mine", headers=headers["member"]).get_json()["items"]
    assert mine[0]["feedback"] == "已处理" and "timeline" not in mine[0]
