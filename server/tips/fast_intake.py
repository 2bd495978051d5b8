"""The JSON tip from a signed-in phone, served without Flask's request machinery (issue 4's hot path).

Flask's request context, URL map, hooks, flask-smorest's response wrappers and the problem handlers cost about
0.2 ms a request, as much as everything intake itself does. This WSGI middleware serves the common case -- a
well-formed `POST /api/v1/tips` with a bearer token and a JSON body -- by calling the very same service
(`server.tips.intake.submit_json`) inside an app context, and answers as the Flask view would: the same status,
body and headers (tests/tips/test_fast_intake.py compares them).

Anything else goes to Flask untouched: another path or method, multipart, a header in an unusual form, and every
refusal (a bad token, a bad body, an unknown category, a key reused with another body, a request still running).
Nothing has been written when that happens -- the service's one transaction was rolled back -- so Flask answers
it from scratch, with the one set of error handlers. Refusals are the rare case; they cost a second attempt.

Hand-written: routing one endpoint around a framework is nothing a library does.
"""

from __future__ import annotations

import io
import logging

from flask import Flask
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt import PyJWTError
from werkzeug.http import HTTP_STATUS_CODES

from server import idempotency
from server.accounts.tokens import access_claims_of
from server.errors import Problem
from server.extensions import db
from server.tips.fast_body import strictly_valid
from server.tips.intake import submit_json

PATH = "/api/v1/tips"
MAX_BODY = 64 * 1024  # a JSON tip is a few kilobytes (description <= 5,000 characters); larger goes to Flask
log = logging.getLogger(__name__)


class FastJsonIntake:
    """WSGI middleware in front of the Flask app's own `wsgi_app`."""

    def __init__(self, app: Flask, flask_wsgi):
        self.app = app
        self.flask_wsgi = flask_wsgi

    def __call__(self, environ, start_response):
        if self.app.debug or not _is_plain_json_tip(environ):
            return self.flask_wsgi(environ, start_response)
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        environ["wsgi.input"] = io.BytesIO(body)  # Flask can read it again if the request is handed over
        with self.app.app_context():
            answer = _accept(environ, body)
            if answer is not None:
                return self._respond(*answer, start_response)
        return self.flask_wsgi(environ, start_response)

    def _respond(self, status: int, payload: dict, start_response) -> list[bytes]:
        """What `app.json.response` gives outside debug mode (compact JSON and a newline), without building a
        werkzeug Response (~25 µs)."""
        data = f"{self.app.json.dumps(payload, separators=(',', ':'))}\n".encode()
        headers = [("Content-Type", self.app.json.mimetype), ("Content-Length", str(len(data)))]
        start_response(f"{status} {HTTP_STATUS_CODES[status].upper()}", headers)
        return [data]


def _is_plain_json_tip(environ) -> bool:
    """The common case, in its plain form; everything else is Flask's (so is every request in debug mode, whose
    JSON is indented)."""
    length = environ.get("CONTENT_LENGTH") or ""
    return (
        environ.get("PATH_INFO") == PATH
        and environ.get("REQUEST_METHOD") == "POST"
        and (environ.get("CONTENT_TYPE") or "").split(";", 1)[0].strip().lower() == "application/json"
        and length.isdigit()
        and int(length) <= MAX_BODY
    )


def _accept(environ, body: bytes) -> tuple[int, dict] | None:
    """(status, body) as the Flask view would answer, or None: let Flask answer (nothing was written)."""
    key = environ.get("HTTP_IDEMPOTENCY_KEY")
    if not key or len(key) > idempotency.MAX_KEY_LENGTH:
        return None
    try:
        claims = access_claims_of(environ.get("HTTP_AUTHORIZATION"))
        if claims is None:
            return None
        payload = strictly_valid(body)
        if payload is None:
            return None  # marshmallow accepts it or says why not
        answer = submit_json(key, claims, payload)
        if db.session.registry.has():
            db.session.commit()  # the grid index check may have begun the session's transaction; intake joined it
        return answer
    except Exception as refused:  # noqa: BLE001 - every refusal is Flask's to answer, with its handlers
        if db.session.registry.has():
            db.session.rollback()
        if not _is_refusal(refused):
            log.warning("the JSON intake fast path failed (%s); Flask answers instead", type(refused).__name__)
        return None


def _is_refusal(error: Exception) -> bool:
    """Refusals of bad input or tokens; anything else is worth a line in the log (never the tip's content)."""
    return isinstance(error, Problem | PyJWTError | JWTExtendedException | ValueError)
