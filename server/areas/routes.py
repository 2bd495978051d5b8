"""Areas, grids and point location. Public: grid geometry, codes and names are public; people are not.

The one exception is `responsible` in the locate answer: the names (never phone numbers) of the grid's
current chief and deputies, given only to a caller with a valid access token. Anonymous callers get the
grid without any people. See server/accounts/__init__.py for the privacy decision.
"""

from __future__ import annotations

import json

from flask import current_app
from flask_smorest import Blueprint

from server.accounts.assignments import responsible_for_grid
from server.accounts.schemas import responsible_view
from server.areas import services
from server.areas.models import LEVEL_LABELS_ZH
from server.areas.schemas import (
    AreaListSchema,
    AreaQuery,
    AreaSchema,
    FeatureCollectionSchema,
    GenerationQuery,
    GridsQuery,
    LocateQuery,
    LocateResultSchema,
)
from server.errors import ProblemSchema
from server.geo.geojson import area_feature, area_properties, feature_collection, geometry_of, page_links
from server.scope import optional_user

blp = Blueprint("areas", __name__, url_prefix="/api/v1", description="Areas and grids (区划与网格)")


def _ref(area) -> dict:
    return {"code": area.code, "name": area.name, "level": area.level, "level_zh": LEVEL_LABELS_ZH[area.level]}


@blp.route("/areas/<code>")
@blp.arguments(AreaQuery, location="query")
@blp.response(200, AreaSchema)
@blp.alt_response(404, schema=ProblemSchema)
def get_area(args, code):
    """One area, with its chain of ancestors; `?geometry=true` adds the boundary."""
    area = services.get_area(code, args["generation"])
    body = area_properties(area) | {"chain": [_ref(a) for a in services.area_chain(area)]}
    if args["geometry"]:
        body["geometry"] = geometry_of(area)
    return body


@blp.route("/areas/<code>/children")
@blp.arguments(GenerationQuery, location="query")
@blp.response(200, AreaListSchema)
@blp.alt_response(404, schema=ProblemSchema)
def get_children(args, code):
    """The areas directly below one area, by code."""
    children = services.get_children(code, args["generation"])
    parent = services.get_area(code, args["generation"])
    return {"parent": _ref(parent), "items": [area_properties(c) for c in children]}


@blp.route("/grids")
@blp.arguments(GridsQuery, location="query")
@blp.response(200, FeatureCollectionSchema, content_type="application/geo+json")
def list_grids(args):
    """Grids of the current map as GeoJSON, filtered by bbox and/or an ancestor area, paged by code."""
    rows, total = services.list_grids(args["bbox"], args["within"], args["limit"], args["offset"])
    body = feature_collection(
        [area_feature(r) for r in rows],
        total=total,
        links=page_links("areas.list_grids", limit=args["limit"], offset=args["offset"], total=total),
    )
    return current_app.response_class(json.dumps(body, ensure_ascii=False), mimetype="application/geo+json")


@blp.route("/grids/locate")
@blp.doc(security=[{}, {"bearerAuth": []}])
@blp.arguments(LocateQuery, location="query")
@blp.response(200, LocateResultSchema)
@blp.alt_response(401, schema=ProblemSchema, description="A token was sent but is not valid (send none: anonymous).")
@blp.alt_response(404, schema=ProblemSchema, description="Outside every grid beyond the snap distance.")
@blp.alt_response(422, schema=ProblemSchema, description="Bad coordinates or an unknown datum.")
def locate(args):
    """Which grid a point is in (edges inclusive), and its village, township and county; with a token, who answers."""
    user = optional_user()
    found = services.locate(args["lon"], args["lat"], args["datum"])
    body = {
        "grid": _ref(found.hit.grid),
        "chain": [_ref(a) for a in found.chain],
        "generation_id": found.generation_id,
        "snapped": found.hit.snapped,
        "distance_m": round(found.hit.distance_m, 1),
        "point": {"lon": found.wgs84[0], "lat": found.wgs84[1], "datum": "wgs84"},
        "input": {"lon": args["lon"], "lat": args["lat"], "datum": args["datum"]},
    }
    if user is not None:
        body["responsible"] = responsible_view(responsible_for_grid(found.hit.grid.code))
    return body
