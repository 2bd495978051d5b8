"""OGC API - Features routes (see server/ogc/__init__.py for who sees what)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, json, request, url_for

from server.areas.services import resolve_generation
from server.bounds import INT_MAX
from server.coverage import services as coverage
from server.errors import NotFound, Problem
from server.geo.geojson import area_feature, page_links
from server.ogc import features
from server.ogc.openapi import document
from server.scope import optional_user
from server.timestamps import utcnow

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

JSON, GEOJSON = "application/json", "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
DEFAULT_LIMIT, MAX_LIMIT = 100, 10_000


def _reply(body: dict, media: str = JSON) -> Response:
    return Response(json.dumps(body), mimetype=media)


def _check_params(*allowed: str) -> None:
    """OGC /req/core/query-param-unknown and -invalid: 400, never a silent ignore."""
    unknown = sorted(set(request.args) - {"f", *allowed})
    if unknown:
        raise Problem(400, "unknown-parameter", f"Unknown query parameter(s): {', '.join(unknown)}.")
    if request.args.get("f", "json") not in ("json", "geojson"):
        raise Problem(400, "invalid-parameter", "f must be json: this API offers JSON and GeoJSON only.")


def _link(endpoint: str, rel: str, media: str, title: str | None = None, **values) -> dict:
    link = {"href": url_for(endpoint, _external=True, **values), "rel": rel, "type": media}
    if title:
        link["title"] = title
    return link


def _collection(collection_id: str) -> features.Collection:
    found = features.COLLECTIONS.get(collection_id)
    if found is None:
        raise NotFound("collection")
    return found


def _viewer():
    """A coverage viewer (scope + indicators) when a token of a coverage role was sent; None: the public view."""
    user = optional_user()
    if user is None or not (user.roles & set(coverage.COVERAGE_ROLES)):
        return None
    return coverage.current_viewer()


@bp.get("")
@bp.get("/")  # clients such as OWSLib ask for the landing page with a trailing slash
def landing():
    _check_params()
    return _reply(
        {
            "title": "网格巡查 OGC API - Features",
            "description": "全科网格、村/社区与乡镇/街道的边界与覆盖情况 (grids, villages, townships; coverage "
            "indicators with a coverage viewer's token).",
            "links": [
                _link("ogc.landing", "self", JSON, "This document"),
                _link("ogc.api", "service-desc", OPENAPI, "The API definition"),
                _link("ogc.conformance", "conformance", JSON, "Conformance classes"),
                _link("ogc.collections", "data", JSON, "The collections"),
            ],
        }
    )


@bp.get("/api")
def api():
    _check_params()
    return _reply(document(request.host_url.rstrip("/")), OPENAPI)


@bp.get("/conformance")
def conformance():
    _check_params()
    return _reply({"conformsTo": CONFORMANCE})


def _collection_doc(c: features.Collection, generation_id: int) -> dict:
    bbox = features.extent(generation_id, c.level)
    return {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "crs": [CRS84],
        "extent": {"spatial": {"bbox": [bbox] if bbox else [], "crs": CRS84}},
        "links": [
            _link("ogc.collection", "self", JSON, c.title, collection_id=c.id),
            _link("ogc.items", "items", GEOJSON, c.title, collection_id=c.id),
        ],
    }


@bp.get("/collections")
def collections():
    _check_params()
    generation = resolve_generation(None)
    return _reply(
        {
            "links": [_link("ogc.collections", "self", JSON)],
            "collections": [_collection_doc(c, generation) for c in features.COLLECTIONS.values()],
        }
    )


@bp.get("/collections/<collection_id>")
def collection(collection_id: str):
    _check_params()
    return _reply(_collection_doc(_collection(collection_id), resolve_generation(None)))


def _int(name: str, default: int, low: int, high: int = INT_MAX) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Problem(400, "invalid-parameter", f"{name} must be a whole number.") from None
    if value < low:
        raise Problem(400, "invalid-parameter", f"{name} must be at least {low}.")
    return min(value, high)


def _bbox():
    raw = request.args.get("bbox")
    if raw is None:
        return None
    try:
        values = [float(v) for v in raw.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or not (-180 <= values[0] <= values[2] <= 180 and -90 <= values[1] <= values[3] <= 90):
        raise Problem(400, "invalid-parameter", "bbox must be minlon,minlat,maxlon,maxlat in CRS84 degrees.")
    return tuple(values)


def _feature(area, rows: dict | None) -> dict:
    feature = area_feature(area)
    if rows is not None:
        row = rows.get(area.code) or {}
        feature["properties"] |= {k: v for k, v in row.items() if k not in feature["properties"]}
    return feature


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str):
    c = _collection(collection_id)
    _check_params("bbox", "limit", "offset")
    limit, offset, bbox = _int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT), _int("offset", 0, 0), _bbox()
    viewer = _viewer()
    generation = resolve_generation(None)
    rows = None
    if viewer is not None:
        _, rows = coverage.area_rows(viewer, utcnow())
    areas, total = features.items(generation, c.level, viewer.scope if viewer else None, bbox, limit, offset)
    links = page_links("ogc.items", limit=limit, offset=offset, total=total, external=True, collection_id=c.id)
    links.insert(1, _link("ogc.collection", "collection", JSON, c.title, collection_id=c.id))
    body = {
        "type": "FeatureCollection",
        "features": [_feature(a, rows) for a in areas],
        "numberMatched": total,
        "numberReturned": len(areas),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": links,
    }
    return _reply(body, GEOJSON)


@bp.get("/collections/<collection_id>/items/<feature_id>")
def feature(collection_id: str, feature_id: str):
    c = _collection(collection_id)
    _check_params()
    viewer = _viewer()
    area = features.item(resolve_generation(None), c.level, feature_id)
    if area is None or (viewer is not None and not viewer.scope.allows(area.code)):
        raise NotFound("feature")
    rows = coverage.area_rows(viewer, utcnow())[1] if viewer is not None else None
    body = _feature(area, rows)
    body["links"] = [
        _link("ogc.feature", "self", GEOJSON, collection_id=c.id, feature_id=area.code),
        _link("ogc.collection", "collection", JSON, c.title, collection_id=c.id),
    ]
    return _reply(body, GEOJSON)
