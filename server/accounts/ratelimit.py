"""Login rate limits (Flask-Limiter), kept in GRID_RATELIMIT_STORAGE_URL (memory:// or Redis).

Two limits guard POST /auth/login, and only FAILED attempts (401) count against them, so that a township
office where thirty people log in at 8:00 behind one NAT address is not locked out:
- per phone number: GRID_LOGIN_RATE_PER_PHONE (default 5/minute). The key is a keyed hash of the number
  (Flask-Limiter logs keys when a limit trips, and phone numbers must never be logged in clear);
- per client IP: GRID_LOGIN_RATE_PER_IP (default 20/minute). Behind nginx, run the app with werkzeug's
  ProxyFix so that `remote_addr` is the client, not the proxy.
When a limit is reached, the answer is 429 problem+json with Retry-After (seconds), before any password
is checked.
"""

from __future__ import annotations

import time
from functools import partial

from flask import Flask, Response, current_app, request
from flask.globals import request_ctx
from flask_limiter import Limiter, RequestLimit

from server.accounts.phones import normalize_phone, phone_digest


def _client_ip() -> str:
    return f"ip:{request.remote_addr or 'unknown'}"


def _login_phone_key() -> str:
    body = request.get_json(silent=True)
    raw = body.get("phone") if isinstance(body, dict) else None
    phone = normalize_phone(raw) if isinstance(raw, str) else ""
    return f"phone:{phone_digest(phone, current_app.config['GRID'].secret_key)}"


def _retry_after(limit: RequestLimit) -> Response:
    """Carried on the RateLimitExceeded; server.errors copies its Retry-After onto the problem+json answer."""
    seconds = max(1, int(limit.reset_at - time.time()) + 1)
    return Response(status=429, headers={"Retry-After": str(seconds)})


limiter = Limiter(key_func=_client_ip, on_breach=_retry_after, key_prefix="grid")


def init_limiter(app: Flask, settings) -> None:
    app.config.update(RATELIMIT_STORAGE_URI=settings.ratelimit_storage_url, RATELIMIT_STRATEGY="fixed-window")
    limiter.init_app(app)
    # Every limit here is a decorator (login, anonymous tips), and a decorator checks its own limits. The
    # before_request hook only serves default and application-wide limits, which we do not set; it would resolve
    # "no limits" again on every request, at ~60 µs each. tests/accounts/test_rate_limits.py and
    # tests/tips/test_anonymous_limit.py show that the decorated limits still apply.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    _only_where_limited(app)


def _only_where_limited(app: Flask) -> None:
    """Flask-Limiter's after-request hook (deduct_when, headers) and teardown (reset its state) run on every
    request, ~50 µs; they only have work where a limit was checked, which creates the limiter's per-request
    context. Guarded here, they run just there (tests/accounts/test_rate_limits.py covers deduct_when)."""
    after = app.after_request_funcs[None]
    teardown = app.teardown_request_funcs[None]
    inject = next(f for f in after if isinstance(f, partial) and f.args[:1] == (limiter,))
    release = next(f for f in teardown if getattr(f, "__self__", None) is limiter)
    after[after.index(inject)] = lambda response: inject(response) if _limiter_used() else response
    teardown[teardown.index(release)] = lambda exc=None: release(exc) if _limiter_used() else None


def _limiter_used() -> bool:
    return hasattr(request_ctx._get_current_object(), "_limiter_request_context")


def _failed(response: Response) -> bool:
    return response.status_code == 401


_TOO_MANY = "Too many failed logins. Wait until the time in Retry-After (seconds), then try again."

login_limits = [
    limiter.limit(
        lambda: current_app.config["GRID"].login_rate_per_phone,
        key_func=_login_phone_key,
        scope="login-phone",
        deduct_when=_failed,
        error_message=_TOO_MANY,
    ),
    limiter.limit(
        lambda: current_app.config["GRID"].login_rate_per_ip,
        key_func=_client_ip,
        scope="login-ip",
        deduct_when=_failed,
        error_message=_TOO_MANY,
    ),
]


def limit_logins(view):
    for decorate in login_limits:
        view = decorate(view)
    return view
