"""The triage inbox and the reporter's own view."""

from __future__ import annotations

from sqlalchemy import and_, func, not_, or_, select, text
from sqlalchemy.sql.elements import False_

from server.areas.models import utcnow
from server.errors import NotFound
from server.extensions import db
from server.tips import receipts
from server.tips.counts import badge, conflict_badge
from server.tips.models import Tip, TipEvent, TipMessage, TipReporter
from server.tips.states import STATUS_LABELS_ZH
from server.tips.views import iso_minute
from server.tips.visibility import conflicts_hidden_only_by_exclusions, get_visible_tip, visible_parts, visible_tips

SORTS = {
    "submitted_at": Tip.submitted_at,
    "accept_due_at": Tip.accept_due_at,
    "resolve_due_at": Tip.resolve_due_at,
}


def inbox(user, args: dict) -> tuple[list[Tip], int, dict[str, int]]:
    """Visible tips filtered, sorted and paged, with their total and the per-status counts for the badge."""
    custom_plans()
    visible = visible_tips(user)
    filters = _filters(args)
    query = select(Tip).where(visible, *filters)
    counts, total = _counts(user, filters, args)
    column = SORTS[args["sort"].lstrip("-")]
    order = column.desc() if args["sort"].startswith("-") else column.asc()
    query = query.order_by(order, Tip.id.desc()).limit(args["limit"]).offset(args["offset"])
    return list(db.session.scalars(query)), total, counts


def custom_plans() -> None:
    """PostgreSQL: plan this transaction's statements for their actual values. The scope filter is a prefix LIKE
    (`area_code LIKE '330899001%'`); psycopg prepares a statement after five runs, and a generic plan for a LIKE on
    a parameter cannot use the area index: the chief's page took 13 ms instead of 1 ms, the county's badge counts
    25 ms instead of 10 (scripts/bench/bench_inbox.py)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


FILTERS = ("status", "category", "grid", "since", "until", "overdue")


def _counts(user, filters: list, args: dict) -> tuple[dict[str, int], int]:
    """Visible tips per status (the badge), and how many match the filters (the total).

    The ordinary tips -- nearly all of them -- are counted from tip_status_counts (server.tips.counts), a sum over a
    few rows per grid and status instead of a count of every tip in scope. So are the few conflict-of-interest tips
    for a viewer that only its own exclusions keep from any of them (a county-level one with no grid), less those
    (`conflict_badge`); anyone else's are counted from tips, against what hides them (`visible_parts`), one by one.
    Without filters the total is the sum of the badge, and with a status filter alone the badge's number for it;
    with other filters both parts are counted from tips (on PostgreSQL the ordinary ones from the index
    ix_tips_area_pattern (area_code, conflict, status) where the filters allow).
    """
    counts = badge(user)
    ordinary, conflicting = visible_parts(user)
    if not isinstance(conflicting, False_):  # a chief sees no conflict tip at all
        if conflicts_hidden_only_by_exclusions(user):
            conflict_counts = conflict_badge(user).items()
        else:
            conflict_counts = db.session.execute(
                select(Tip.status, func.count()).where(conflicting).group_by(Tip.status)
            )
        for status, n in conflict_counts:
            counts[status] = counts.get(status, 0) + n
    parts = [p for p in (ordinary, conflicting) if not isinstance(p, False_)]
    if not filters:
        return counts, sum(counts.values())
    if [f for f in FILTERS if args.get(f) is not None] == ["status"]:
        return counts, counts.get(args["status"], 0)
    return counts, sum(db.session.scalar(select(func.count()).select_from(Tip).where(p, *filters)) for p in parts)


def overdue_clause(now):
    """Overdue now: not accepted by its accept deadline, or not resolved by its resolve deadline (never NULL)."""
    from server.workflow.deadlines import AWAITING, HANDLING

    late_accept = and_(Tip.status.in_(AWAITING), Tip.accept_due_at.is_not(None), Tip.accept_due_at < now)
    late_resolve = and_(Tip.status.in_(AWAITING | HANDLING), Tip.resolve_due_at.is_not(None), Tip.resolve_due_at < now)
    return or_(late_accept, late_resolve)


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
    if args.get("overdue") is not None:
        late = overdue_clause(utcnow())
        clauses.append(late if args["overdue"] else not_(late))
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


def my_tip(user_id: int, tip_id: int) -> Tip:
    """One of my own (non-anonymous) tips; anything else is the one 404."""
    query = select(Tip).join(TipReporter, TipReporter.tip_id == Tip.id)
    tip = db.session.scalar(query.where(TipReporter.user_id == user_id, Tip.id == tip_id))
    if tip is None:
        raise NotFound("tip")
    return tip


def share_feedback(user, tip_id: int, text: str) -> Tip:
    """Set what the reporter is told, and keep it on the tip's timeline."""
    tip = get_visible_tip(user, tip_id)
    tip.feedback = text
    db.session.add(TipEvent(tip_id=tip.id, actor_user_id=user.id, action="feedback", note=text))
    db.session.flush()
    return tip
