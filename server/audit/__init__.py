"""Audit log: `record()` adds one append-only row to `audit_events` in the CURRENT transaction.

It flushes and never commits: the row is committed or rolled back together with the request's own writes
(see `server.create_app`, one transaction per request). A few events exist precisely because a request
fails (a failed login, a refresh token used twice): those are recorded with `keep_on_error=True`, which
asks the request edge to commit even though the answer is a 4xx. Only views whose error path writes
nothing else use it. 5xx answers always roll back.

What a row may hold: an action slug, the acting user's id, the subject, a salted hash of the client IP
(HMAC-SHA256 keyed from GRID_SECRET_KEY, so that one IP can be followed across events without being
stored), and `details`. `details` never hold passwords, tokens, password hashes or phone numbers in clear:
`record()` refuses such keys and values (a ValueError is a bug in the caller), so mask phones first
(`server.accounts.phones.mask_phone`).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from flask import current_app, g, has_request_context, request

from server.areas.models import utcnow
from server.audit.models import AuditEvent
from server.extensions import db

ACTIONS = frozenset(
    {
        "login",
        "login_failed",
        "logout",
        "refresh_reuse_detected",
        "user_created",
        "roles_changed",
        "scope_changed",
        "deactivated",
        "reactivated",
        "password_reset",
        "password_changed",
        "reveal_requested",
        "reveal_approved",
        "reveal_denied",
        "reporter_identity_read",
        "household_personal_data_read",
        "households_linked",
        "households_unlinked",
        "links_rebalanced",
        "grid_assigned",
    }
)
FORBIDDEN_KEYS = frozenset({"password", "password_hash", "token", "access_token", "refresh_token", "secret", "phone"})
_CLEAR_SECRETS = (
    re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"),  # a mainland mobile number in clear
    re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\."),  # a JWT
    re.compile(r"\$(argon2|scrypt|pbkdf2|2[aby]\$)"),  # a password hash
)
_CURRENT_USER = object()


def record(
    action: str,
    subject_type: str | None = None,
    subject_id=None,
    *,
    actor_user_id=_CURRENT_USER,
    keep_on_error: bool = False,
    **details,
) -> AuditEvent:
    """Add an audit row to the current transaction and flush it. The actor defaults to the token's user."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; add it to server.audit.ACTIONS")
    _check_clean(details)
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_user_id=_current_user_id() if actor_user_id is _CURRENT_USER else actor_user_id,
        action=action,
        subject_type=subject_type,
        subject_id=None if subject_id is None else str(subject_id),
        ip_hash=ip_hash(),
        details=details,
    )
    db.session.add(event)
    db.session.flush()
    if keep_on_error and has_request_context():
        g.keep_writes_on_error = True
    return event


def keeps_writes_on_error() -> bool:
    """True when this request recorded an event that must survive its own 4xx answer."""
    return bool(g.get("keep_writes_on_error"))


def ip_hash() -> str | None:
    if not has_request_context() or not request.remote_addr:
        return None
    secret = current_app.config["GRID"].secret_key.encode()
    key = hashlib.sha256(b"audit-ip:" + secret).digest()
    return hmac.new(key, request.remote_addr.encode(), hashlib.sha256).hexdigest()[:32]


def _current_user_id() -> int | None:
    if not has_request_context():
        return None
    from flask_jwt_extended import get_current_user

    try:
        user = get_current_user()
    except RuntimeError:  # no token was verified in this request
        return None
    return getattr(user, "id", None)


def _check_clean(value, key: str | None = None) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if str(k).lower() in FORBIDDEN_KEYS:
                raise ValueError(f"audit details may not hold {k!r}; mask or drop it")
            _check_clean(v, k)
    elif isinstance(value, list | tuple | set):
        for v in value:
            _check_clean(v, key)
    elif isinstance(value, str) and any(p.search(value) for p in _CLEAR_SECRETS):
        raise ValueError(f"audit detail {key!r} looks like a phone number, token or password hash in clear")
