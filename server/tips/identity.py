"""Revealing who reported a tip: requested by staff, decided by a custodian, read once approved.

Every step is written to the audit log in the same transaction as the step itself, so a reveal that is not
audited cannot happen.
"""

from __future__ import annotations

from sqlalchemy import select

from server.accounts.models import User
from server.areas.models import utcnow
from server.audit import record
from server.errors import NotFound, Problem
from server.extensions import db
from server.scope import current_scope
from server.tips.models import RevealRequest, TipReporter
from server.tips.visibility import get_visible_tip

REQUESTER_ROLES = frozenset({"township_staff", "county_staff", "admin"})


def request_reveal(user, tip_id: int, reason: str) -> RevealRequest:
    tip = get_visible_tip(user, tip_id)
    if not user.roles & REQUESTER_ROLES:
        raise Problem(403, "forbidden", "Only township or county staff may ask to learn who reported a tip.")
    request = RevealRequest(tip_id=tip.id, requested_by=user.id, reason=reason, status="pending")
    db.session.add(request)
    db.session.flush()
    record("reveal_requested", "tip", tip.id, reveal_request_id=request.id)
    return request


def decide_reveal(user, request_id: int, decision: str, note: str | None) -> RevealRequest:
    request = db.session.get(RevealRequest, request_id)
    if request is None or not _custodian_covers(request):
        raise NotFound("reveal request")
    if request.status != "pending":
        raise Problem(409, "already-decided", f"This request was already {request.status}.")
    if request.requested_by == user.id:
        raise Problem(409, "own-request", "A custodian may not decide their own request.")
    request.status = "approved" if decision == "approve" else "denied"
    request.decided_by, request.decided_at, request.decision_note = user.id, utcnow(), note
    record(
        "reveal_approved" if decision == "approve" else "reveal_denied",
        "tip",
        request.tip_id,
        reveal_request_id=request.id,
    )
    return request


def _custodian_covers(request: RevealRequest) -> bool:
    from server.tips.models import Tip

    tip = db.session.get(Tip, request.tip_id)
    return tip is not None and current_scope().allows(tip.area_code)


def read_reporter(user, tip_id: int) -> dict:
    """The reporter's identity, for the requester of an approved reveal. Audited in this transaction."""
    tip = get_visible_tip(user, tip_id)
    approved = db.session.scalar(
        select(RevealRequest).where(
            RevealRequest.tip_id == tip.id, RevealRequest.requested_by == user.id, RevealRequest.status == "approved"
        )
    )
    if approved is None:
        raise Problem(403, "reveal-not-approved", "Ask for a reveal first; a custodian must approve it.")
    reporter = db.session.get(TipReporter, tip.id)
    record("reporter_identity_read", "tip", tip.id, reveal_request_id=approved.id)
    if reporter is None or reporter.user_id is None:
        return {"anonymous": True, "name": None, "phone": None, "role": tip.reporter_role}
    account = db.session.get(User, reporter.user_id)
    return {"anonymous": False, "name": account.name, "phone": account.phone, "role": tip.reporter_role}
