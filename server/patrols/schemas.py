"""Request and response schemas for patrols (they also generate the OpenAPI)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from server.geo.datum import DATUMS
from server.households.schemas import MemberRefSchema, PageQuery
from server.patrols.services import MAX_POINTS_PER_BATCH


class PatrolInSchema(ma.Schema):
    note = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class PatrolIdSchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.String(metadata={"example": "open"})
    status_zh = ma.fields.String(metadata={"example": "进行中"})


class BatchInSchema(ma.Schema):
    seq = ma.fields.Integer(
        required=True,
        validate=validate.Range(min=0, max=1_000_000),
        metadata={"description": "The batch's number. Resend a batch with the same seq and the same points."},
    )
    datum = ma.fields.String(
        load_default="wgs84", metadata={"enum": list(DATUMS) + ["cgcs2000"], "description": "Datum of every point."}
    )
    points = ma.fields.List(
        ma.fields.List(ma.fields.Raw(allow_none=True)),
        required=True,
        validate=validate.Length(max=MAX_POINTS_PER_BATCH),
        metadata={
            "description": "[[lon, lat, unix_time_seconds, accuracy_m|null], ...] in any order.",
            "example": [[118.8701, 28.9402, 1764400000, 8.0], [118.8703, 28.9404, 1764400005, 6.5]],
        },
    )


class BatchResultSchema(ma.Schema):
    patrol_id = ma.fields.Integer()
    seq = ma.fields.Integer()
    points = ma.fields.Integer(metadata={"description": "Points in this batch."})
    duplicate = ma.fields.Boolean(metadata={"description": "True when this batch had been received already."})
    points_received = ma.fields.Integer(metadata={"description": "Points of the whole patrol so far."})


class PatrolGridSchema(ma.Schema):
    code = ma.fields.String(metadata={"example": "330899001001001"})
    name = ma.fields.String(allow_none=True)
    seconds = ma.fields.Float(metadata={"description": "Time spent in the grid."})
    distance_m = ma.fields.Float(metadata={"description": "Distance walked in the grid."})
    first_at = ma.fields.DateTime()
    last_at = ma.fields.DateTime()


class PointCountsSchema(ma.Schema):
    received = ma.fields.Integer()
    kept = ma.fields.Integer(allow_none=True)
    dropped_inaccurate = ma.fields.Integer(allow_none=True)
    dropped_duplicate = ma.fields.Integer(allow_none=True)
    dropped_too_fast = ma.fields.Integer(allow_none=True)


class PatrolSummarySchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.String(metadata={"enum": ["open", "finished"]})
    status_zh = ma.fields.String()
    distance_m = ma.fields.Float(allow_none=True)
    duration_s = ma.fields.Float(allow_none=True)
    started_at = ma.fields.DateTime()
    finished_at = ma.fields.DateTime(allow_none=True)
    first_point_at = ma.fields.DateTime(allow_none=True)
    last_point_at = ma.fields.DateTime(allow_none=True)
    points = ma.fields.Nested(PointCountsSchema)


class FinishResultSchema(PatrolSummarySchema):
    grids = ma.fields.List(ma.fields.Nested(PatrolGridSchema), metadata={"description": "Most time first."})


class LineStringSchema(ma.Schema):
    type = ma.fields.String(metadata={"example": "LineString"})
    coordinates = ma.fields.List(ma.fields.List(ma.fields.Float()))


class PatrolDetailSchema(FinishResultSchema):
    patroller = ma.fields.Nested(MemberRefSchema)
    note = ma.fields.String(allow_none=True)
    generation_id = ma.fields.Integer(allow_none=True)
    track = ma.fields.Nested(
        LineStringSchema, allow_none=True, metadata={"description": "GeoJSON (WGS-84): simplified unless ?full=true."}
    )
    point_times = ma.fields.List(
        ma.fields.Float(), metadata={"description": "With ?full=true: unix time of each vertex of the track."}
    )


class PatrolQuery(ma.Schema):
    full = ma.fields.Boolean(load_default=False, metadata={"description": "The full track and its times."})


class GridPatrolQuery(PageQuery):
    since = ma.fields.AwareDateTime(load_default=None, metadata={"description": "Only patrols there since then."})


class GridPatrolItemSchema(ma.Schema):
    patrol_id = ma.fields.Integer()
    patroller = ma.fields.Nested(MemberRefSchema)
    status = ma.fields.String()
    seconds = ma.fields.Float(metadata={"description": "Time in this grid."})
    distance_m = ma.fields.Float(metadata={"description": "Distance in this grid."})
    first_at = ma.fields.DateTime()
    last_at = ma.fields.DateTime()
    patrol_distance_m = ma.fields.Float(allow_none=True)
    patrol_duration_s = ma.fields.Float(allow_none=True)


class GridPatrolListSchema(ma.Schema):
    grid = ma.fields.Dict(metadata={"example": {"code": "330899001001001", "name": "白云社区第1网格"}})
    items = ma.fields.List(ma.fields.Nested(GridPatrolItemSchema))
    total = ma.fields.Integer()
    limit = ma.fields.Integer()
    offset = ma.fields.Integer()


class PatrolListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(PatrolSummarySchema))
    total = ma.fields.Integer()
    limit = ma.fields.Integer()
    offset = ma.fields.Integer()
