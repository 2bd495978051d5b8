"""Households, member links (党员联户) and home visits (五上门). Every endpoint is scoped by server.scope.

Personal data (the head's name and phone) is masked in every list; a detail shows it in full only to those
server.households.privacy allows. A household or grid outside the caller's area answers like a missing one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import marshmallow as ma
from flask import current_app, request
from flask_smorest import Blueprint

from server.errors import Problem, ProblemSchema
from server.households import links, services, visits
from server.households.models import Household
from server.households.schemas import (
    DueQuery,
    GridHouseholdListSchema,
    GridHouseholdQuery,
    HouseholdDetailSchema,
    HouseholdInSchema,
    HouseholdListSchema,
    HouseholdQuery,
    LinkInSchema,
    LinkResultSchema,
    PageQuery,
    RebalanceQuery,
    RebalanceResultSchema,
    UnlinkInSchema,
    UnlinkResultSchema,
    VisitFormSchema,
    VisitInSchema,
    VisitListSchema,
    VisitResultSchema,
)
from server.scope import current_scope, current_user, require_roles

blp = Blueprint(
    "households", __name__, url_prefix="/api/v1", description="Households, member links, visits (住户、党员联户、走访)"
)
HOUSEHOLD_EDITORS = ("grid_chief", "township_staff", "county_staff", "admin")
NOT_FOUND = "No such household, or it is outside your area."


def _now() -> datetime:
    return datetime.now(UTC)


def _page(items, total, args) -> dict:
    return {"items": items, "total": total, "limit": args["limit"], "offset": args["offset"]}


def _target() -> int:
    return current_app.config["GRID"].visit_target_days


@blp.route("/households")
@require_roles()
@blp.arguments(HouseholdQuery, location="query")
@blp.response(200, HouseholdListSchema)
def list_households(args):
    """Households in your area, by id; filter by area, tag, linked, overdue. Names and phones masked."""
    now = _now()
    filters = {k: args[k] for k in ("area", "tag", "linked", "overdue")}
    query = services.household_query(current_scope(), **filters, now=now, target_days=_target())
    rows, total = services.page(query, [Household.id], args["limit"], args["offset"])
    return _page(services.list_views(rows, now=now), total, args)


@blp.route("/households", methods=["POST"])
@require_roles(*HOUSEHOLD_EDITORS)
@blp.arguments(HouseholdInSchema)
@blp.response(201, HouseholdDetailSchema)
@blp.alt_response(404, schema=ProblemSchema, description="Outside every grid beyond the snap distance.")
@blp.alt_response(409, schema=ProblemSchema, description="A household with this ref exists already.")
@blp.alt_response(422, schema=ProblemSchema, description="Bad coordinates, unknown tag, bad phone, outside your area.")
def create_household(data):
    """Register a household; its grid comes from its location (edges inclusive, smallest code, snapping)."""
    household = services.create_household(data, current_user(), current_scope())
    return services.detail_view(household, current_user(), now=_now())


@blp.route("/households/<int:household_id>")
@require_roles()
@blp.response(200, HouseholdDetailSchema)
@blp.alt_response(404, schema=ProblemSchema, description=NOT_FOUND)
def get_household(household_id):
    """One household with its members and visit status; the head's name and phone only if you may see them."""
    household = services.get_household(household_id)
    return services.detail_view(household, current_user(), now=_now())


@blp.route("/grids/<code>/households")
@require_roles()
@blp.arguments(GridHouseholdQuery, location="query")
@blp.response(200, GridHouseholdListSchema)
@blp.alt_response(404, schema=ProblemSchema, description="No such grid, or it is outside your area.")
def grid_households(args, code):
    """A grid's households with link and visit status, and the grid's counts (for its chief)."""
    ref = services.get_grid_in_scope(code, current_scope())
    now = _now()
    filters = {k: args[k] for k in ("tag", "linked", "overdue")}
    query = services.household_query(current_scope(), area=code, **filters, now=now, target_days=_target())
    rows, total = services.page(query, [Household.id], args["limit"], args["offset"])
    body = _page(services.list_views(rows, now=now), total, args)
    return body | {
        "grid": {"code": ref.code, "name": ref.name},
        "summary": services.grid_summary(code, now=now, target_days=_target()),
    }


@blp.route("/me/households")
@require_roles("member")
@blp.arguments(PageQuery, location="query")
@blp.response(200, HouseholdListSchema)
def my_households(args):
    """The households linked to you, with their visit status (names and phones masked; open one for details)."""
    now = _now()
    query = services.household_query(current_scope(), member_id=current_user().id, now=now, target_days=_target())
    rows, total = services.page(query, [Household.id], args["limit"], args["offset"])
    return _page(services.list_views(rows, now=now), total, args)


@blp.route("/me/visits/due")
@require_roles("member")
@blp.arguments(DueQuery, location="query")
@blp.response(200, HouseholdListSchema)
def my_due_visits(args):
    """Your linked households due within `within_days` (overdue ones included), the most overdue first."""
    now = _now()
    query = services.household_query(current_scope(), member_id=current_user().id, now=now, target_days=_target())
    horizon = now + timedelta(days=args["within_days"]) - timedelta(days=_target())
    query = query.where(services.due_clock() <= horizon)
    order = [services.due_clock(), Household.id]
    rows, total = services.page(query, order, args["limit"], args["offset"])
    return _page(services.list_views(rows, now=now), total, args)


# --- visits ---------------------------------------------------------------------------------------------------

VISIT_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": VisitInSchema},
        "multipart/form-data": {"schema": VisitFormSchema},
    },
}


def _visit_input() -> tuple[dict, bytes | None]:
    """JSON (nested location), or multipart/form-data (flat fields and an optional `photo` file)."""
    settings = current_app.config["GRID"]
    try:
        if request.mimetype == "multipart/form-data":
            if (request.content_length or 0) > settings.photo_max_request_bytes:
                raise Problem(413, "request-too-large", "The upload is larger than GRID_PHOTO_MAX_REQUEST_BYTES.")
            form = VisitFormSchema().load({k: v for k, v in request.form.items() if k != "photo"})
            location = {k: form.pop(k) for k in ("lon", "lat", "datum", "accuracy_m")}
            upload = request.files.get("photo")
            photo = upload.read(settings.photo_max_bytes + 1) if upload is not None else None
            return form | {"location": location}, photo
        return VisitInSchema().load(request.get_json(silent=True) or {}), None
    except ma.ValidationError as error:
        raise Problem(
            422,
            "validation-failed",
            "Some fields are invalid; see `errors` for each field and what it expects.",
            title="Unprocessable Entity",
            errors={"json" if request.is_json else "form": error.messages},
        ) from None


@blp.route("/households/<int:household_id>/visits", methods=["POST"])
@require_roles("member")
@blp.doc(requestBody=VISIT_BODY)
@blp.response(201, VisitResultSchema)
@blp.alt_response(403, schema=ProblemSchema, description="You are not linked to this household.")
@blp.alt_response(404, schema=ProblemSchema, description=NOT_FOUND)
@blp.alt_response(413, schema=ProblemSchema, description="The photo is too large.")
@blp.alt_response(415, schema=ProblemSchema, description="The photo is not JPEG, PNG, WebP or HEIC.")
@blp.alt_response(422, schema=ProblemSchema, description="Bad coordinates, time or photo.")
def log_visit(household_id):
    """Log a home visit (五上门) to a household linked to you; flagged far_from_household beyond the distance limit."""
    data, photo = _visit_input()
    now = _now()
    visit = visits.log_visit(household_id, current_user(), data, photo, now=now, scope=current_scope())
    household = services.get_household(household_id)
    status = services.visit_status(household, now, _target()).as_dict()
    return visits.visit_view(visit, current_user().name) | {"household_visit": status}


@blp.route("/households/<int:household_id>/visits")
@require_roles()
@blp.arguments(PageQuery, location="query")
@blp.response(200, VisitListSchema)
@blp.alt_response(404, schema=ProblemSchema, description=NOT_FOUND)
def list_visits(args, household_id):
    """A household's visits, the latest first."""
    household = services.get_household(household_id)
    rows, total = visits.visits_of(household, args["limit"], args["offset"])
    return _page([visits.visit_view(v, name) for v, name in rows], total, args)


# --- links ----------------------------------------------------------------------------------------------------


@blp.route("/links", methods=["POST"])
@require_roles(*links.LINK_MANAGERS)
@blp.arguments(LinkInSchema)
@blp.response(200, LinkResultSchema)
@blp.alt_response(404, schema=ProblemSchema, description="No such member, or outside your area.")
@blp.alt_response(409, schema=ProblemSchema, description="A concurrent request linked one of the households.")
@blp.alt_response(422, schema=ProblemSchema, description="Nothing linked; `errors` says why, per household.")
def link(args):
    """Link a member to households in bulk (all or nothing; at most GRID_LINK_LIMIT each; one primary member)."""
    return links.link_households(
        args["member_id"], args["household_ids"], primary=args["primary"], actor=current_user(), scope=current_scope()
    )


@blp.route("/links/unlink", methods=["POST"])
@require_roles(*links.LINK_MANAGERS)
@blp.arguments(UnlinkInSchema)
@blp.response(200, UnlinkResultSchema)
@blp.alt_response(404, schema=ProblemSchema, description="No such member, or outside your area.")
@blp.alt_response(422, schema=ProblemSchema, description="Nothing unlinked; `errors` says why, per household.")
def unlink(args):
    """Unlink a member from households in bulk (all or nothing)."""
    return links.unlink_households(args["member_id"], args["household_ids"], scope=current_scope())


@blp.route("/links/rebalance", methods=["POST"])
@require_roles(*links.LINK_MANAGERS)
@blp.arguments(RebalanceQuery, location="query")
@blp.response(200, RebalanceResultSchema)
@blp.alt_response(404, schema=ProblemSchema, description="No such area, or outside your area.")
@blp.alt_response(409, schema=ProblemSchema, description="A concurrent request linked one of the households.")
@blp.alt_response(422, schema=ProblemSchema, description="The area is too large to rebalance at once.")
def rebalance(args):
    """Propose (dry_run=true, the default) or make primary links for unlinked households to the nearest members."""
    return links.rebalance(args["area"], dry_run=args["dry_run"], actor=current_user(), scope=current_scope())
