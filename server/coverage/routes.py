"""Coverage for county staff (覆盖情况): indicators per grid, village, township and county; CSV and GeoJSON exports.

Who: county_staff, township_staff, custodian and admin see the areas of their scope (a township viewer only their
township: anything else answers 404 exactly like a missing area); a grid chief sees the grids they chief or
deputise. Members and volunteers do not (403). Tips appear only as counts, and only the tips the viewer may see
(server.tips.visibility): a conflict-of-interest tip is never counted for the chief it was routed around.
"""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, json, request
from flask_smorest import Blueprint

from server.accounts.roles import STAFF_ROLES
from server.coverage import exports, services, tiles
from server.coverage.fields import definitions
from server.coverage.schemas import CoverageQuery, CoverageSchema, MemberListSchema, MetaSchema, RangeQuery
from server.errors import NotFound, Problem, ProblemSchema
from server.scope import current_scope, require_roles
from server.timestamps import utcnow

blp = Blueprint(
    "coverage", __name__, url_prefix="/api/v1", description="Coverage (覆盖情况): indicators, indices, exports"
)
ALT_CONTENT = {
    "responses": {
        "200": {
            "content": {
                "application/geo+json": {"schema": {"type": "object", "description": "format=geojson"}},
                "text/csv": {"schema": {"type": "string", "description": "UTF-8 with BOM (format=csv)"}},
            }
        }
    }
}


@blp.route("/coverage/meta")
@require_roles(*services.COVERAGE_ROLES)
@blp.response(200, MetaSchema)
def meta():
    """Indicator names and labels, the index formula, weights and thresholds, windows, the optional basemap."""
    settings = current_app.config["GRID"]
    scope = current_scope()
    roots = services.scope_roots(services.current_tree(), scope)
    return {
        "fields": definitions(),
        "indices": services.current_config().as_dict(),
        "windows": {"visit_days": settings.visit_target_days, "patrol_days": settings.coverage_patrol_days},
        "cache_seconds": settings.coverage_cache_seconds,
        "basemap": {
            "url": settings.map_tile_url or None,
            "label_url": settings.map_label_url or None,
            "subdomains": settings.map_tile_subdomains or None,
            "attribution": settings.map_tile_attribution or None,
        },
        "home_area": roots[0] if roots else None,
    }


@blp.route("/coverage/<area_code>")
@require_roles(*services.COVERAGE_ROLES)
@blp.arguments(CoverageQuery, location="query")
@blp.response(200, CoverageSchema)
@blp.doc(**ALT_CONTENT)
@blp.alt_response(404, schema=ProblemSchema, description="No such area, or outside your scope (the same answer).")
def area_coverage(args, area_code):
    """An area's children with their indicators, and the area's totals; ?format=geojson or csv to export."""
    cov = services.area_coverage(area_code, services.current_viewer(), utcnow(), args["since"], args["until"])
    child_level = services.CHILD_LEVEL.get(cov.tree.nodes[area_code].level)
    items = [cov.row(code) for code in cov.children()]
    total = cov.row(area_code)
    if args["format"] == "csv":
        name = f"覆盖情况_{total['name']}_{area_code}.csv"
        return Response(
            exports.csv_text(items, total),
            mimetype="text/csv",
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": exports.attachment(name)},
        )
    body = {
        "area": total,
        "child_level": child_level,
        "child_level_zh": services.level_label(child_level),
        "items": items,
        "window": cov.window.as_dict(),
    }
    if args["format"] == "geojson":
        shapes = exports.geometries(cov.tree.generation_id, [row["code"] for row in items])
        collection = exports.feature_collection(
            items, shapes, area=total, child_level=child_level, window=body["window"]
        )
        response = Response(json.dumps(collection), mimetype="application/geo+json")
        response.headers["Content-Disposition"] = exports.attachment(f"覆盖情况_{total['name']}_{area_code}.geojson")
        return response
    return body


@blp.route("/coverage/<area_code>/members")
@require_roles(*STAFF_ROLES)
@blp.arguments(RangeQuery, location="query")
@blp.response(200, MemberListSchema)
@blp.alt_response(404, schema=ProblemSchema, description="No such area, or outside your scope (the same answer).")
def members(args, area_code):
    """先锋指数: the members whose home area is under this area, with their links, visits and patrols."""
    node, window, rows = services.member_rows(
        area_code, services.current_viewer(), utcnow(), args["since"], args["until"]
    )
    return {"area": node.ref(), "window": window.as_dict(), "items": rows}


# --- vector tiles: a plain Flask blueprint (binary bodies; flask-smorest adds nothing here) -----------------------

tiles_bp = FlaskBlueprint("tiles", __name__)
MAX_ZOOM = 24


def range_args() -> dict:
    """since / until from the query string, validated like the coverage API's (422 problem+json)."""
    try:
        return RangeQuery().load({k: v for k, v in request.args.items() if k in ("since", "until")})
    except ma.ValidationError as error:
        raise Problem(
            422, "validation-failed", "Some fields are invalid; see `errors`.", errors=error.messages
        ) from None


@tiles_bp.get("/tiles/grids/<int:z>/<int:x>/<int:y>.mvt")
@require_roles(*services.COVERAGE_ROLES)
def grid_tile(z: int, x: int, y: int):
    """One vector tile (layer `grids`, extent 4096) of the grids in the caller's scope, indicators as attributes."""
    if not (z <= MAX_ZOOM and x < (1 << z) and y < (1 << z)):
        raise NotFound("tile")
    args = range_args()
    tree, rows = services.area_rows(services.current_viewer(), utcnow(), args["since"], args["until"])
    codes = tiles.grid_codes_in_tile(tree.generation_id, z, x, y)
    data = tiles.encode(tree.generation_id, z, x, y, [rows[c] for c in codes if c in rows])
    ttl = int(current_app.config["GRID"].coverage_cache_seconds)
    return Response(data, mimetype=tiles.MVT_MIME, headers={"Cache-Control": f"private, max-age={ttl}"})
