"""Tips: intake from phones (signed in, or the public anonymous channel), the triage inbox, the reporter's side,
and revealing a reporter (custodian-approved, audited)."""

from __future__ import annotations

from flask import Response, current_app, request
from flask_jwt_extended import verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_smorest import Blueprint

from server import idempotency
from server.accounts.ratelimit import limiter
from server.accounts.tokens import bearer_access_claims, raise_if_revoked
from server.errors import ProblemSchema
from server.scope import bearer_documented, current_user, require_roles
from server.tips import identity, queries
from server.tips.catalogue_service import list_categories
from server.tips.intake import submit_json, submit_with_photos
from server.tips.photos import photo_bytes, visible_photo
from server.tips.requests import read_submission
from server.tips.schemas import (
    CategoryListSchema,
    FeedbackSchema,
    MessageSchema,
    MineListSchema,
    ReceiptMessageSchema,
    ReceiptQuery,
    ReporterIdentitySchema,
    RevealDecisionSchema,
    RevealRequestSchema,
    RevealViewSchema,
    SubmittedTipSchema,
    TipListQuery,
    TipPageSchema,
    TipSubmitSchema,
    TipViewSchema,
)
from server.tips.submission import reporter_for
from server.tips.views import triage_view, triage_views
from server.tips.visibility import TRIAGE_ROLES, get_visible_tip
from server.workflow.memo import run_memo

blp = Blueprint("tips", __name__, url_prefix="/api/v1", description="Tips (线索): intake, triage, reporters")
SUBMIT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": TipSubmitSchema},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "tip": {"type": "string", "description": "The same JSON object, as a part."},
                        "photos": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    },
                }
            },
        },
    }
}
TRIAGERS = sorted(TRIAGE_ROLES)
ACCEPTED = (
    "JSON: accepted and stored (status `submitted`); the worker routes it to its grid's chief or a queue within "
    "seconds. The answer names the tip's id and grid, and the receipt of an anonymous tip."
)
CREATED = "Multipart with photos: routed and written at once (status `dispatched`), photos attached."


def _submit(signed_in: bool):
    """JSON takes the hot path (tokens checked without the ORM); multipart, the photo path."""
    if request.mimetype == "multipart/form-data":
        reporter = reporter_for(_verified_user() if signed_in else None)
        key = idempotency.check_key(request.headers.get("Idempotency-Key"))
        payload, photos = read_submission()
        status, body = submit_with_photos(key, reporter, payload, photos)
    else:
        claims = bearer_access_claims() if signed_in else None
        try:
            key = idempotency.check_key(request.headers.get("Idempotency-Key"))
            payload, _ = read_submission()
            status, body = submit_json(key, claims, payload)
        except Exception as refused:
            if claims and not isinstance(refused, JWTExtendedException):
                raise_if_revoked(claims)  # a revoked token learns nothing about its request: 401 before anything
            raise
    response = current_app.json.response(body)
    response.status_code = status
    return response


def _verified_user():
    verify_jwt_in_request()
    return current_user()


@blp.route("/tips", methods=["POST"])
@bearer_documented
@blp.doc(
    parameters=[{"in": "header", "name": "Idempotency-Key", "required": True, "schema": {"type": "string"}}],
    **SUBMIT_BODY,
)
@blp.response(201, SubmittedTipSchema, description=CREATED)
@blp.alt_response(202, schema=SubmittedTipSchema, description=ACCEPTED)
@blp.alt_response(409, schema=ProblemSchema, description="The first request with this key is still running.")
@blp.alt_response(413, schema=ProblemSchema, description="Photos too large, too many, or too many pixels.")
@blp.alt_response(415, schema=ProblemSchema, description="A photo that is not JPEG, PNG, WebP or HEIC.")
@blp.alt_response(422, schema=ProblemSchema, description="Invalid fields, coordinates or datum; key reused.")
def submit_tip():
    """File a tip from a phone (signed in). Safe to retry with the same Idempotency-Key."""
    return _submit(signed_in=True)


@blp.route("/tips/anonymous", methods=["POST"])
@limiter.limit(lambda: current_app.config["GRID"].anonymous_tip_rate, scope="anonymous-tip")
@blp.doc(
    parameters=[{"in": "header", "name": "Idempotency-Key", "required": True, "schema": {"type": "string"}}],
    **SUBMIT_BODY,
)
@blp.response(201, SubmittedTipSchema, description=CREATED)
@blp.alt_response(202, schema=SubmittedTipSchema, description=ACCEPTED)
@blp.alt_response(429, schema=ProblemSchema, description="Too many anonymous tips from this address.")
@blp.alt_response(422, schema=ProblemSchema, description="Invalid fields; the key was reused.")
def submit_anonymous_tip():
    """File a tip without an account. The answer carries a receipt code and secret: keep both to follow it."""
    return _submit(signed_in=False)


@blp.route("/tips/categories")
@blp.response(200, CategoryListSchema)
def categories():
    """The tip categories with Chinese and English labels and their time limits."""
    fields = ("code", "parent_code", "label_zh", "label_en", "accept_hours", "resolve_days", "urgent", "conflict")
    return {"items": [{f: getattr(c, f) for f in fields} for c in list_categories()]}


@blp.route("/tips")
@require_roles(*TRIAGERS)
@blp.arguments(TipListQuery, location="query")
@blp.response(200, TipPageSchema)
def inbox(args):
    """The triage inbox: tips you may see, filtered, sorted and paged, with counts per status."""
    with run_memo():  # read only: the viewer's grids, areas' names and the like are looked up once for the page
        items, total, counts = queries.inbox(current_user(), args)
        views = triage_views(items)
    return {"items": views, "total": total, "counts": counts, "limit": args["limit"], "offset": args["offset"]}


@blp.route("/tips/<int:tip_id>")
@require_roles(*TRIAGERS)
@blp.response(200, TipViewSchema)
@blp.alt_response(404, schema=ProblemSchema)
def tip_detail(tip_id):
    """One tip, if you may see it (otherwise 404, exactly as for a missing id), with its timeline, deadlines and the
    actions you may take now."""
    return triage_view(get_visible_tip(current_user(), tip_id), user=current_user())


@blp.route("/tips/<int:tip_id>/photos/<int:photo_id>")
@require_roles(*TRIAGERS)
@blp.response(200, content_type="image/jpeg")
@blp.alt_response(404, schema=ProblemSchema)
def tip_photo(tip_id, photo_id):
    """A cleaned photo (no EXIF, GPS or comments), or its thumbnail with ?size=thumb."""
    photo = visible_photo(current_user(), tip_id, photo_id)
    thumb = request.args.get("size") == "thumb"
    return Response(
        photo_bytes(photo, thumb),
        mimetype="image/jpeg" if thumb else photo.mime,
        headers={"Cache-Control": "private, max-age=3600"},
    )


@blp.route("/tips/<int:tip_id>/messages", methods=["POST"])
@require_roles(*TRIAGERS)
@blp.arguments(MessageSchema)
@blp.response(201, MineListSchema)
@blp.alt_response(404, schema=ProblemSchema)
def message_reporter(args, tip_id):
    """Ask the reporter a question (they see it on their phone, even when anonymous)."""
    tip = get_visible_tip(current_user(), tip_id)
    queries.add_message(tip, args["body"], direction="to_reporter", author_user_id=current_user().id)
    return {"items": [queries.reporter_view(tip)]}


@blp.route("/tips/<int:tip_id>/feedback", methods=["PUT"])
@require_roles(*TRIAGERS)
@blp.arguments(FeedbackSchema)
@blp.response(200, TipViewSchema)
@blp.alt_response(404, schema=ProblemSchema)
def share_feedback(args, tip_id):
    """Set the feedback text shared with the reporter."""
    tip = queries.share_feedback(current_user(), tip_id, args["feedback"])
    return triage_view(tip, user=current_user())


@blp.route("/tips/mine")
@require_roles()
@blp.response(200, MineListSchema)
def my_tips():
    """My tips (not the anonymous ones: follow those with their receipt), with status and shared feedback."""
    return {"items": [queries.reporter_view(t) for t in queries.my_tips(current_user().id)]}


@blp.route("/tips/mine/<int:tip_id>/messages", methods=["POST"])
@require_roles()
@blp.arguments(MessageSchema)
@blp.response(201, MineListSchema)
@blp.alt_response(404, schema=ProblemSchema)
def reply_as_reporter(args, tip_id):
    """Answer the handler's question about one of my tips."""
    tip = queries.my_tip(current_user().id, tip_id)
    queries.add_message(tip, args["body"], direction="from_reporter", author_user_id=None)
    return {"items": [queries.reporter_view(tip)]}


@blp.route("/tips/receipt", methods=["POST"])
@limiter.limit(lambda: current_app.config["GRID"].anonymous_tip_rate, scope="receipt")
@blp.arguments(ReceiptQuery)
@blp.response(200, MineListSchema)
@blp.alt_response(404, schema=ProblemSchema)
def follow_receipt(args):
    """Follow an anonymous tip with its receipt code and secret (POST keeps the secret out of URLs and logs)."""
    return {"items": [queries.reporter_view(queries.tip_by_receipt(args["code"], args["secret"]))]}


@blp.route("/tips/receipt/messages", methods=["POST"])
@limiter.limit(lambda: current_app.config["GRID"].anonymous_tip_rate, scope="receipt")
@blp.arguments(ReceiptMessageSchema)
@blp.response(201, MineListSchema)
@blp.alt_response(404, schema=ProblemSchema)
def reply_by_receipt(args):
    """Answer the handler anonymously."""
    tip = queries.tip_by_receipt(args["code"], args["secret"])
    queries.add_message(tip, args["body"], direction="from_reporter", author_user_id=None)
    return {"items": [queries.reporter_view(tip)]}


@blp.route("/tips/<int:tip_id>/reveal-requests", methods=["POST"])
@require_roles("township_staff", "county_staff", "admin")
@blp.arguments(RevealRequestSchema)
@blp.response(201, RevealViewSchema)
@blp.alt_response(404, schema=ProblemSchema)
def request_reveal(args, tip_id):
    """Ask to learn who reported a tip. A custodian decides; everything is audited."""
    return _reveal_view(identity.request_reveal(current_user(), tip_id, args["reason"]))


@blp.route("/reveal-requests/<int:request_id>/decision", methods=["POST"])
@require_roles("custodian")
@blp.arguments(RevealDecisionSchema)
@blp.response(200, RevealViewSchema)
@blp.alt_response(404, schema=ProblemSchema)
@blp.alt_response(409, schema=ProblemSchema, description="Already decided, or your own request.")
def decide_reveal(args, request_id):
    """Approve or deny a reveal request (custodians only)."""
    return _reveal_view(identity.decide_reveal(current_user(), request_id, args["decision"], args["note"]))


@blp.route("/tips/<int:tip_id>/reporter")
@require_roles("township_staff", "county_staff", "admin")
@blp.response(200, ReporterIdentitySchema)
@blp.alt_response(404, schema=ProblemSchema)
def read_reporter(tip_id):
    """Who reported the tip, once a custodian approved your request. The read is audited."""
    return identity.read_reporter(current_user(), tip_id)


def _reveal_view(r) -> dict:
    return {
        "id": r.id,
        "tip_id": r.tip_id,
        "status": r.status,
        "reason": r.reason,
        "requested_at": r.requested_at.isoformat(),
        "decided_at": r.decided_at.isoformat() if r.decided_at else None,
    }
