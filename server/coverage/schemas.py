"""Request and response schemas for coverage. The row schema is built from server/coverage/fields.py, so that the
OpenAPI lists exactly the indicators the code computes."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from server.coverage.fields import INDICATOR_FIELDS

_FIELD_TYPES = {
    "count": lambda d: ma.fields.Integer(metadata={"description": d}),
    "rate": lambda d: ma.fields.Float(allow_none=True, metadata={"description": d + " (0..1; null: no denominator)"}),
    "number": lambda d: ma.fields.Float(allow_none=True, metadata={"description": d}),
    "time": lambda d: ma.fields.String(allow_none=True, metadata={"description": d, "format": "date-time"}),
}


class RangeQuery(ma.Schema):
    since = ma.fields.Date(
        load_default=None, metadata={"description": "First day of the range (local date, inclusive)."}
    )
    until = ma.fields.Date(
        load_default=None, metadata={"description": "Last day of the range (local date, inclusive)."}
    )

    @ma.validates_schema
    def _ordered(self, data, **kwargs):
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ma.ValidationError("since must not be after until.", "since")


class CoverageQuery(RangeQuery):
    format = ma.fields.String(
        load_default="json",
        validate=validate.OneOf(["json", "geojson", "csv"]),
        metadata={"description": "json (default), geojson (a FeatureCollection of the children) or csv (UTF-8, BOM)."},
    )


class AreaIndicatorsSchema(ma.Schema):
    code = ma.fields.String(metadata={"example": "330899001001"})
    name = ma.fields.String(metadata={"example": "上方村"})
    level = ma.fields.String()
    level_zh = ma.fields.String()
    parent_code = ma.fields.String(allow_none=True)
    index = ma.fields.String(allow_none=True, metadata={"description": "service (townships), fortress (villages)."})
    index_zh = ma.fields.String(allow_none=True)
    index_value = ma.fields.Float(allow_none=True, metadata={"description": "0..100, see GET /coverage/meta."})
    index_class = ma.fields.String(allow_none=True, metadata={"enum": ["red", "yellow", "grey", "none"]})
    index_class_zh = ma.fields.String(allow_none=True)


for _f in INDICATOR_FIELDS:
    AreaIndicatorsSchema._declared_fields[_f.name] = _FIELD_TYPES[_f.kind](f"{_f.zh} - {_f.en}")


class WindowSchema(ma.Schema):
    now = ma.fields.String(metadata={"description": "Open and overdue are judged at this moment (UTC)."})
    since = ma.fields.String(allow_none=True)
    until = ma.fields.String(allow_none=True)
    visits_from = ma.fields.String()
    patrols_from = ma.fields.String()
    tips_from = ma.fields.String(allow_none=True)
    tips_to = ma.fields.String(allow_none=True)


class CoverageSchema(ma.Schema):
    area = ma.fields.Nested(AreaIndicatorsSchema, metadata={"description": "The area's totals (rolled up)."})
    child_level = ma.fields.String(allow_none=True, metadata={"example": "village"})
    child_level_zh = ma.fields.String(allow_none=True)
    items = ma.fields.List(ma.fields.Nested(AreaIndicatorsSchema), metadata={"description": "The children, by code."})
    window = ma.fields.Nested(WindowSchema)


class FieldDefinitionSchema(ma.Schema):
    name = ma.fields.String()
    zh = ma.fields.String()
    en = ma.fields.String()
    kind = ma.fields.String()
    choropleth = ma.fields.Boolean()
    higher_is_better = ma.fields.Boolean()


class BasemapSchema(ma.Schema):
    url = ma.fields.String(allow_none=True)
    label_url = ma.fields.String(allow_none=True)
    subdomains = ma.fields.String(allow_none=True)
    attribution = ma.fields.String(allow_none=True)


class MetaSchema(ma.Schema):
    fields = ma.fields.List(ma.fields.Nested(FieldDefinitionSchema))
    indices = ma.fields.Dict(metadata={"description": "Formula, weights, thresholds (GRID_INDEX_WEIGHTS/THRESHOLDS)."})
    windows = ma.fields.Dict(metadata={"description": "Default window lengths in days."})
    cache_seconds = ma.fields.Float()
    basemap = ma.fields.Nested(BasemapSchema)
    home_area = ma.fields.String(allow_none=True, metadata={"description": "Where the viewer's map starts."})


class MemberSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    home_area_code = ma.fields.String()
    home_area_name = ma.fields.String(allow_none=True)
    households_linked = ma.fields.Integer()
    households_visited = ma.fields.Integer()
    patrols = ma.fields.Integer()
    patrol_hours = ma.fields.Float()
    patrol_km = ma.fields.Float()
    link_load_rate = ma.fields.Float(allow_none=True)
    visit_rate = ma.fields.Float(allow_none=True)
    patrol_rate = ma.fields.Float(allow_none=True)
    index = ma.fields.String()
    index_zh = ma.fields.String()
    index_value = ma.fields.Float(allow_none=True)
    index_class = ma.fields.String()
    index_class_zh = ma.fields.String()


class MemberListSchema(ma.Schema):
    area = ma.fields.Dict()
    window = ma.fields.Nested(WindowSchema)
    items = ma.fields.List(ma.fields.Nested(MemberSchema))
