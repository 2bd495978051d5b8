"""The case workflow as DATA: one row per (action, source states) -> target state, who may do it, what it needs.

Who (relations of the actor to the tip, computed in server/workflow/actors.py; the tip must also be visible to
the actor, server/tips/visibility.py, or the answer is 404):
- handler: the tip's assignee, or a member of the queue it sits in -- the chief and deputies of the grid for a
  grid queue; township staff of that township for a township queue; county staff of the county for a county
  queue; for the discipline queues also the custodians (纪检) whose area covers it;
- township: township staff (乡镇/街道干部) whose area covers the tip;
- county: county staff and admins whose area covers the tip.

The answer to an action (server/workflow/services.py):
- 404 the tip is not visible to the actor (same bytes as a missing tip);
- 409 `invalid-transition` no row for (current state, action); the body lists `allowed_actions` for this actor;
- 403 `not-your-move` a row exists but the actor has none of its relations (with `allowed_actions`);
- 422 `missing-fields` a required field is missing (all of them listed in `errors`), or a field is invalid;
- 409 guard failures (`cannot-escalate`, `cannot-return`: already at the county; `own-request`: nobody approves
  their own postponement) and `conflicting-update` (someone else changed the tip first: optimistic lock).

Notes on the rows: `returned` and `escalated` tips sit in the queue one level up (grid -> township -> county; the
discipline queues for a conflict-of-interest tip) and wait to be accepted or re-dispatched there; `dispatch` and
`transfer` route to a named grid under the intake rules (a conflict tip goes to the discipline queue above that
grid, never to its chief, whose people are excluded); a denied postponement goes back to in_progress with the
deadline it had; `reopen` of a resolved tip (verification failed) keeps the resolve deadline, of a closed or
dismissed one starts a new one.
"""

from __future__ import annotations

from dataclasses import dataclass

H, T, C = "handler", "township", "county"
RELATIONS = (H, T, C)

# States a tip can be dismissed, merged, ... from: everything that is still open.
OPEN = (
    "submitted",
    "dispatched",
    "accepted",
    "in_progress",
    "returned",
    "escalated",
    "postponed",
    "postpone_requested",
)
WORKABLE = ("dispatched", "accepted", "in_progress", "returned", "escalated", "postponed")

# fmt: off
# action             from states                                                   to state             who        required fields        notify  # noqa: E501
ROWS = (
    ("dispatch",         ("submitted", "returned"),                                   "dispatched",        (T, C),    ("grid_code",),        "queue"),  # noqa: E501
    ("accept",           ("dispatched", "escalated", "returned"),                     "accepted",          (H,),      (),                    None),  # noqa: E501
    ("start",            ("accepted",),                                               "in_progress",       (H,),      (),                    None),  # noqa: E501
    ("resolve",          ("accepted", "in_progress", "postponed", "postpone_requested"), "resolved",       (H,),      ("result",),           "verifiers"),  # noqa: E501
    ("resolve",          ("referred",),                                               "resolved",          (T, C),    ("result",),           "verifiers"),  # noqa: E501
    ("close",            ("resolved",),                                               "closed",            (T, C),    (),                    "queue"),  # noqa: E501
    ("reopen",           ("resolved", "closed"),                                      "in_progress",       (T, C),    ("reason",),           "queue"),  # noqa: E501
    ("reopen",           ("dismissed",),                                              "dispatched",        (T, C),    ("reason",),           "queue"),  # noqa: E501
    ("return",           ("dispatched", "accepted", "in_progress", "escalated"),      "returned",          (H,),      ("reason",),           "queue"),  # noqa: E501
    ("transfer",         ("dispatched", "accepted", "escalated"),                     "dispatched",        (H, T, C), ("grid_code",),        "queue"),  # noqa: E501
    ("escalate",         WORKABLE,                                                    "escalated",         (H, T, C), ("reason",),           "queue"),  # noqa: E501
    ("refer",            WORKABLE,                                                    "referred",          (T, C),    ("to",),               "queue"),  # noqa: E501
    ("dismiss",          OPEN,                                                        "dismissed",         (T, C),    ("reason",),           "queue"),  # noqa: E501
    ("request_postpone", ("accepted", "in_progress", "postponed"),                    "postpone_requested", (H,),     ("new_deadline", "reason"), "verifiers"),  # noqa: E501
    ("approve_postpone", ("postpone_requested",),                                     "postponed",         (T, C),    (),                    "queue"),  # noqa: E501
    ("deny_postpone",    ("postpone_requested",),                                     "in_progress",       (T, C),    ("reason",),           "queue"),  # noqa: E501
    ("merge",            OPEN[1:],                                                    "merged",            (H, T, C), ("duplicate_of",),     "queue"),  # noqa: E501
)
# fmt: on

ACTIONS = tuple(dict.fromkeys(row[0] for row in ROWS))
ACTION_LABELS_ZH = {
    "dispatch": "派遣",
    "accept": "受理",
    "start": "开始处置",
    "resolve": "办结",
    "close": "核查结案",
    "reopen": "重新办理",
    "return": "回退",
    "transfer": "转办",
    "escalate": "上报上级",
    "refer": "移送",
    "dismiss": "不予立案",
    "request_postpone": "申请延期",
    "approve_postpone": "批准延期",
    "deny_postpone": "驳回延期",
    "merge": "合并重复线索",
    # timeline entries written by the system, not actions anyone can ask for
    "early_warning": "即将超时预警",
    "overdue": "超时提醒",
    "feedback": "反馈举报人",
}
REFER_TARGETS = {"police": "公安机关", "discipline": "纪检监察机关"}
FIELDS = ("result", "reason", "grid_code", "to", "new_deadline", "duplicate_of")


@dataclass(frozen=True)
class Transition:
    action: str
    source: str
    target: str
    roles: frozenset[str]
    requires: tuple[str, ...]
    notify: str | None  # queue: whoever holds the tip afterwards; verifiers: the township (or county) above it


def _table() -> dict[tuple[str, str], Transition]:
    table: dict[tuple[str, str], Transition] = {}
    for action, sources, target, roles, requires, notify in ROWS:
        for source in sources:
            key = (source, action)
            if key in table:
                raise AssertionError(f"two rows for {key}")
            table[key] = Transition(action, source, target, frozenset(roles), tuple(requires), notify)
    return table


TABLE = _table()
STATES = tuple(
    dict.fromkeys(
        [
            "submitted",
            "dispatched",
            "accepted",
            "in_progress",
            "resolved",
            "closed",
            "returned",
            "escalated",
            "referred",
            "dismissed",
            "postpone_requested",
            "postponed",
            "merged",
        ]
    )
)


def transition(state: str, action: str) -> Transition | None:
    return TABLE.get((state, action))


def actions_from(state: str) -> list[str]:
    return [a for a in ACTIONS if (state, a) in TABLE]
