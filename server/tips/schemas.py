"""Tip request and response schemas (they also generate the OpenAPI)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from server import bounds
from server.geo.datum import DATUMS

DESCRIPTION_MAX = 5000
DEVICE_HASH_PATTERN = r"^[A-Za-z0-9+/=_-]{16,128}$"
SORT_KEYS = ("submitted_at", "accept_due_at", "resolve_due_at")


class LocationSchema(ma.Schema):
    lon = ma.fields.Float(required=True, allow_nan=True, metadata={"example": 118.87})
    lat = ma.fields.Float(required=True, allow_nan=True, metadata={"example": 28.94})
    datum = ma.fields.String(required=True, metadata={"enum": [*DATUMS, "cgcs2000"]})
    accuracy_m = ma.fields.Float(load_default=None, validate=validate.Range(min=0, max=100_000))


class ClientSchema(ma.Schema):
    app_version = ma.fields.String(load_default=None, validate=validate.Length(max=40))
    device_hash = ma.fields.String(
        load_default=None,
        validate=validate.Regexp(DEVICE_HASH_PATTERN, error="device_hash must be a hash (16-128 chars)."),
        metadata={"description": "A hash of the device id made on the phone; never the id itself."},
    )


class TipSubmitSchema(ma.Schema):
    category = ma.fields.String(required=True, metadata={"example": "vice.gambling"})
    description = ma.fields.String(required=True, validate=validate.Length(min=1, max=DESCRIPTION_MAX))
    location = ma.fields.Nested(LocationSchema, required=True)
    occurred_at = ma.fields.AwareDateTime(load_default=None, metadata={"example": "2026-11-28T21:30:00+08:00"})
    anonymous = ma.fields.Boolean(load_default=False)
    implicates_official = ma.fields.Boolean(
        load_default=False, metadata={"description": "This involves a local cadre (涉及基层干部): skip the grid chief."}
    )
    client = ma.fields.Nested(ClientSchema, load_default=dict)


class PhotoRefSchema(ma.Schema):
    id = ma.fields.Integer()
    url = ma.fields.String()
    thumb_url = ma.fields.String()
    width = ma.fields.Integer()
    height = ma.fields.Integer()
    mime = ma.fields.String()


class ReceiptSchema(ma.Schema):
    code = ma.fields.String(metadata={"description": "Quote it to follow the tip; not secret on its own."})
    secret = ma.fields.String(metadata={"description": "Shown once per request; keep it. It proves you sent the tip."})


class SubmittedTipSchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.String()
    status_zh = ma.fields.String()
    category = ma.fields.String()
    submitted_at = ma.fields.String()
    grid = ma.fields.Dict(allow_none=True)
    outside_grids = ma.fields.Boolean()
    snapped_m = ma.fields.Float(allow_none=True)
    photos = ma.fields.List(ma.fields.Nested(PhotoRefSchema))
    receipt = ma.fields.Nested(ReceiptSchema, allow_none=True)


class CategorySchema(ma.Schema):
    code = ma.fields.String()
    parent_code = ma.fields.String(allow_none=True)
    label_zh = ma.fields.String()
    label_en = ma.fields.String()
    accept_hours = ma.fields.Integer(metadata={"description": "Working hours from dispatch to acceptance."})
    resolve_days = ma.fields.Integer(metadata={"description": "Working days from dispatch to resolution."})
    urgent = ma.fields.Boolean()
    conflict = ma.fields.Boolean(metadata={"description": "Always routed around the grid chief (保护伞)."})


class CategoryListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CategorySchema))


class TipListQuery(ma.Schema):
    status = ma.fields.String(load_default=None)
    category = ma.fields.String(load_default=None)
    grid = ma.fields.String(load_default=None)
    since = ma.fields.AwareDateTime(load_default=None)
    until = ma.fields.AwareDateTime(load_default=None)
    overdue = ma.fields.Boolean(
        load_default=None, metadata={"description": "true: only tips past their accept or resolve deadline now."}
    )
    sort = ma.fields.String(
        load_default="-submitted_at",
        validate=validate.OneOf([f"{sign}{key}" for key in SORT_KEYS for sign in ("", "-")]),
        metadata={"description": "A key, or -key for descending: submitted_at, accept_due_at, resolve_due_at."},
    )
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    offset = bounds.offset()


class TipViewSchema(ma.Schema):
    id = ma.fields.Integer()
    category = ma.fields.Dict()
    description = ma.fields.String()
    status = ma.fields.String()
    status_zh = ma.fields.String()
    submitted_at = ma.fields.String(metadata={"description": "Rounded to the minute."})
    occurred_at = ma.fields.String(allow_none=True)
    location = ma.fields.Dict(metadata={"description": "Canonical WGS-84 point."})
    grid = ma.fields.Dict(allow_none=True)
    routing = ma.fields.Dict()
    reporter = ma.fields.Dict(metadata={"description": "Always confidential: only the reporter's role."})
    photos = ma.fields.List(ma.fields.Nested(PhotoRefSchema))
    related = ma.fields.List(ma.fields.Dict())
    feedback = ma.fields.String(allow_none=True)
    version = ma.fields.Integer(metadata={"description": "Send it back with an action to act only on what you saw."})
    deadlines = ma.fields.Dict(
        metadata={"description": "accept_due_at, resolve_due_at, overdue flags, the clock (working hours or 24x7)."}
    )
    result = ma.fields.String(allow_none=True)
    referred_to = ma.fields.String(allow_none=True)
    duplicate_of = ma.fields.Integer(allow_none=True)
    postpone_request = ma.fields.Dict(allow_none=True)
    timeline = ma.fields.List(ma.fields.Dict(), metadata={"description": "Detail only: every step, oldest first."})
    allowed_actions = ma.fields.List(
        ma.fields.String(), metadata={"description": "Detail only: what you may do with the tip now."}
    )


class TipPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(TipViewSchema))
    total = ma.fields.Integer()
    counts = ma.fields.Dict(metadata={"description": "Visible tips per status, for the inbox badge."})
    limit = ma.fields.Integer()
    offset = ma.fields.Integer()


class MineItemSchema(ma.Schema):
    id = ma.fields.Integer()
    category = ma.fields.String()
    status = ma.fields.String()
    status_zh = ma.fields.String()
    submitted_at = ma.fields.String()
    feedback = ma.fields.String(allow_none=True)
    messages = ma.fields.List(ma.fields.Dict())


class MineListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(MineItemSchema))


class ReceiptQuery(ma.Schema):
    code = ma.fields.String(required=True, validate=validate.Length(min=4, max=16))
    secret = ma.fields.String(required=True, validate=validate.Length(min=8, max=64))


class MessageSchema(ma.Schema):
    body = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ReceiptMessageSchema(ReceiptQuery):
    body = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))


class FeedbackSchema(ma.Schema):
    feedback = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))


class RevealRequestSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=10, max=2000))


class RevealDecisionSchema(ma.Schema):
    decision = ma.fields.String(required=True, validate=validate.OneOf(["approve", "deny"]))
    note = ma.fields.String(load_default=None, validate=validate.Length(max=2000))


class RevealViewSchema(ma.Schema):
    id = ma.fields.Integer()
    tip_id = ma.fields.Integer()
    status = ma.fields.String()
    reason = ma.fields.String()
    requested_at = ma.fields.String()
    decided_at = ma.fields.String(allow_none=True)


class ReporterIdentitySchema(ma.Schema):
    anonymous = ma.fields.Boolean()
    name = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    role = ma.fields.String(allow_none=True)
