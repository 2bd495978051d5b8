"""The triage inbox and the reporter's own view."""

from __future__ import annotations

from sqlalchemy import func, select

from server.errors import NotFound
from server.extensions import db
from server.tips import receipts
from server.tips.models import Tip, TipMessage, TipReporter
from server.tips.states import STATUS_LABELS_ZH
from server.tips.views import iso_minute
from server.tips.visibility import visible_tips


def inbox(user, args: dict) -> tuple[list[Tip], int, dict[str, int]]:
    """Visible tips filtered, sorted and paged, with their total and the per-status counts for the badge."""
    visible = visible_tips(user)
    query = select(Tip).where(visible, *_filters(args))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    order = Tip.submitted_at.desc() if args["sort"].startswith("-") else Tip.submitted_at.asc()
    page = list(db.session.scalars(query.order_by(order, Tip.id.desc()).limit(args["limit"]).offset(args["offset"])))
    counts = dict(db.session.execute(select(Tip.status, func.count()).where(visible).group_by(Tip.status)).all())
    return page, total, counts


def _filters(args: dict) -> list:
    clauses = []
    if args.get("status"):
        clauses.append(Tip.status == args["status"])
    if args.get("category"):
        clauses.append((Tip.category_code == args["category"]) | Tip.category_code.startswith(args["category"] + "."))
    if args.get("grid"):
        clauses.append(Tip.grid_code == args["grid"])
    if args.get("since"):
        clauses.append(Tip.submitted_at >= args["since"])
    if args.get("until"):
        clauses.append(Tip.submitted_at < args["until"])
    return clauses


def my_tips(user_id: int) -> list[Tip]:
    query = select(Tip).join(TipReporter, TipReporter.tip_id == Tip.id).where(TipReporter.user_id == user_id)
    return list(db.session.scalars(query.order_by(Tip.submitted_at.desc())))


def tip_by_receipt(code: str, secret: str) -> Tip:
    row = db.session.scalar(select(TipReporter).where(TipReporter.receipt_code == code.strip().upper()))
    if row is None or not receipts.matches(secret, row.secret_hash):
        raise NotFound("receipt")
    return db.session.get(Tip, row.tip_id)


def reporter_view(tip: Tip) -> dict:
    """What the reporter sees of their own tip: status, and what the handler chose to share. No routing, no links."""
    messages = db.session.scalars(select(TipMessage).where(TipMessage.tip_id == tip.id).order_by(TipMessage.id))
    return {
        "id": tip.id,
        "category": tip.category_code,
        "status": tip.status,
        "status_zh": STATUS_LABELS_ZH[tip.status],
        "submitted_at": iso_minute(tip.submitted_at),
        "feedback": tip.feedback,
        "messages": [{"direction": m.direction, "body": m.body, "at": iso_minute(m.created_at)} for m in messages],
    }


def add_message(tip: Tip, body: str, *, direction: str, author_user_id: int | None) -> TipMessage:
    message = TipMessage(tip_id=tip.id, direction=direction, body=body, author_user_id=author_user_id)
    db.session.add(message)
    db.session.flush()
    return message
