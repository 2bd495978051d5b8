"""The state machine, table-driven: every state x action x actor answers what the transition table says, and the
table itself says what we meant (a hand-written list for the main path and the key side paths)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.areas.models import utcnow
from server.workflow.transitions import ACTIONS, STATES, TABLE, C, H, T, actions_from
from tests.areas.helpers import assert_problem
from tests.workflow.helpers import act, events, file_tip, set_state

# How each actor relates to a tip routed to demo_areas['grid'] (its chief is the assignee). Written by hand.
RELATIONS = {
    "chief": {H},
    "deputy": {H},
    "township": {T},
    "county": {C},
    "custodian": set(),  # sees ordinary tips in the county, may act on discipline queues only
}
HIDDEN_FROM = ("other_chief", "other_township")  # scope: another grid, another township -> 404
NOT_A_TRIAGER = ("member",)  # -> 403 before anything else
ACTORS = tuple(RELATIONS) + HIDDEN_FROM + NOT_A_TRIAGER

# What we meant, written by hand and independently of server/workflow/transitions.py.
HAND = {
    # the main path: dispatched -> accepted -> in_progress -> resolved -> closed
    ("dispatched", "accept", "chief"): 200,
    ("dispatched", "accept", "deputy"): 200,
    ("dispatched", "accept", "township"): 403,
    ("dispatched", "accept", "custodian"): 403,
    ("dispatched", "start", "chief"): 409,
    ("dispatched", "resolve", "chief"): 409,
    ("accepted", "start", "chief"): 200,
    ("accepted", "start", "deputy"): 200,
    ("accepted", "start", "township"): 403,
    ("accepted", "accept", "chief"): 409,
    ("in_progress", "resolve", "chief"): 200,
    ("in_progress", "resolve", "county"): 403,
    ("in_progress", "close", "township"): 409,
    ("resolved", "close", "chief"): 403,
    ("resolved", "close", "deputy"): 403,
    ("resolved", "close", "township"): 200,
    ("resolved", "close", "county"): 200,
    ("resolved", "resolve", "chief"): 409,
    ("resolved", "reopen", "township"): 200,
    ("resolved", "reopen", "chief"): 403,
    ("closed", "close", "township"): 409,
    ("closed", "accept", "chief"): 409,
    ("closed", "reopen", "county"): 200,
    # returned (sent back up with a reason) and re-dispatched
    ("dispatched", "return", "chief"): 200,
    ("in_progress", "return", "deputy"): 200,
    ("dispatched", "return", "township"): 403,
    ("resolved", "return", "chief"): 409,
    ("returned", "dispatch", "township"): 200,
    ("returned", "dispatch", "county"): 200,
    ("returned", "dispatch", "chief"): 403,
    ("dispatched", "dispatch", "township"): 409,
    # transferred to another grid
    ("dispatched", "transfer", "deputy"): 200,
    ("dispatched", "transfer", "township"): 200,
    ("in_progress", "transfer", "chief"): 409,
    # escalated
    ("dispatched", "escalate", "chief"): 200,
    ("in_progress", "escalate", "township"): 200,
    ("resolved", "escalate", "chief"): 409,
    ("closed", "escalate", "county"): 409,
    # referred, and still tracked
    ("in_progress", "refer", "chief"): 403,
    ("in_progress", "refer", "township"): 200,
    ("referred", "resolve", "township"): 200,
    ("referred", "resolve", "chief"): 403,
    ("referred", "close", "township"): 409,
    # dismissed: township staff and above only
    ("dispatched", "dismiss", "chief"): 403,
    ("dispatched", "dismiss", "township"): 200,
    ("postpone_requested", "dismiss", "county"): 200,
    ("closed", "dismiss", "county"): 409,
    ("dismissed", "reopen", "township"): 200,
    ("dismissed", "accept", "chief"): 409,
    # postponed: asked by the handler, approved by township staff and above
    ("in_progress", "request_postpone", "chief"): 200,
    ("accepted", "request_postpone", "deputy"): 200,
    ("dispatched", "request_postpone", "chief"): 409,
    ("in_progress", "request_postpone", "township"): 403,
    ("postpone_requested", "approve_postpone", "chief"): 403,
    ("postpone_requested", "approve_postpone", "township"): 200,
    ("postpone_requested", "deny_postpone", "county"): 200,
    ("postpone_requested", "resolve", "chief"): 200,
    ("in_progress", "approve_postpone", "township"): 409,
    ("postponed", "resolve", "chief"): 200,
    # merged as a duplicate
    ("dispatched", "merge", "chief"): 200,
    ("in_progress", "merge", "township"): 200,
    ("merged", "merge", "chief"): 409,
    ("merged", "accept", "chief"): 409,
    ("closed", "merge", "chief"): 409,
    # visibility and roles come first
    ("dispatched", "accept", "other_chief"): 404,
    ("resolved", "close", "other_township"): 404,
    ("dispatched", "accept", "member"): 403,
}

# The fields each action needs, by hand.
REQUIRED = {
    "dispatch": {"grid_code"},
    "transfer": {"grid_code"},
    "resolve": {"result"},
    "return": {"reason"},
    "escalate": {"reason"},
    "refer": {"to"},
    "dismiss": {"reason"},
    "reopen": {"reason"},
    "request_postpone": {"new_deadline", "reason"},
    "deny_postpone": {"reason"},
    "merge": {"duplicate_of"},
}


def expected_from_table(state: str, action: str, actor: str) -> int:
    if actor in NOT_A_TRIAGER:
        return 403
    if actor in HIDDEN_FROM:
        return 404
    row = TABLE.get((state, action))
    if row is None:
        return 409
    return 200 if row.roles & RELATIONS[actor] else 403


def allowed_from_table(state: str, actor: str) -> list[str]:
    return [a for a in actions_from(state) if TABLE[(state, a)].roles & RELATIONS[actor]]


@pytest.fixture
def world(client, cast, headers, demo_areas):
    """A duplicate target (an open tip in the same grid) and the valid fields of every action."""
    target = file_tip(client, headers["member"], demo_areas["grid"])
    later = (utcnow() + timedelta(days=60)).isoformat()
    fields = {
        "dispatch": {"grid_code": demo_areas["sibling_grid"]},
        "transfer": {"grid_code": demo_areas["sibling_grid"]},
        "resolve": {"result": "已查处，收缴赌具"},
        "return": {"reason": "不属本网格"},
        "escalate": {"reason": "涉及多个网格"},
        "refer": {"to": "police"},
        "dismiss": {"reason": "经核实不属实"},
        "reopen": {"reason": "核查不通过"},
        "request_postpone": {"new_deadline": later, "reason": "需等待公安配合"},
        "deny_postpone": {"reason": "时限内可完成"},
        "merge": {"duplicate_of": target},
    }

    def tip_in(state: str) -> int:
        tip = file_tip(client, headers["member"], demo_areas["grid"])
        extra = {}
        if state == "postpone_requested":
            extra["postpone_request"] = {
                "new_deadline": later,
                "reason": "需等待公安配合",
                "by": cast["chief"].id,
                "from_status": "in_progress",
                "at": utcnow().isoformat(),
            }
        set_state(tip, state, **extra)
        return tip

    return fields, tip_in


def test_the_table_says_what_we_meant():
    mismatches = {
        key: (expected_from_table(*key), status) for key, status in HAND.items() if expected_from_table(*key) != status
    }
    assert not mismatches, mismatches
    for action, needed in REQUIRED.items():
        rows = [row for row in TABLE.values() if row.action == action]
        assert rows and all(set(row.requires) == needed for row in rows), action
    assert {row.action for row in TABLE.values() if row.requires} == set(REQUIRED)


@pytest.mark.parametrize("key", sorted(HAND), ids=lambda k: "-".join(k))
def test_hand_written_expectations_hold_through_the_api(key, client, headers, world):
    state, action, actor = key
    fields, tip_in = world
    tip = tip_in(state)
    response = act(client, headers[actor], tip, action, **fields.get(action, {}))
    assert response.status_code == HAND[key], response.get_json()
    if HAND[key] == 200:
        assert response.get_json()["status"] == TABLE[(state, action)].target
        assert events(tip)[-1] == (action, state, TABLE[(state, action)].target)


@pytest.mark.parametrize("state", STATES)
def test_every_state_action_and_actor_answers_as_the_table_says(state, client, headers, world):
    fields, tip_in = world
    tip = tip_in(state)
    failures = []
    for action in ACTIONS:
        for actor in ACTORS:
            expected = expected_from_table(state, action, actor)
            before = events(tip)
            response = act(client, headers[actor], tip, action, **fields.get(action, {}))
            body = response.get_json()
            if response.status_code != expected:
                failures.append((action, actor, expected, response.status_code, body.get("type")))
            elif expected == 200:
                if body["status"] != TABLE[(state, action)].target or len(events(tip)) != len(before) + 1:
                    failures.append((action, actor, "wrong target or no event", body["status"]))
                tip = tip_in(state)  # it moved on: a fresh one in the same state
            else:
                if events(tip) != before:
                    failures.append((action, actor, "a refused move wrote an event"))
                if expected == 409 and body.get("allowed_actions") != allowed_from_table(state, actor):
                    failures.append((action, actor, "allowed_actions", body.get("allowed_actions")))
    assert not failures, failures


def test_an_illegal_move_lists_what_the_actor_may_do(client, headers, world):
    _, tip_in = world
    tip = tip_in("dispatched")
    body = assert_problem(act(client, headers["chief"], tip, "close"), 409, "invalid-transition")
    assert body["allowed_actions"] == ["accept", "return", "transfer", "escalate", "merge"]
    body = assert_problem(act(client, headers["township"], tip, "start"), 409, "invalid-transition")
    assert body["allowed_actions"] == ["transfer", "escalate", "refer", "dismiss", "merge"]
    body = assert_problem(act(client, headers["chief"], tip, "dismiss", reason="x"), 403, "not-your-move")
    assert "dismiss" not in body["allowed_actions"]


@pytest.mark.parametrize("action", sorted(REQUIRED))
def test_missing_fields_are_all_listed(action, client, headers, world):
    _, tip_in = world
    state = next(s for s in STATES if (s, action) in TABLE)
    actor = next(a for a in RELATIONS if TABLE[(state, action)].roles & RELATIONS[a])
    tip = tip_in(state)
    body = assert_problem(act(client, headers[actor], tip, action), 422, "missing-fields")
    assert set(body["errors"]) == REQUIRED[action]
    assert events(tip)[-1][0] == "dispatch"


def test_unknown_action_and_bad_fields_are_422(client, headers, world):
    _, tip_in = world
    tip = tip_in("in_progress")
    assert act(client, headers["chief"], tip, "teleport").status_code == 422
    assert act(client, headers["township"], tip, "refer", to="newspaper").status_code == 422
    past = (utcnow() - timedelta(days=1)).isoformat()
    assert_problem(
        act(client, headers["chief"], tip, "request_postpone", new_deadline=past, reason="x"), 422, "invalid-field"
    )
    assert_problem(act(client, headers["chief"], tip, "merge", duplicate_of=tip), 422, "invalid-field")
    assert_problem(act(client, headers["chief"], tip, "merge", duplicate_of=999999), 422, "invalid-field")
