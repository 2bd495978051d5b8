"""Log in, refresh, log out, me; and the accounts API, scoped by server.scope like every other endpoint."""

from __future__ import annotations

from flask_jwt_extended import get_jwt, jwt_required
from flask_smorest import Blueprint

from server.accounts import services
from server.accounts.assignments import current_assignments
from server.accounts.ratelimit import limit_logins
from server.accounts.roles import STAFF_ROLES, USER_EDITOR_ROLES
from server.accounts.schemas import (
    LoginResultSchema,
    LoginSchema,
    MeSchema,
    PasswordChangeSchema,
    TokenPairSchema,
    UserListSchema,
    UserPatchSchema,
    UserQuery,
    UserSchema,
    list_item_view,
    user_view,
)
from server.errors import ProblemSchema
from server.scope import current_scope, current_user, require_roles

blp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Log in, tokens and accounts (登录与账号)")
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}


@blp.route("/auth/login", methods=["POST"])
@limit_logins
@blp.arguments(LoginSchema)
@blp.response(200, LoginResultSchema)
@blp.alt_response(401, schema=ProblemSchema, description="Wrong phone number or password (one answer for both).")
@blp.alt_response(429, schema=ProblemSchema, description="Too many failed logins.", headers=RETRY_AFTER)
def login(args):
    """Log in with a mobile number and password: an access token (15 min) and a single-use refresh token."""
    user, pair = services.login(args["phone"], args["password"])
    return pair | {"user": user_view(user, user, current_assignments(user.id))}


@blp.route("/auth/refresh", methods=["POST"])
@blp.doc(security=[{"bearerAuth": []}])
@jwt_required(refresh=True)
@blp.response(200, TokenPairSchema)
@blp.alt_response(401, schema=ProblemSchema, description="Invalid, expired or already used refresh token.")
def refresh():
    """Send the REFRESH token as the bearer: a new pair. Each refresh token works once; reuse ends the login."""
    return services.refresh(current_user(), get_jwt())


@blp.route("/auth/logout", methods=["POST"])
@require_roles()
@blp.response(204)
def logout():
    """Revoke this access token and every refresh token of its login."""
    services.logout(current_user(), get_jwt())


@blp.route("/me")
@require_roles()
@blp.response(200, MeSchema)
def me():
    """The logged-in account, its current grid assignments and the areas it can see."""
    user = current_user()
    return user_view(user, user, current_assignments(user.id)) | {"scope": current_scope().as_dict()}


@blp.route("/me/password", methods=["POST"])
@require_roles()
@blp.arguments(PasswordChangeSchema)
@blp.response(200, TokenPairSchema)
@blp.alt_response(403, schema=ProblemSchema, description="The current password is wrong.")
@blp.alt_response(422, schema=ProblemSchema, description="The new password is too weak.")
def change_password(args):
    """Change your password. Every other session ends; use the new pair in the answer."""
    return services.change_password(current_user(), args["current_password"], args["new_password"], get_jwt())


@blp.route("/users")
@require_roles(*STAFF_ROLES)
@blp.arguments(UserQuery, location="query")
@blp.response(200, UserListSchema)
def list_users(args):
    """Accounts homed in your area, by id; phone numbers masked."""
    rows, total = services.list_users(current_scope(), **args)
    items = [list_item_view(u) for u in rows]
    return {"items": items, "total": total, "limit": args["limit"], "offset": args["offset"]}


@blp.route("/users/<int:user_id>")
@require_roles()
@blp.response(200, UserSchema)
@blp.alt_response(404, schema=ProblemSchema, description="No such account, or it is outside your area.")
def get_user(user_id):
    """One account in your area; outside it, the same 404 as a missing one."""
    user = services.get_user(user_id)
    return user_view(user, current_user(), current_assignments(user.id))


@blp.route("/users/<int:user_id>", methods=["PATCH"])
@require_roles(*USER_EDITOR_ROLES)
@blp.arguments(UserPatchSchema)
@blp.response(200, UserSchema)
@blp.alt_response(404, schema=ProblemSchema, description="No such account, or it is outside your area.")
@blp.alt_response(409, schema=ProblemSchema, description="You cannot drop your own admin role or deactivate yourself.")
def patch_user(changes, user_id):
    """Change roles, home area or active; the account's tokens stop working at their next request. Audited."""
    user = services.update_user(user_id, current_user(), changes)
    return user_view(user, current_user(), current_assignments(user.id))
