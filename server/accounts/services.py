"""Accounts: log in, refresh, log out, list, read, change, create. Plain functions; they flush, never commit.

Every change of roles, area or activation bumps the account's token_version (its tokens stop working on
their next request) and writes an audit row, in the same transaction as the change itself.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from server.accounts import tokens
from server.accounts.assignments import area_level
from server.accounts.models import User, UserRole
from server.accounts.passwords import hash_password, needs_rehash, policy_errors, verify_password
from server.accounts.phones import is_valid_phone, mask_phone, normalize_phone
from server.accounts.roles import ADMIN_ONLY_GRANTS, ROLES
from server.audit import record
from server.errors import Problem
from server.extensions import db
from server.scope import Scope, current_scope, get_in_scope_or_404

log = logging.getLogger(__name__)
LOGIN_FAILED = "Wrong phone number or password."


def _invalid(slug: str, field: str, message: str, status: int = 422) -> Problem:
    return Problem(status, slug, message, title="Invalid input", errors={field: [message]})


# --- log in, refresh, log out -------------------------------------------------------------------------------


def login(raw_phone: str, password: str) -> tuple[User, dict]:
    """The account and a new token pair, or one generic 401 whether the phone or the password was wrong."""
    phone = normalize_phone(raw_phone)
    user = db.session.scalar(select(User).where(User.phone == phone)) if is_valid_phone(phone) else None
    matches = verify_password(user.password_hash if user else None, password)  # same work for an unknown phone
    if not matches or not user.active:
        reason = _failure_reason(user, matches)
        record(
            "login_failed",
            "user",
            user.id if user else None,
            actor_user_id=None,
            keep_on_error=True,
            phone_masked=mask_phone(phone),
            reason=reason,
        )
        log.info("login failed for %s (%s)", mask_phone(phone), reason)
        raise Problem(401, "login-failed", LOGIN_FAILED, title="Login failed")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    pair = tokens.issue_pair(user)
    record("login", "user", user.id, actor_user_id=user.id)
    log.info("login ok: user %s", user.id)
    return user, pair


def _failure_reason(user: User | None, matches: bool) -> str:
    if user is None:
        return "unknown_phone"
    if user.password_hash is None:
        return "no_password"
    return "inactive" if matches else "wrong_password"


def refresh(user: User, claims: dict) -> dict:
    """Exchange a refresh token (single use) for a new pair in the same family; a reused one revokes the family."""
    if not tokens.use_refresh_token(claims["jti"]):
        tokens.revoke_family(claims["fam"], "refresh_reuse")
        record("refresh_reuse_detected", "user", user.id, keep_on_error=True, family=claims["fam"])
        log.warning("refresh token reused: family of user %s revoked", user.id)
        problem = Problem(
            401,
            "token-revoked",
            "This refresh token was already used; every session from that login is now closed. Log in again.",
            title="Not authenticated",
        )
        problem.headers["WWW-Authenticate"] = 'Bearer realm="grid"'
        raise problem
    return tokens.issue_pair(user, family_id=claims["fam"])


def logout(user: User, claims: dict) -> None:
    tokens.revoke_access_token(claims["jti"], claims["exp"])
    tokens.revoke_family(claims["fam"], "logout")
    record("logout", "user", user.id)


def change_password(user: User, current: str, new: str, claims: dict) -> dict:
    """Change one's own password: every other session ends; the answer carries a fresh token pair."""
    if not verify_password(user.password_hash, current):
        raise _invalid("wrong-password", "current_password", "The current password is wrong.", status=403)
    _set_password(user, new)
    tokens.revoke_family(claims["fam"], "password_changed")
    record("password_changed", "user", user.id)
    return tokens.issue_pair(user)


def reset_password(raw_phone: str, new: str) -> User:
    """An operator sets a new password (CLI). The account's tokens stop working."""
    user = get_by_phone(raw_phone)
    _set_password(user, new)
    record("password_reset", "user", user.id, via="cli")
    return user


def _set_password(user: User, password: str) -> None:
    errors = policy_errors(password, user.phone)
    if errors:
        raise Problem(
            422,
            "weak-password",
            "The password is too weak: " + " ".join(errors),
            title="Weak password",
            errors={"password": errors},
        )
    user.password_hash = hash_password(password)
    user.token_version += 1
    db.session.flush()


# --- read ---------------------------------------------------------------------------------------------------


def get_by_phone(raw_phone: str) -> User:
    phone = normalize_phone(raw_phone)
    user = db.session.scalar(select(User).where(User.phone == phone)) if is_valid_phone(phone) else None
    if user is None:
        raise Problem(404, "not-found", f"No account has the phone number {mask_phone(phone)}.", title="Not found")
    return user


def get_user(user_id: int) -> User:
    return get_in_scope_or_404(User, user_id, what="user")


def list_users(
    scope: Scope,
    role: str | None = None,
    area: str | None = None,
    active: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[User], int]:
    """Accounts whose home area is in the scope, by id, optionally with a role / under an area / (in)active."""
    query = select(User).where(scope.filter(User.home_area_code))
    if role:
        query = query.where(User.id.in_(select(UserRole.user_id).where(UserRole.role == role)))
    if area:
        query = query.where(User.home_area_code.startswith(area, autoescape=True))
    if active is not None:
        query = query.where(User.active.is_(active))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    return list(db.session.scalars(query.order_by(User.id).limit(limit).offset(offset))), total


# --- change -------------------------------------------------------------------------------------------------


def update_user(user_id: int, actor: User, changes: dict) -> User:
    """Change roles, active and/or home area, each applied and audited in turn.

    A later change that is refused (say an unknown area) fails the whole request, and the request's single
    transaction rolls back the earlier ones too: nothing is half-applied.
    """
    user = get_user(user_id)
    if user.roles & ADMIN_ONLY_GRANTS and "admin" not in actor.roles:
        # a county official must not be able to silence the discipline officer, or lock out an admin
        raise Problem(403, "forbidden", "Only an admin may change an admin or custodian account.")
    if "roles" in changes:
        _change_roles(user, actor, set(changes["roles"]))
    if "active" in changes:
        _change_active(user, actor, changes["active"])
    if "home_area_code" in changes:
        _change_home_area(user, changes["home_area_code"])
    db.session.flush()
    return user


def _change_roles(user: User, actor: User, roles: set[str]) -> None:
    before = set(user.roles)
    if roles == before:
        return
    unknown = roles - set(ROLES)
    if not roles or unknown:
        raise _invalid("invalid-roles", "roles", f"Give at least one of: {', '.join(ROLES)}.")
    if (roles ^ before) & ADMIN_ONLY_GRANTS and "admin" not in actor.roles:
        raise Problem(403, "forbidden", "Only an admin may grant or remove the admin and custodian roles.")
    if user.id == actor.id and "admin" in before and "admin" not in roles:
        raise Problem(409, "conflict", "You cannot remove your own admin role; ask another admin.")
    user.set_roles(roles)
    user.token_version += 1
    record("roles_changed", "user", user.id, before=sorted(before), after=sorted(roles))


def _change_active(user: User, actor: User, active: bool) -> None:
    if active == user.active:
        return
    if user.id == actor.id and not active:
        raise Problem(409, "conflict", "You cannot deactivate your own account; ask another admin.")
    user.active = active
    user.token_version += 1
    record("deactivated" if not active else "reactivated", "user", user.id)


def _change_home_area(user: User, code: str) -> None:
    if code == user.home_area_code:
        return
    check_area(code, current_scope())
    before, user.home_area_code = user.home_area_code, code
    user.token_version += 1
    record("scope_changed", "user", user.id, home_area_before=before, home_area_after=code)


def check_area(code: str, scope: Scope) -> str:
    """The area's level if the code is an area of the current map within the scope; one 422 otherwise."""
    level = area_level(code)
    if level is None or not scope.allows(code):
        raise _invalid("unknown-area", "home_area_code", f"{code} is not an area of the current map in your scope.")
    return level


# --- create -------------------------------------------------------------------------------------------------


def create_user(
    raw_phone: str,
    name: str,
    roles,
    home_area_code: str,
    password: str | None = None,
    *,
    scope: Scope | None = None,
    via: str = "api",
) -> User:
    """A new account (CLI, import, demo). Without a password it cannot log in until one is set."""
    phone = normalize_phone(raw_phone)
    errors = validate_new_user(phone, name, roles, home_area_code, scope or Scope.all())
    if errors:
        raise Problem(422, "invalid-user", "The account cannot be created; see errors.", errors=errors)
    user = User(phone=phone, name=name.strip(), home_area_code=home_area_code, active=True, token_version=1)
    user.set_roles(roles)
    if password is not None:
        weak = policy_errors(password, phone)
        if weak:
            detail = "The password is too weak: " + " ".join(weak)
            raise Problem(422, "weak-password", detail, title="Weak password", errors={"password": weak})
        user.password_hash = hash_password(password)
    db.session.add(user)
    db.session.flush()
    record(
        "user_created",
        "user",
        user.id,
        roles=sorted(user.roles),
        home_area_code=home_area_code,
        phone_masked=mask_phone(phone),
        via=via,
    )
    return user


def validate_new_user(phone: str, name: str, roles, home_area_code: str, scope: Scope) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not is_valid_phone(phone):
        errors["phone"] = ["Must be an 11-digit mainland mobile number starting 13-19, e.g. 13800000001."]
    elif db.session.scalar(select(User.id).where(User.phone == phone)) is not None:
        errors["phone"] = [f"An account with {mask_phone(phone)} already exists."]
    if not name or not name.strip() or len(name.strip()) > 60:
        errors["name"] = ["Give a name of 1 to 60 characters."]
    unknown = set(roles) - set(ROLES)
    if not roles or unknown:
        extra = f" (unknown: {', '.join(sorted(unknown))})" if unknown else ""
        errors["roles"] = [f"Give at least one of: {', '.join(ROLES)}{extra}."]
    if area_level(home_area_code) is None or not scope.allows(home_area_code):
        where = "" if scope.everything else " within your area"
        errors["home_area_code"] = [f"{home_area_code} is not an area of the current map{where}."]
    return errors
