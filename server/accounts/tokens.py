"""JWTs (flask-jwt-extended): configuration, the problem+json answers for every token error, and token state.

- HS256 only, signed with GRID_JWT_SECRET; `iss` and `aud` are set and checked; no leeway on `exp`.
- Access tokens live GRID_ACCESS_TOKEN_MINUTES (15), refresh tokens GRID_REFRESH_TOKEN_DAYS (14).
- Claims: `sub` (user id), `ver` (the account's token_version), `fam` (the login's token family).
- The user is loaded from the database on every request; a deactivated account or a `ver` that no
  longer matches (roles, area or password changed) answers 401 token-revoked. Roles and scope are never
  read from the token, so they cannot be stale.
- Refresh tokens are single use: each refresh marks the presented one used and issues a new pair in the
  same family. Presenting a used one again revokes the whole family (its refresh tokens and the access
  tokens issued from it), because either the client or a thief holds a copy.
- Logout blocklists the access token's jti until it expires, and revokes its family.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt as pyjwt
from flask import Flask, current_app
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token
from flask_jwt_extended.exceptions import (
    JWTDecodeError,
    JWTExtendedException,
    RevokedTokenError,
    UserLookupError,
    WrongTokenError,
)
from flask_jwt_extended.view_decorators import _decode_jwt_from_headers  # the header parser itself
from sqlalchemy import bindparam, exists, select, update

from server.accounts.models import RefreshToken, RevokedAccessToken, TokenFamily, User
from server.areas.models import utcnow
from server.errors import Problem, problem_response
from server.extensions import db
from server.rawsql import Prepared, RawConnection

log = logging.getLogger(__name__)
jwt = JWTManager()
ALGORITHM = "HS256"


def init_jwt(app: Flask, settings) -> None:
    app.config.update(
        JWT_SECRET_KEY=settings.jwt_secret,
        JWT_ALGORITHM=ALGORITHM,
        JWT_DECODE_ALGORITHMS=[ALGORITHM],
        JWT_ENCODE_ISSUER=settings.jwt_issuer,
        JWT_DECODE_ISSUER=settings.jwt_issuer,
        JWT_ENCODE_AUDIENCE=settings.jwt_audience,
        JWT_DECODE_AUDIENCE=settings.jwt_audience,
        JWT_DECODE_LEEWAY=0,
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=settings.access_token_minutes),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=settings.refresh_token_days),
    )
    jwt.init_app(app)
    # flask-jwt-extended answers a refresh token used as an access token (and vice versa) through its
    # invalid-token callback; give it its own stable slug instead.
    app.register_error_handler(WrongTokenError, lambda e: _unauthorized("wrong-token-type", _WRONG_TYPE))


_WRONG_TYPE = "Wrong kind of token: send the access token here (the refresh token only goes to /auth/refresh)."


def _unauthorized(slug: str, detail: str):
    problem = Problem(401, slug, detail, title="Not authenticated")
    problem.headers["WWW-Authenticate"] = 'Bearer realm="grid"'
    return problem_response(problem)


@jwt.expired_token_loader
def _expired(_header, _payload):
    return _unauthorized("token-expired", "The token has expired. Refresh it, or log in again.")


@jwt.invalid_token_loader
def _invalid(_reason):
    return _unauthorized("token-invalid", "The token is not valid here. Log in again.")


@jwt.unauthorized_loader
def _missing(_reason):
    return _unauthorized("token-missing", "Log in first: send `Authorization: Bearer <access token>`.")


@jwt.revoked_token_loader
def _revoked(_header, _payload):
    return _unauthorized("token-revoked", "The token was revoked (logout, or a refresh token reused). Log in again.")


@jwt.user_lookup_error_loader
def _user_gone(_header, _payload):
    return _unauthorized(
        "token-revoked", "The account was deactivated, or its roles, area or password changed. Log in again."
    )


@jwt.needs_fresh_token_loader
def _needs_fresh(_header, _payload):
    return _unauthorized("token-not-fresh", "Log in again with your password to do this.")


@jwt.token_verification_loader
def _has_expiry(_header, payload) -> bool:
    """Every token we issue expires; one without `exp` was not made here (the hot path refuses it the same way)."""
    return "exp" in payload


@jwt.token_verification_failed_loader
def _claims_failed(_header, _payload):
    return _unauthorized("token-invalid", "The token is not valid here. Log in again.")


@jwt.user_lookup_loader
def _load_user(_header, payload) -> User | None:
    """The account, if it is still active and the token was issued for its current roles, area and password."""
    try:
        user_id = int(payload["sub"])
    except (KeyError, TypeError, ValueError):
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or payload.get("ver") != user.token_version:
        return None
    return user


@jwt.token_in_blocklist_loader
def _is_revoked(_header, payload) -> bool:
    family = payload.get("fam")
    if not family:
        return True
    family_revoked = db.session.scalar(select(TokenFamily.revoked_at).where(TokenFamily.id == family))
    if family_revoked is not None:
        return True
    if payload.get("type") == "refresh":
        # A used refresh token is NOT reported here: /auth/refresh itself detects the reuse and revokes the family.
        return db.session.get(RefreshToken, payload["jti"]) is None
    return db.session.get(RevokedAccessToken, payload["jti"]) is not None


# --- The same checks for a precompiled hot path (tip intake, server.rawsql), which cannot afford the ORM loads above.
# tests/tips/test_intake_tokens.py runs every token case through both paths.


def token_state_columns() -> tuple:
    """(active, token_version, family revoked_at, jti blocklisted) for the bound user_id, fam and jti: columns
    that any one-row SELECT can carry (TOKEN_STATE; tip intake reads them with everything else it needs)."""
    return (
        select(User.active).where(User.id == bindparam("user_id")).scalar_subquery(),
        select(User.token_version).where(User.id == bindparam("user_id")).scalar_subquery(),
        select(TokenFamily.revoked_at).where(TokenFamily.id == bindparam("fam")).scalar_subquery(),
        exists().where(RevokedAccessToken.jti == bindparam("jti")),
    )


TOKEN_STATE = Prepared(lambda _dialect: select(*token_state_columns()))  # one row always


def bearer_access_claims() -> dict:
    """The verified claims of the request's access token (signature, iss, aud, exp, type), without the database.
    The header is read by flask-jwt-extended's own parser and failures raise its exceptions, so the answers are
    the same problem+json as everywhere (tests/tips/test_intake_tokens.py compares them case by case)."""
    encoded, _ = _decode_jwt_from_headers()
    claims = _decode(encoded)
    if claims.get("type") != "access":
        raise WrongTokenError("Only non-refresh tokens are allowed")
    return claims


def access_claims_of(authorization: str | None) -> dict | None:
    """As bearer_access_claims, from an Authorization header in its plain form (`Bearer <token>`) outside a request
    context (server.tips.fast_intake); None for any other form, which flask-jwt-extended's parser then judges."""
    config = current_app.config
    scheme, _, token = (authorization or "").partition(" ")
    if scheme != config["JWT_HEADER_TYPE"] or not token or " " in token or "," in token:
        return None
    claims = _decode(token)
    return claims if claims.get("type") == "access" else None


def _decode(token: str) -> dict:
    """flask-jwt-extended's decode_token, done once and remembered: it decodes every token three times (claims,
    header, then verified), and each decode costs PyJWT ~40 µs of base64 checks, while a phone sends the same token
    for its whole life. A verified signature stays verified; expiry is checked again on every call, as PyJWT does
    it. Same settings, same exceptions (with the header and claims the expired-token answer reads)."""
    config = current_app.config
    key = (token, config["JWT_SECRET_KEY"], tuple(config["JWT_DECODE_ALGORITHMS"]))
    audience, issuer, leeway = config["JWT_DECODE_AUDIENCE"], config["JWT_DECODE_ISSUER"], config["JWT_DECODE_LEEWAY"]
    try:
        claims = dict(_verified(*key, audience, issuer, leeway))
        if int(claims["exp"]) <= time.time() - leeway:
            raise pyjwt.ExpiredSignatureError("Signature has expired")
    except pyjwt.ExpiredSignatureError as expired:
        expired.jwt_header = pyjwt.get_unverified_header(token)
        expired.jwt_data = _verified(*key, audience, issuer, leeway, verify_exp=False)
        raise
    claims.setdefault("type", "access")
    return claims


@functools.lru_cache(maxsize=4096)
def _verified(
    token: str, secret: str, algorithms: tuple, audience: str, issuer: str, leeway: int, *, verify_exp: bool = True
) -> dict:
    """Signature, iss, aud, nbf, exp and the required claims (exp, sub). Failures raise and are not cached."""
    claims = pyjwt.decode(
        token,
        secret,
        algorithms=list(algorithms),
        audience=audience,
        issuer=issuer,
        leeway=leeway,
        options={"verify_aud": True, "verify_sub": True, "verify_exp": verify_exp, "require": ["exp"]},
    )
    if "sub" not in claims:
        raise JWTDecodeError("Missing claim: sub")
    return claims


def token_state_params(claims: dict) -> dict:
    try:
        user_id = int(claims["sub"])
    except (KeyError, TypeError, ValueError):
        user_id = -1
    return {"user_id": user_id, "fam": claims.get("fam") or "", "jti": claims.get("jti") or ""}


def check_token_live(claims: dict) -> None:
    """check_token_state on its own round trip (for an answer that must not tell a revoked token anything)."""
    s = RawConnection()
    check_token_state(claims, TOKEN_STATE.rows(s.run(TOKEN_STATE, **token_state_params(claims)), s.dialect)[0])


def raise_if_revoked(claims: dict) -> None:
    """For a request that failed: raise the token's own error if it was revoked, so that the token learns nothing
    about its request; otherwise return, and the request's error stands (also when the database cannot answer:
    then the original failure is the one to report)."""
    try:
        check_token_live(claims)
    except JWTExtendedException:
        raise
    except Exception:  # noqa: BLE001, S110 - see the docstring; the request's own error rolls the transaction back
        pass


def check_token_state(claims: dict, row: tuple) -> None:
    """Raise exactly as _is_revoked, then _load_user, would, from a TOKEN_STATE row."""
    active, version, family_revoked_at, jti_revoked = row
    header = {"alg": ALGORITHM}
    if not claims.get("fam") or family_revoked_at is not None or jti_revoked:
        raise RevokedTokenError(header, claims)
    if not active or claims.get("ver") != version:
        raise UserLookupError("account inactive, missing, or token version stale", header, claims)


def issue_pair(user: User, family_id: str | None = None) -> dict:
    """A new access + refresh token for the user; a new family (login) unless one is given (refresh)."""
    if family_id is None:
        family_id = str(uuid.uuid4())
        db.session.add(TokenFamily(id=family_id, user_id=user.id, created_at=utcnow()))
        db.session.flush()  # the family row first: refresh_tokens references it
    claims = {"ver": user.token_version, "fam": family_id}
    identity = str(user.id)
    access = create_access_token(identity=identity, additional_claims=claims)
    refresh_jti = str(uuid.uuid4())
    refresh_expires = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    refresh = create_refresh_token(identity=identity, additional_claims=claims | {"jti": refresh_jti})
    db.session.add(
        RefreshToken(
            jti=refresh_jti,
            family_id=family_id,
            user_id=user.id,
            issued_at=utcnow(),
            expires_at=utcnow() + refresh_expires,
        )
    )
    db.session.flush()
    expires_in = int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds())
    return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_in": expires_in}


def use_refresh_token(jti: str) -> bool:
    """Mark a refresh token used, atomically. False if it was already used (or is unknown): that is reuse."""
    result = db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.jti == jti, RefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def revoke_family(family_id: str, reason: str) -> None:
    db.session.execute(
        update(TokenFamily)
        .where(TokenFamily.id == family_id, TokenFamily.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )


def revoke_access_token(jti: str, exp: int) -> None:
    if db.session.get(RevokedAccessToken, jti) is None:
        db.session.add(RevokedAccessToken(jti=jti, expires_at=datetime.fromtimestamp(exp, UTC)))
        db.session.flush()


def prune_expired(now: datetime | None = None) -> tuple[int, int]:
    """Forget blocklisted access tokens and refresh tokens whose expiry has passed (they fail on `exp` anyway)."""
    now = now or utcnow()
    access = db.session.execute(RevokedAccessToken.__table__.delete().where(RevokedAccessToken.expires_at < now))
    refresh = db.session.execute(RefreshToken.__table__.delete().where(RefreshToken.expires_at < now))
    return access.rowcount, refresh.rowcount
