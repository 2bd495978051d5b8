"""What a notification says. Of the tip only three things: the category (Chinese label), the grid (name and code)
and the deadline that matters now, plus what happened. Never the description, the location, the reporter (name,
phone, role, device), the handler's notes or results: notifications travel through group chats and third-party
servers, and a tip is confidential."""

from __future__ import annotations

from sqlalchemy import select

from server.areas.models import Area
from server.extensions import db
from server.tips.models import Tip
from server.workflow import memo
from server.workflow.deadlines import AWAITING, calendar

KIND_LABELS_ZH = {
    "dispatched": "新线索待受理",
    "transferred": "转办线索待受理",
    "escalated": "线索已升级待受理",
    "returned": "回退线索待处理",
    "early_warning": "受理即将超时",
    "accept_overdue": "受理已超时",
    "resolve_overdue": "办理已超时",
    "resolved": "线索已办结待核查",
    "closed": "线索已结案",
    "reopened": "线索需重新办理",
    "referred": "线索已移送",
    "dismissed": "线索不予立案",
    "postpone_requested": "延期申请待审批",
    "postpone_approved": "延期已批准",
    "postpone_denied": "延期未批准",
    "merged": "线索已合并",
}
KINDS = tuple(KIND_LABELS_ZH)


def render(tip: Tip, kind: str) -> dict:
    """The notification's content, the same for every channel (each formats it its own way)."""
    category = category_of(tip)
    grid = _grid(tip)
    cal = calendar()
    awaiting = tip.status in AWAITING
    deadline = tip.accept_due_at if awaiting else tip.resolve_due_at
    deadline_label = "受理时限" if awaiting else "办结时限"
    local = _local(deadline, cal.tz) if deadline is not None else "—"
    where = f"{grid['name']}（{grid['code']}）" if grid else f"网格外（{tip.area_code}）"
    title = f"【{KIND_LABELS_ZH[kind]}】{category.label_zh}"
    lines = [f"类别：{category.label_zh}", f"网格：{where}", f"{deadline_label}：{local}"]
    return {
        "kind": kind,
        "kind_zh": KIND_LABELS_ZH[kind],
        "title": title,
        "text": "\n".join(lines),
        "tip_id": tip.id,
        "category_zh": category.label_zh,
        "grid": grid,
        "deadline": deadline.isoformat() if deadline is not None else None,
        "deadline_kind": "accept" if awaiting else "resolve",
        "deadline_local": local,
    }


def category_of(tip: Tip):
    from server.workflow.services import category_of as lookup

    return lookup(tip)


def markdown(payload: dict) -> str:
    """The robots' markdown (DingTalk and WeCom both read this subset): a heading and the three lines."""
    lines = [f"#### {payload['title']}"] + [f"- {line}" for line in payload["text"].split("\n")]
    return "\n".join(lines)


def _grid(tip: Tip) -> dict | None:
    if tip.grid_code is None:
        return None
    if memo.active():
        from server.workflow.services import area_map

        known = area_map(tip.generation_id).get(tip.grid_code)
        return {"code": tip.grid_code, "name": known[2] if known else None}
    query = select(Area.name).where(Area.generation_id == tip.generation_id, Area.code == tip.grid_code)
    return {"code": tip.grid_code, "name": db.session.scalar(query)}


def _local(value, tz) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")
