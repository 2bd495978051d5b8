"""The workflow endpoints: act on a tip (POST /tips/{id}/actions) and the case metrics (GET /tips/metrics)."""

from __future__ import annotations

from flask_smorest import Blueprint

from server.areas.models import utcnow
from server.errors import ProblemSchema
from server.scope import current_user, require_roles
from server.tips.schemas import TipViewSchema
from server.tips.views import triage_view
from server.tips.visibility import TRIAGE_ROLES
from server.workflow import metrics as case_metrics
from server.workflow.schemas import ActionSchema, MetricsQuery, MetricsSchema
from server.workflow.services import act

blp = Blueprint("workflow", __name__, url_prefix="/api/v1", description="The case workflow (办理流程) and its metrics")
TRIAGERS = sorted(TRIAGE_ROLES)


@blp.route("/tips/<int:tip_id>/actions", methods=["POST"])
@require_roles(*TRIAGERS)
@blp.arguments(ActionSchema)
@blp.response(200, TipViewSchema)
@blp.alt_response(404, schema=ProblemSchema, description="No such tip, or not one you may see.")
@blp.alt_response(409, schema=ProblemSchema, description="Not allowed in this state (allowed_actions), or changed.")
@blp.alt_response(422, schema=ProblemSchema, description="A field the action needs is missing or invalid.")
def tip_action(args, tip_id):
    """Move a tip: accept, start, resolve, close, return, dispatch, transfer, escalate, refer, dismiss,
    request_postpone, approve_postpone, deny_postpone, merge or reopen. Answers the updated tip."""
    user = current_user()
    action = args.pop("action")
    return triage_view(act(user, tip_id, action, args, now=utcnow()), user=user)


@blp.route("/tips/metrics")
@require_roles(*TRIAGERS)
@blp.arguments(MetricsQuery, location="query")
@blp.response(200, MetricsSchema)
@blp.alt_response(404, schema=ProblemSchema, description="No such area, or not yours.")
def tip_metrics(args):
    """按期结案率, 结案率, average times to accept and resolve, and counts, per grid and township of an area."""
    return case_metrics.metrics(current_user(), args["area"], args["since"], args["until"], utcnow())
