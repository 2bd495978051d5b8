"""Request and response schemas for households, member links and visits (they also generate the OpenAPI)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import marshmallow as ma
from marshmallow import validate

from server import bounds
from server.config import DEFAULT_HOUSEHOLD_TAGS
from server.geo.datum import DATUMS

CHINA_TZ = ZoneInfo("Asia/Shanghai")
DATUM_FIELD = {"enum": list(DATUMS) + ["cgcs2000"], "description": "The datum the point was measured in."}


class LocationInSchema(ma.Schema):
    lon = ma.fields.Float(required=True, allow_nan=True, metadata={"example": 118.87})
    lat = ma.fields.Float(required=True, allow_nan=True, metadata={"example": 28.94})
    datum = ma.fields.String(load_default="wgs84", metadata=DATUM_FIELD)
    accuracy_m = ma.fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0))


class LonLatSchema(ma.Schema):
    lon = ma.fields.Float()
    lat = ma.fields.Float()
    datum = ma.fields.String(metadata={"example": "wgs84"})


class SourcePointSchema(LonLatSchema):
    accuracy_m = ma.fields.Float(allow_none=True)


def tags_field(**kwargs) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=20)),
        metadata={
            "description": "Tags from GRID_HOUSEHOLD_TAGS; anything else is a 422 unknown-tag.",
            "example": list(DEFAULT_HOUSEHOLD_TAGS[:2]),
        },
        **kwargs,
    )


class HouseholdInSchema(ma.Schema):
    ref = ma.fields.String(
        load_default=None, validate=validate.Length(min=1, max=40), metadata={"description": "Register number."}
    )
    address = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    location = ma.fields.Nested(LocationInSchema, required=True)
    head_name = ma.fields.String(required=True, validate=validate.Length(min=1, max=60))
    head_phone = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    size = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=99))
    tags = tags_field(load_default=list, validate=validate.Length(max=20))


class GridRefSchema(ma.Schema):
    code = ma.fields.String(metadata={"example": "330899001001001"})
    name = ma.fields.String(allow_none=True)


class MemberRefSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String(allow_none=True)


class LinkedMemberSchema(MemberRefSchema):
    primary = ma.fields.Boolean()


class VisitStatusSchema(ma.Schema):
    last_visited_at = ma.fields.DateTime(allow_none=True)
    next_due_at = ma.fields.DateTime(
        metadata={"description": "GRID_VISIT_TARGET_DAYS after the last visit (or after registration if never)."}
    )
    overdue = ma.fields.Boolean()
    never_visited = ma.fields.Boolean()
    status = ma.fields.String(metadata={"enum": ["ok", "due_soon", "overdue"]})
    status_zh = ma.fields.String(metadata={"example": "已逾期"})


class HouseholdSchema(ma.Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String(allow_none=True)
    address = ma.fields.String()
    location = ma.fields.Nested(LonLatSchema, metadata={"description": "Canonical WGS-84."})
    head_name = ma.fields.String(metadata={"description": "Masked (王*) in lists and for those who may not see it."})
    head_phone = ma.fields.String(allow_none=True, metadata={"description": "Masked (138****0001) likewise."})
    personal_data_masked = ma.fields.Boolean()
    size = ma.fields.Integer()
    tags = tags_field()
    grid = ma.fields.Nested(GridRefSchema)
    generation_id = ma.fields.Integer()
    linked = ma.fields.Boolean(metadata={"description": "Has a primary member (党员联户)."})
    primary_member = ma.fields.Nested(MemberRefSchema, allow_none=True)
    visit = ma.fields.Nested(VisitStatusSchema)


class HouseholdDetailSchema(HouseholdSchema):
    members = ma.fields.List(ma.fields.Nested(LinkedMemberSchema))
    source = ma.fields.Nested(SourcePointSchema, metadata={"description": "The location exactly as sent."})
    snap_distance_m = ma.fields.Float(allow_none=True)
    created_at = ma.fields.DateTime()


class PageQuery(ma.Schema):
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = bounds.offset()


class HouseholdQuery(PageQuery):
    area = ma.fields.String(
        load_default=None, metadata={"description": "A grid code, or any area code: households under it."}
    )
    tag = ma.fields.String(load_default=None)
    linked = ma.fields.Boolean(load_default=None, metadata={"description": "With (true) or without a primary member."})
    overdue = ma.fields.Boolean(load_default=None)


class GridHouseholdQuery(PageQuery):
    tag = HouseholdQuery._declared_fields["tag"]
    linked = HouseholdQuery._declared_fields["linked"]
    overdue = HouseholdQuery._declared_fields["overdue"]


class HouseholdListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(HouseholdSchema))
    total = ma.fields.Integer()
    limit = ma.fields.Integer()
    offset = ma.fields.Integer()


class GridSummarySchema(ma.Schema):
    households = ma.fields.Integer()
    linked = ma.fields.Integer()
    visited_within_target = ma.fields.Integer(metadata={"description": "Visited in the last GRID_VISIT_TARGET_DAYS."})
    overdue = ma.fields.Integer()


class GridHouseholdListSchema(HouseholdListSchema):
    grid = ma.fields.Nested(GridRefSchema)
    summary = ma.fields.Nested(GridSummarySchema)


class DueQuery(PageQuery):
    within_days = ma.fields.Integer(
        load_default=7, validate=validate.Range(min=0, max=366), metadata={"description": "Due within this many days."}
    )


# --- links ----------------------------------------------------------------------------------------------------


class LinkInSchema(ma.Schema):
    member_id = bounds.row_id(required=True)
    household_ids = ma.fields.List(
        bounds.row_id(), required=True, validate=validate.Length(min=1, max=500), metadata={"example": [1, 2, 3]}
    )
    primary = ma.fields.Boolean(load_default=True, metadata={"description": "The household's one primary member."})


class UnlinkInSchema(ma.Schema):
    member_id = LinkInSchema._declared_fields["member_id"]
    household_ids = LinkInSchema._declared_fields["household_ids"]


class LinkResultSchema(ma.Schema):
    member_id = ma.fields.Integer()
    linked = ma.fields.List(ma.fields.Integer(), metadata={"description": "Newly linked households."})
    unchanged = ma.fields.List(ma.fields.Integer(), metadata={"description": "Already linked to this member."})
    links = ma.fields.Integer(metadata={"description": "The member's links now."})
    limit = ma.fields.Integer(metadata={"description": "GRID_LINK_LIMIT."})


class UnlinkResultSchema(ma.Schema):
    member_id = ma.fields.Integer()
    unlinked = ma.fields.List(ma.fields.Integer())
    links = ma.fields.Integer()
    limit = ma.fields.Integer()


class RebalanceQuery(ma.Schema):
    area = ma.fields.String(required=True, metadata={"description": "A grid, village, township or county code."})
    dry_run = ma.fields.Boolean(load_default=True, metadata={"description": "true (default): only propose."})


class ProposalSchema(ma.Schema):
    household_id = ma.fields.Integer()
    grid_code = ma.fields.String()
    member_id = ma.fields.Integer()
    member_name = ma.fields.String()
    distance_m = ma.fields.Float(metadata={"description": "From the member's position (see `members`)."})


class UnassignedSchema(ma.Schema):
    household_id = ma.fields.Integer()
    reason = ma.fields.String(metadata={"example": "no-member-with-room"})


class RebalanceMemberSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    room = ma.fields.Integer(metadata={"description": "Links left under GRID_LINK_LIMIT before this proposal."})
    position = ma.fields.Nested(LonLatSchema)
    position_from = ma.fields.String(metadata={"enum": ["linked_households", "home_area"]})
    proposed = ma.fields.Integer()


class RebalanceResultSchema(ma.Schema):
    area_code = ma.fields.String()
    dry_run = ma.fields.Boolean()
    applied = ma.fields.Boolean()
    proposals = ma.fields.List(ma.fields.Nested(ProposalSchema))
    unassigned = ma.fields.List(ma.fields.Nested(UnassignedSchema))
    members = ma.fields.List(ma.fields.Nested(RebalanceMemberSchema))


# --- visits ---------------------------------------------------------------------------------------------------


def visited_at_field() -> ma.fields.AwareDateTime:
    return ma.fields.AwareDateTime(
        load_default=None,
        default_timezone=CHINA_TZ,
        metadata={"description": "When the visit happened (ISO 8601; without an offset: China time). Default: now."},
    )


class VisitInSchema(ma.Schema):
    visited_at = visited_at_field()
    location = ma.fields.Nested(LocationInSchema, required=True, metadata={"description": "Where the member was."})
    note = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class VisitFormSchema(ma.Schema):
    """The multipart/form-data variant (with a photo): the location's fields are flat."""

    visited_at = visited_at_field()
    lon = ma.fields.Float(required=True, allow_nan=True)
    lat = ma.fields.Float(required=True, allow_nan=True)
    datum = ma.fields.String(load_default="wgs84", metadata=DATUM_FIELD)
    accuracy_m = ma.fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0))
    note = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    photo = ma.fields.Raw(metadata={"type": "string", "format": "binary", "description": "One optional photo."})


class VisitPhotoSchema(ma.Schema):
    sha256 = ma.fields.String()
    thumb_sha256 = ma.fields.String()
    mime = ma.fields.String()


class VisitSchema(ma.Schema):
    id = ma.fields.Integer()
    household_id = ma.fields.Integer()
    member = ma.fields.Nested(MemberRefSchema)
    grid_code = ma.fields.String()
    visited_at = ma.fields.DateTime()
    recorded_at = ma.fields.DateTime()
    location = ma.fields.Nested(LonLatSchema, metadata={"description": "Where the member was (WGS-84)."})
    source = ma.fields.Nested(SourcePointSchema)
    distance_m = ma.fields.Float(metadata={"description": "Metres between the member and the household."})
    far_from_household = ma.fields.Boolean(metadata={"description": "distance_m > GRID_VISIT_MAX_DISTANCE_M."})
    note = ma.fields.String(allow_none=True)
    photo = ma.fields.Nested(VisitPhotoSchema, allow_none=True)


class VisitResultSchema(VisitSchema):
    household_visit = ma.fields.Nested(VisitStatusSchema, metadata={"description": "The household's status now."})


class VisitListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(VisitSchema))
    total = ma.fields.Integer()
    limit = ma.fields.Integer()
    offset = ma.fields.Integer()
