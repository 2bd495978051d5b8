"""One-time tickets for the notification stream, for browsers.

A browser's EventSource cannot send an Authorization header, and an access token in a URL ends up in proxy logs
and browser history, where it stays valid for its whole life. So a signed-in client asks for a ticket (POST, with
its token in the header) and opens the stream with `?ticket=`: a random value that works once, within
TICKET_SECONDS, and only for that account (and only while the account is active). Only its SHA-256 is stored.

Hand-written: a one-time token is a random value, a hash and an atomic DELETE ... RETURNING; no library adds
anything to that.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete

from server.accounts.models import User
from server.areas.models import utcnow
from server.errors import Problem
from server.extensions import db
from server.notifications.models import StreamTicket

TICKET_SECONDS = 30


def issue(user: User) -> str:
    """A new ticket for this account (the caller commits). Expired tickets are swept at the same time."""
    now = utcnow()
    db.session.execute(delete(StreamTicket).where(StreamTicket.expires_at < now))
    ticket = secrets.token_urlsafe(32)
    db.session.add(
        StreamTicket(digest=_digest(ticket), user_id=user.id, expires_at=now + timedelta(seconds=TICKET_SECONDS))
    )
    db.session.flush()
    return ticket


def redeem(ticket: str) -> User:
    """The account the ticket was issued to; the ticket is used up (the caller commits). 401 otherwise."""
    used = db.session.execute(
        delete(StreamTicket)
        .where(StreamTicket.digest == _digest(ticket), StreamTicket.expires_at >= utcnow())
        .returning(StreamTicket.user_id)
    ).first()
    user = db.session.get(User, used[0]) if used else None
    if user is None or not user.active:
        problem = Problem(
            401,
            "ticket-invalid",
            f"This stream ticket is unknown, used or expired (each works once, for {TICKET_SECONDS} seconds): ask "
            "for a new one with POST /api/v1/notifications/stream-ticket.",
            title="Invalid stream ticket",
        )
        problem.headers["WWW-Authenticate"] = 'Bearer realm="grid"'
        raise problem
    return user


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()
