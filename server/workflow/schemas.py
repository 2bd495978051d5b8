"""Request and response schemas of the workflow endpoints (they also generate the OpenAPI)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from server import bounds
from server.workflow.transitions import ACTIONS, REFER_TARGETS

TEXT = validate.Length(min=1, max=2000)


class ActionSchema(ma.Schema):
    action = ma.fields.String(required=True, validate=validate.OneOf(ACTIONS))
    note = ma.fields.String(load_default=None, validate=validate.Length(max=2000))
    version = ma.fields.Integer(
        load_default=None,
        metadata={"description": "The tip's version you saw; if it changed since, 409 conflicting-update."},
    )
    result = ma.fields.String(load_default=None, validate=TEXT, metadata={"description": "resolve: what was done."})
    reason = ma.fields.String(
        load_default=None,
        validate=TEXT,
        metadata={"description": "return, escalate, dismiss, reopen, request_postpone, deny_postpone."},
    )
    grid_code = ma.fields.String(
        load_default=None, validate=validate.Length(min=1, max=15), metadata={"description": "dispatch, transfer."}
    )
    to = ma.fields.String(
        load_default=None, validate=validate.OneOf(list(REFER_TARGETS)), metadata={"description": "refer."}
    )
    new_deadline = ma.fields.AwareDateTime(
        load_default=None, metadata={"description": "request_postpone (required), approve_postpone (optional)."}
    )
    duplicate_of = bounds.row_id(load_default=None, metadata={"description": "merge: the tip this one repeats."})


class MetricsQuery(ma.Schema):
    area = ma.fields.String(required=True, metadata={"description": "A grid, village, township or county code."})
    since = ma.fields.AwareDateTime(load_default=None, metadata={"description": "Default: 30 days before until."})
    until = ma.fields.AwareDateTime(load_default=None, metadata={"description": "Default: now."})


class MetricSchema(ma.Schema):
    code = ma.fields.String(allow_none=True)
    name = ma.fields.String(allow_none=True)
    opened = ma.fields.Integer(metadata={"description": "Tips whose clock started in the period (立案数)."})
    closed = ma.fields.Integer(metadata={"description": "Of those, closed (结案数)."})
    closure_rate = ma.fields.Float(allow_none=True, metadata={"description": "结案率 = closed / opened."})
    due = ma.fields.Integer(metadata={"description": "Resolve deadline in the period and already past (应结案数)."})
    postponed = ma.fields.Integer(metadata={"description": "Of the due, postponed (延期数)."})
    closed_on_time = ma.fields.Integer(metadata={"description": "Of the due and not postponed, closed in time."})
    on_time_rate = ma.fields.Float(
        allow_none=True, metadata={"description": "按期结案率 = closed_on_time / (due - postponed)."}
    )
    avg_accept_hours = ma.fields.Float(allow_none=True, metadata={"description": "Working hours, dispatch to accept."})
    avg_resolve_hours = ma.fields.Float(
        allow_none=True, metadata={"description": "Working hours, dispatch to resolve."}
    )
    overdue_now = ma.fields.Integer()
    by_status = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class MetricsSchema(ma.Schema):
    area = ma.fields.Dict()
    since = ma.fields.String()
    until = ma.fields.String()
    totals = ma.fields.Nested(MetricSchema)
    townships = ma.fields.List(ma.fields.Nested(MetricSchema))
    grids = ma.fields.List(ma.fields.Nested(MetricSchema))
