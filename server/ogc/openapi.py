"""The OpenAPI 3.0 description of /ogc (the landing page's `service-desc`), built from the collection list that the
routes serve. tests/ogc checks that every /ogc route is described here and nothing else is."""

from __future__ import annotations

from server import API_VERSION
from server.ogc.features import COLLECTIONS

JSON, GEOJSON, PROBLEM = "application/json", "application/geo+json", "application/problem+json"


def _ok(media: str, description: str) -> dict:
    return {"description": description, "content": {media: {"schema": {"type": "object"}}}}


def _problem(description: str) -> dict:
    return {"description": description, "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _param(name: str, schema: dict, description: str, where: str = "query", required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required, "schema": schema, "description": description}


F = _param("f", {"type": "string", "enum": ["json"]}, "The format: json (the only one offered).")
COLLECTION_ID = _param(
    "collectionId", {"type": "string", "enum": list(COLLECTIONS)}, "A collection.", "path", required=True
)
ERRORS = {"400": _problem("A query parameter is unknown or invalid."), "default": _problem("An error.")}


def document(server_url: str) -> dict:
    def op(summary: str, media: str, params: list, responses: dict | None = None) -> dict:
        return {
            "get": {
                "summary": summary,
                "parameters": params,
                "responses": {"200": _ok(media, summary)} | ERRORS | (responses or {}),
            }
        }

    not_found = {"404": _problem("No such collection or feature (or outside your scope).")}
    items_params = [
        COLLECTION_ID,
        _param(
            "bbox",
            {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
            "minlon,minlat,maxlon,maxlat (CRS84).",
        ),
        _param("limit", {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}, "Page size."),
        _param("offset", {"type": "integer", "minimum": 0, "default": 0}, "Features to skip (see the next link)."),
        F,
    ]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "网格巡查 OGC API - Features",
            "version": API_VERSION,
            "description": "Grids, villages and townships of the current map; with a coverage viewer's token, "
            "their coverage indicators too (Authorization: Bearer).",
        },
        "servers": [{"url": server_url}],
        "components": {
            "schemas": {
                "Problem": {
                    "type": "object",
                    "properties": {k: {"type": "string"} for k in ("type", "title", "detail", "instance")}
                    | {"status": {"type": "integer"}},
                }
            },
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{}, {"bearerAuth": []}],
        "paths": {
            "/ogc": op("Landing page", JSON, [F]),
            "/ogc/api": op("This API definition", "application/vnd.oai.openapi+json;version=3.0", [F]),
            "/ogc/conformance": op("Conformance classes", JSON, [F]),
            "/ogc/collections": op("The collections", JSON, [F]),
            "/ogc/collections/{collectionId}": op("One collection", JSON, [COLLECTION_ID, F], not_found),
            "/ogc/collections/{collectionId}/items": op("Features", GEOJSON, items_params, not_found),
            "/ogc/collections/{collectionId}/items/{featureId}": op(
                "One feature",
                GEOJSON,
                [COLLECTION_ID, _param("featureId", {"type": "string"}, "An area code.", "path", required=True), F],
                not_found,
            ),
        },
    }
