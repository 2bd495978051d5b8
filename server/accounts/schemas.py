"""Request and response schemas for auth, accounts and the grid's responsible people (also the OpenAPI)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from server import bounds
from server.accounts.phones import mask_phone
from server.accounts.roles import ASSIGNMENT_KINDS, ASSIGNMENT_LABELS_ZH, PHONE_READERS, ROLES, role_refs
from server.areas.index_cache import current_index
from server.areas.models import LEVEL_LABELS_ZH


def role_field(**kwargs) -> ma.fields.String:
    return ma.fields.String(validate=validate.OneOf(ROLES), metadata={"example": "grid_chief"}, **kwargs)


class LoginSchema(ma.Schema):
    phone = ma.fields.String(required=True, validate=validate.Length(max=32), metadata={"example": "13800000001"})
    password = ma.fields.String(required=True, load_only=True, validate=validate.Length(max=1024))


class PasswordChangeSchema(ma.Schema):
    current_password = ma.fields.String(required=True, load_only=True, validate=validate.Length(max=1024))
    new_password = ma.fields.String(required=True, load_only=True, validate=validate.Length(max=1024))


class RoleRefSchema(ma.Schema):
    role = ma.fields.String(metadata={"example": "grid_chief"})
    role_zh = ma.fields.String(metadata={"example": "网格长"})


class AreaBriefSchema(ma.Schema):
    code = ma.fields.String(metadata={"example": "330899101001"})
    name = ma.fields.String(allow_none=True, metadata={"description": "None if the code is not in the current map."})
    level = ma.fields.String(allow_none=True)
    level_zh = ma.fields.String(allow_none=True)


class AssignmentSchema(ma.Schema):
    grid_code = ma.fields.String()
    kind = ma.fields.String(metadata={"enum": list(ASSIGNMENT_KINDS)})
    kind_zh = ma.fields.String(metadata={"example": "网格长"})
    starts_on = ma.fields.Date()
    ends_on = ma.fields.Date(allow_none=True, metadata={"description": "Last day served; null while serving."})


class UserSchema(ma.Schema):
    id = ma.fields.Integer()
    phone = ma.fields.String(metadata={"description": "Masked (138****0001) unless you are staff or it is yours."})
    name = ma.fields.String()
    active = ma.fields.Boolean()
    roles = ma.fields.List(ma.fields.Nested(RoleRefSchema))
    home_area = ma.fields.Nested(AreaBriefSchema)
    assignments = ma.fields.List(
        ma.fields.Nested(AssignmentSchema), metadata={"description": "Current grid assignments (detail only)."}
    )
    created_at = ma.fields.DateTime()


class UserListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(UserSchema))
    total = ma.fields.Integer()
    limit = ma.fields.Integer()
    offset = ma.fields.Integer()


class UserQuery(ma.Schema):
    role = role_field(load_default=None)
    area = ma.fields.String(load_default=None, metadata={"description": "Only accounts homed under this area code."})
    active = ma.fields.Boolean(load_default=None)
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = bounds.offset()


class UserPatchSchema(ma.Schema):
    roles = ma.fields.List(role_field(), validate=validate.Length(min=1))
    home_area_code = ma.fields.String(validate=validate.Length(min=6, max=15))
    active = ma.fields.Boolean()

    @ma.validates_schema
    def _not_empty(self, data, **_kwargs):
        if not data:
            raise ma.ValidationError("Send at least one of roles, home_area_code, active.")


class TokenPairSchema(ma.Schema):
    access_token = ma.fields.String()
    refresh_token = ma.fields.String()
    token_type = ma.fields.String(metadata={"example": "Bearer"})
    expires_in = ma.fields.Integer(metadata={"description": "Seconds until the access token expires."})


class LoginResultSchema(TokenPairSchema):
    user = ma.fields.Nested(UserSchema)


class ScopeSchema(ma.Schema):
    everything = ma.fields.Boolean()
    area_prefixes = ma.fields.List(ma.fields.String())


class MeSchema(UserSchema):
    scope = ma.fields.Nested(ScopeSchema, metadata={"description": "The areas this account can see."})


class ResponsibleSchema(ma.Schema):
    name = ma.fields.String(metadata={"example": "张三"})
    role = ma.fields.String(metadata={"enum": list(ASSIGNMENT_KINDS)})
    role_zh = ma.fields.String(metadata={"example": "网格长"})


def area_brief(code: str) -> dict:
    index = current_index()
    ref = index.areas.get(code) if index is not None else None
    if ref is None:
        return {"code": code, "name": None, "level": None, "level_zh": None}
    return {"code": code, "name": ref.name, "level": ref.level, "level_zh": LEVEL_LABELS_ZH[ref.level]}


def user_view(user, viewer, assignments=None) -> dict:
    """An account as a viewer may see it: the full phone only for themselves and for staff who manage accounts."""
    full_phone = viewer is not None and (viewer.id == user.id or bool(viewer.roles & PHONE_READERS))
    body = {
        "id": user.id,
        "phone": user.phone if full_phone else mask_phone(user.phone),
        "name": user.name,
        "active": user.active,
        "roles": role_refs(user.roles),
        "home_area": area_brief(user.home_area_code),
        "created_at": user.created_at,
    }
    if assignments is not None:
        body["assignments"] = [assignment_view(a) for a in assignments]
    return body


def list_item_view(user) -> dict:
    """Lists always mask phone numbers (they are the easiest thing to harvest)."""
    return user_view(user, viewer=None)


def assignment_view(a) -> dict:
    return {
        "grid_code": a.grid_code,
        "kind": a.kind,
        "kind_zh": ASSIGNMENT_LABELS_ZH[a.kind],
        "starts_on": a.starts_on,
        "ends_on": a.ends_on,
    }


def responsible_view(people) -> list[dict]:
    return [{"name": p.name, "role": p.role, "role_zh": p.role_zh} for p in people]
