"""Patrols: open, send point batches, finish; read one; patrols through a grid; my patrols.

Only the patroller sends points and finishes; anyone else gets the 404 of a missing patrol. A patrol is
visible to its patroller and to those whose scope holds the patroller's area or a grid it went through.
"""

from __future__ import annotations

from flask_smorest import Blueprint

from server.errors import ProblemSchema
from server.households.schemas import PageQuery
from server.households.services import get_grid_in_scope
from server.patrols import services
from server.patrols.models import PATROL_STATUS_ZH
from server.patrols.schemas import (
    BatchInSchema,
    BatchResultSchema,
    FinishResultSchema,
    GridPatrolListSchema,
    GridPatrolQuery,
    PatrolDetailSchema,
    PatrolIdSchema,
    PatrolInSchema,
    PatrolListSchema,
    PatrolQuery,
)
from server.scope import current_scope, current_user, require_roles

blp = Blueprint("patrols", __name__, url_prefix="/api/v1", description="Volunteer grid patrols (网格志愿巡查)")
NOT_FOUND = "No such patrol, or it is not yours / outside your area."


@blp.route("/patrols", methods=["POST"])
@require_roles(*services.PATROLLER_ROLES)
@blp.arguments(PatrolInSchema)
@blp.response(201, PatrolIdSchema)
def open_patrol(args):
    """Start a patrol; send its points to /patrols/{id}/points."""
    patrol = services.open_patrol(current_user(), args["note"])
    return {"id": patrol.id, "status": patrol.status, "status_zh": PATROL_STATUS_ZH[patrol.status]}


@blp.route("/patrols/<int:patrol_id>/points", methods=["POST"])
@require_roles(*services.PATROLLER_ROLES)
@blp.arguments(BatchInSchema)
@blp.response(200, BatchResultSchema)
@blp.alt_response(404, schema=ProblemSchema, description=NOT_FOUND)
@blp.alt_response(409, schema=ProblemSchema, description="Same seq, other points; or the patrol is finished.")
@blp.alt_response(413, schema=ProblemSchema, description="Too many points for one patrol.")
@blp.alt_response(422, schema=ProblemSchema, description="Malformed points, bad coordinates or an unknown datum.")
def add_points(args, patrol_id):
    """One batch of points. Resending a batch (same seq, same points) is a no-op; batches may come in any order."""
    batch, duplicate = services.add_batch(patrol_id, current_user(), args["seq"], args["datum"], args["points"])
    patrol = services.own_patrol(patrol_id, current_user())
    return {
        "patrol_id": patrol_id,
        "seq": batch.seq,
        "points": batch.point_count,
        "duplicate": duplicate,
        "points_received": patrol.points_received,
    }


@blp.route("/patrols/<int:patrol_id>/finish", methods=["POST"])
@require_roles(*services.PATROLLER_ROLES)
@blp.response(200, FinishResultSchema)
@blp.alt_response(404, schema=ProblemSchema, description=NOT_FOUND)
@blp.alt_response(503, schema=ProblemSchema, description="No grid map is loaded.")
def finish_patrol(patrol_id):
    """Finish: clean the track, store it, and report distance, duration and the time spent in each grid."""
    patrol = services.finish(patrol_id, current_user())
    return services.summary_view(patrol) | {"grids": services.grid_refs(services.grid_rows(patrol.id))}


@blp.route("/patrols/<int:patrol_id>")
@require_roles()
@blp.arguments(PatrolQuery, location="query")
@blp.response(200, PatrolDetailSchema)
@blp.alt_response(404, schema=ProblemSchema, description=NOT_FOUND)
def get_patrol(args, patrol_id):
    """One patrol with its grids and its track (simplified; ?full=true for every kept point and its time)."""
    patrol = services.get_patrol(patrol_id, current_user(), current_scope())
    return services.detail_view(patrol, services.patroller_name(patrol.user_id), full_track=args["full"])


@blp.route("/grids/<code>/patrols")
@require_roles()
@blp.arguments(GridPatrolQuery, location="query")
@blp.response(200, GridPatrolListSchema)
@blp.alt_response(404, schema=ProblemSchema, description="No such grid, or it is outside your area.")
def grid_patrols(args, code):
    """Finished patrols through a grid, the latest there first, with the time and distance spent in it."""
    ref = get_grid_in_scope(code, current_scope())
    rows, total = services.grid_patrols(code, args["since"], args["limit"], args["offset"])
    items = [
        {
            "patrol_id": patrol.id,
            "patroller": {"id": patrol.user_id, "name": name},
            "status": patrol.status,
            "seconds": pg.seconds,
            "distance_m": pg.distance_m,
            "first_at": pg.first_at,
            "last_at": pg.last_at,
            "patrol_distance_m": patrol.distance_m,
            "patrol_duration_s": patrol.duration_s,
        }
        for pg, patrol, name in rows
    ]
    grid = {"code": ref.code, "name": ref.name}
    return {"grid": grid, "items": items, "total": total, "limit": args["limit"], "offset": args["offset"]}


@blp.route("/me/patrols")
@require_roles(*services.PATROLLER_ROLES)
@blp.arguments(PageQuery, location="query")
@blp.response(200, PatrolListSchema)
def my_patrols(args):
    """Your patrols, the latest first."""
    rows, total = services.my_patrols(current_user(), args["limit"], args["offset"])
    items = [services.summary_view(p) for p in rows]
    return {"items": items, "total": total, "limit": args["limit"], "offset": args["offset"]}
