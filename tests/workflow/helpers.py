"""Shared set-up for workflow and notification tests: a cast of accounts around one grid, tips in any state."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select, update

from server.extensions import db
from server.tips.models import Tip, TipCategory, TipEvent
from server.workflow.deadlines import initial_clock
from tests.tips.helpers import grid_point, payload, post_tip

SHANGHAI_OFFSET = "+08:00"


def local(text: str) -> datetime:
    """'2026-12-30 16:00' in Asia/Shanghai -> an aware datetime."""
    return datetime.fromisoformat(text.replace(" ", "T") + SHANGHAI_OFFSET)


def utc(text: str) -> datetime:
    return local(text).astimezone(UTC)


def file_tip(client, headers, grid: str, **extra) -> int:
    response = post_tip(client, headers, payload(*grid_point(grid), **extra))
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def set_state(tip_id: int, status: str, **values) -> None:
    """Put a tip straight into a state (for the state x action matrix), without the workflow."""
    db.session.execute(update(Tip).where(Tip.id == tip_id).values(status=status, **values))
    db.session.commit()


def restart_clock(tip_id: int, start: datetime) -> None:
    """As if the tip had been dispatched at `start` (intake always uses the real clock)."""
    tip = db.session.get(Tip, tip_id)
    category = db.session.get(TipCategory, tip.category_code)
    values = initial_clock(current_app.config["GRID"], category, tip.queue_kind, tip.status, start)
    db.session.execute(update(Tip).where(Tip.id == tip_id).values(**values))
    db.session.commit()
    db.session.expire_all()


def act(client, headers, tip_id: int, action: str, **fields):
    return client.post(f"/api/v1/tips/{tip_id}/actions", headers=headers, json={"action": action, **fields})


def events(tip_id: int) -> list[tuple[str, str | None, str | None]]:
    rows = db.session.execute(
        select(TipEvent.action, TipEvent.from_status, TipEvent.to_status)
        .where(TipEvent.tip_id == tip_id)
        .order_by(TipEvent.id)
    )
    return [tuple(r) for r in rows]
