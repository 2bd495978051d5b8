"""Who may see what: the ONE scope mechanism every endpoint uses.

A `Scope` is a set of area-code prefixes computed from the current account (never from the token, so it
is never stale). Area codes always extend their parent's code, so "area X is under area Y" is exactly
`X.startswith(Y)`:
- admin: everything;
- county_staff, township_staff, custodian, member: their home area (a county, township, village or grid);
- grid_chief: the grids they chief or deputise today, plus their home area if that is a grid.
An account with several roles gets the union.

Endpoints use it in three ways:
- `@require_roles(...)` (any authenticated account when called without roles) -> 401 / 403 problem+json,
  and documents the bearer security and those answers in the OpenAPI;
- `current_scope().filter(Model.area_column)` in list queries;
- `get_in_scope_or_404(Model, id)` for one object. An object outside the scope answers exactly like a
  missing one (server.errors.NotFound: same status, same bytes), so that existence never leaks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import wraps

from flask import g
from flask_jwt_extended import get_current_user, verify_jwt_in_request
from flask_smorest import Blueprint
from sqlalchemy import false, or_, true

from server.errors import NotFound, Problem, ProblemSchema
from server.extensions import db
from server.geo.validate import CODE_LENGTH

HOME_AREA_ROLES = frozenset({"county_staff", "township_staff", "custodian", "member"})


@dataclass(frozen=True)
class Scope:
    prefixes: tuple[str, ...] = ()
    everything: bool = False

    @classmethod
    def all(cls) -> Scope:
        return cls(everything=True)

    @classmethod
    def of(cls, codes: Iterable[str]) -> Scope:
        """The smallest set of prefixes covering the codes (a code under another one adds nothing)."""
        kept: list[str] = []
        for code in sorted({c for c in codes if c}):
            if not kept or not code.startswith(kept[-1]):
                kept.append(code)
        return cls(tuple(kept))

    def allows(self, area_code: str | None) -> bool:
        if self.everything:
            return True
        return bool(area_code) and area_code.startswith(self.prefixes)

    def filter(self, column):
        """A SQL clause true for rows whose area code (in `column`) is in scope; LIKE wildcards are escaped.

        A grid's code is the prefix of no other code (grids are the deepest level, and codes have their level's
        exact length), so a grid in scope is compared with `=`: PostgreSQL estimates a LIKE prefix from its
        histogram, and for a grid with few tips it guessed 5x too many and walked the newest-first index through
        27,000 other tips (a chief's inbox page, 20-60 ms instead of ~2)."""
        if self.everything:
            return true()
        if not self.prefixes:
            return false()
        return or_(*(within(column, p) for p in self.prefixes))

    def as_dict(self) -> dict:
        return {"everything": self.everything, "area_prefixes": list(self.prefixes)}


def within(column, code: str):
    """A SQL clause true for area codes (in `column`) at or under the area `code`: `=` for a grid (see
    `Scope.filter`), a LIKE prefix, wildcards escaped, for anything above."""
    return column == code if len(code) == CODE_LENGTH["grid"] else column.startswith(code, autoescape=True)


def scope_for(user, on: date | None = None) -> Scope:
    roles = user.roles
    if "admin" in roles:
        return Scope.all()
    codes = set()
    if roles & HOME_AREA_ROLES:
        codes.add(user.home_area_code)
    if "grid_chief" in roles:
        from server.accounts.assignments import current_grid_codes, is_grid

        codes.update(current_grid_codes(user.id, on))
        if is_grid(user.home_area_code):
            codes.add(user.home_area_code)
    return Scope.of(codes)


def current_user():
    """The account of the verified token of this request, or None (no token verified)."""
    try:
        return get_current_user()
    except RuntimeError:
        return None


def current_scope() -> Scope:
    """The scope of this request's account (computed once per request); nothing when nobody is logged in."""
    if "grid_scope" not in g:
        user = current_user()
        g.grid_scope = scope_for(user) if user is not None else Scope()
    return g.grid_scope


def get_in_scope_or_404(model, ident, *, area_of: Callable | None = None, what: str | None = None):
    """The object with this primary key if it exists AND is in scope; otherwise the one NotFound."""
    obj = db.session.get(model, ident)
    area_of = area_of or (lambda o: o.home_area_code)
    if obj is None or not current_scope().allows(area_of(obj)):
        raise NotFound(what or model.__name__.lower())
    return obj


_doc = Blueprint("scope-doc", __name__)  # never registered: only builds the OpenAPI fragments below


def require_roles(*roles: str):
    """Require a valid access token, and (if roles are given) one of those roles: 401 / 403 problem+json.

    The check does not depend on the object asked for, so a 403 never tells whether an id exists.
    Put it right under `@blp.route`, above `@blp.arguments`, so that it runs before the body is parsed.
    """
    allowed = frozenset(roles)

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            verify_jwt_in_request()
            user = get_current_user()
            if allowed and not (user.roles & allowed):
                needed = ", ".join(sorted(allowed))
                raise Problem(403, "forbidden", f"This needs one of the roles: {needed}.", title="Forbidden")
            return view(*args, **kwargs)

        documented = bearer_documented(wrapper)
        if allowed:
            documented = _doc.alt_response(
                403, schema=ProblemSchema, description=f"Needs one of: {', '.join(sorted(allowed))}."
            )(documented)
        return documented

    return decorator


def bearer_documented(view):
    """Only the OpenAPI side of require_roles(): for a view that checks the token itself (tip intake's hot path)."""
    documented = _doc.alt_response(401, schema=ProblemSchema, description="No valid access token.")(view)
    return Blueprint.doc(security=[{"bearerAuth": []}])(documented)


def optional_user():
    """The caller's account if a valid access token was sent, None without one; a bad token still answers 401."""
    verify_jwt_in_request(optional=True)
    return current_user()


# Per-request state kept in `g`. `g` belongs to the application context, which a request normally owns; but a
# request inside an already pushed app context (tests, CLI-driven clients) shares it, so start every request
# from a clean slate rather than inherit the previous request's user, scope or commit decision.
_REQUEST_STATE = (
    "grid_scope",
    "keep_writes_on_error",
    "_jwt_extended_jwt",
    "_jwt_extended_jwt_header",
    "_jwt_extended_jwt_user",
    "_jwt_extended_jwt_location",
)


def reset_request_state() -> None:
    state = vars(g._get_current_object())  # one proxy look-up, not one per name (this runs on every request)
    for name in _REQUEST_STATE:
        state.pop(name, None)
