"""The in-app channel: my notifications (paged, unread filter), marking them read, and a live SSE stream.

The stream (GET /notifications/stream, text/event-stream) polls the notifications table every
GRID_SSE_POLL_SECONDS, so it works across processes and hosts with no broker: a notification committed by any
worker or request shows up within a poll. Each event's `id` is the notification id; a client that reconnects
sends Last-Event-ID (or ?after=) and gets what it missed; without either the stream starts from now (load the
list first, then open the stream with ?after=<newest id> so that nothing falls in between). A stream ends after
GRID_SSE_MAX_SECONDS (clients reconnect, the `retry:` hint says when), so a sync gunicorn worker is not held
forever; behind nginx, buffering is switched off with X-Accel-Buffering. The token goes in the Authorization
header (the mobile app's client sets it), never in the URL. A browser, whose EventSource sends no headers, asks
for a one-time ticket (POST /notifications/stream-ticket) and opens the stream with ?ticket= within 30 seconds
(server.notifications.tickets).
"""

from __future__ import annotations

import json
import time

import marshmallow as ma
from flask import Response, current_app, request, stream_with_context
from flask_jwt_extended import verify_jwt_in_request
from flask_smorest import Blueprint
from marshmallow import validate
from sqlalchemy import func, select

from server import bounds
from server.areas.models import utcnow
from server.errors import NotFound, Problem, ProblemSchema
from server.extensions import db
from server.notifications import tickets
from server.notifications.models import Notification
from server.scope import current_user, require_roles
from server.tips.views import iso_minute

blp = Blueprint(
    "notifications", __name__, url_prefix="/api/v1", description="Notifications (消息提醒): the in-app inbox"
)
HEARTBEAT_SECONDS = 15.0


class NotificationListQuery(ma.Schema):
    unread = ma.fields.Boolean(load_default=None, metadata={"description": "true: only unread ones."})
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    offset = bounds.offset()


class StreamQuery(ma.Schema):
    after = ma.fields.Integer(
        load_default=None,
        validate=validate.Range(min=0, max=bounds.INT_MAX),
        metadata={"description": "Send what came after this id."},
    )
    ticket = ma.fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "A one-time ticket from POST /notifications/stream-ticket, instead of the header."},
    )
    max_seconds = ma.fields.Float(
        load_default=None,
        validate=validate.Range(min=0.1),
        metadata={"description": "End the stream sooner than GRID_SSE_MAX_SECONDS."},
    )


class NotificationSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    title = ma.fields.String()
    body = ma.fields.String()
    tip_id = ma.fields.Integer(allow_none=True)
    data = ma.fields.Dict(allow_none=True)
    created_at = ma.fields.String()
    read_at = ma.fields.String(allow_none=True)


class NotificationPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(NotificationSchema))
    total = ma.fields.Integer()
    unread = ma.fields.Integer()
    limit = ma.fields.Integer()
    offset = ma.fields.Integer()


def notification_view(n: Notification) -> dict:
    return {
        "id": n.id,
        "kind": n.kind,
        "title": n.title,
        "body": n.body,
        "tip_id": n.tip_id,
        "data": n.data,
        "created_at": iso_minute(n.created_at),
        "read_at": iso_minute(n.read_at),
    }


@blp.route("/notifications")
@require_roles()
@blp.arguments(NotificationListQuery, location="query")
@blp.response(200, NotificationPageSchema)
def my_notifications(args):
    """My notifications, newest first."""
    mine = Notification.user_id == current_user().id
    query = select(Notification).where(mine)
    if args["unread"] is not None:
        query = query.where(Notification.read_at.is_(None) if args["unread"] else Notification.read_at.is_not(None))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    unread = db.session.scalar(select(func.count(Notification.id)).where(mine, Notification.read_at.is_(None)))
    page = db.session.scalars(query.order_by(Notification.id.desc()).limit(args["limit"]).offset(args["offset"]))
    return {
        "items": [notification_view(n) for n in page],
        "total": total,
        "unread": unread,
        "limit": args["limit"],
        "offset": args["offset"],
    }


@blp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@require_roles()
@blp.response(200, NotificationSchema)
@blp.alt_response(404, schema=ProblemSchema)
def mark_read(notification_id):
    """Mark one of my notifications read (idempotent: the first read time stays)."""
    n = db.session.get(Notification, notification_id)
    if n is None or n.user_id != current_user().id:
        raise NotFound("notification")
    n.read_at = n.read_at or utcnow()
    db.session.flush()
    return notification_view(n)


class StreamTicketSchema(ma.Schema):
    ticket = ma.fields.String()
    expires_in = ma.fields.Integer(metadata={"description": "Seconds within which the stream must be opened."})
    stream_url = ma.fields.String(
        metadata={"description": "The stream's path with the ticket: give it to EventSource."}
    )


@blp.route("/notifications/stream-ticket", methods=["POST"])
@require_roles()
@blp.response(201, StreamTicketSchema)
def stream_ticket():
    """A one-time ticket that opens my notification stream from a browser (EventSource cannot send the token)."""
    ticket = tickets.issue(current_user())
    url = f"/api/v1/notifications/stream?ticket={ticket}"
    return {"ticket": ticket, "expires_in": tickets.TICKET_SECONDS, "stream_url": url}


@blp.route("/notifications/stream")
@blp.arguments(StreamQuery, location="query")
@blp.response(200, content_type="text/event-stream")
@blp.alt_response(400, schema=ProblemSchema, description="Last-Event-ID is not a notification id.")
@blp.alt_response(401, schema=ProblemSchema, description="No valid access token, or the ticket is used or expired.")
@blp.doc(security=[{"bearerAuth": []}, {}])
def stream(args):
    """Server-Sent Events: `event: notification` for each new notification of mine (id = notification id). Signed
    in with the access token in the Authorization header, or with `?ticket=` (browsers)."""
    settings = current_app.config["GRID"]
    user_id = _stream_user(args["ticket"]).id
    after = args["after"] if args["after"] is not None else _last_event_id(user_id)
    limit = min(args["max_seconds"] or settings.sse_max_seconds, settings.sse_max_seconds)
    events = _events(user_id, after, time.monotonic() + limit, settings.sse_poll_seconds)
    return Response(
        stream_with_context(events),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _stream_user(ticket: str | None):
    if ticket is None:
        verify_jwt_in_request()
        return current_user()
    user = tickets.redeem(ticket)
    db.session.commit()  # used up now: the stream's polls end their reads with a rollback
    return user


def _events(user_id: int, after: int, ends_at: float, poll: float):
    yield "retry: 3000\n\n"
    last_beat = time.monotonic()
    while time.monotonic() < ends_at:
        rows = list(
            db.session.scalars(
                select(Notification)
                .where(Notification.user_id == user_id, Notification.id > after)
                .order_by(Notification.id)
                .limit(100)
            )
        )
        views = [notification_view(n) for n in rows]
        db.session.rollback()  # end this read: the next poll must see what was committed since
        for view in views:
            after = view["id"]
            yield f"id: {after}\nevent: notification\ndata: {json.dumps(view, ensure_ascii=False)}\n\n"
        if views:
            last_beat = time.monotonic()
            continue
        if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
            last_beat = time.monotonic()
            yield ": keep-alive\n\n"
        time.sleep(min(poll, max(0.0, ends_at - time.monotonic())))
    yield "event: end\ndata: {}\n\n"


def _last_event_id(user_id: int) -> int:
    """Last-Event-ID when reconnecting; otherwise start from now (load older ones with GET /notifications)."""
    raw = request.headers.get("Last-Event-ID", "").strip()
    if not raw:
        newest = select(func.max(Notification.id)).where(Notification.user_id == user_id)
        return db.session.scalar(newest) or 0
    if not raw.isdigit():
        raise Problem(400, "bad-last-event-id", "Last-Event-ID must be the id of a notification.")
    return int(raw)
