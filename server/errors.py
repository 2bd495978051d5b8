"""One family of errors: RFC 9457 problem details (`application/problem+json`).

Every error the API returns, Flask's own 404/405/500 included, goes through `problem_response`.
`type` is a stable relative URI `/problems/<slug>`; clients should branch on it, never on `detail`.
"""

from __future__ import annotations

import logging

import marshmallow as ma
from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

PROBLEM_MIME = "application/problem+json"
log = logging.getLogger(__name__)

_HTTP_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-failed",
    429: "too-many-requests",
    500: "internal-error",
}


class Problem(Exception):
    """Raise from services or routes to answer with a problem document."""

    def __init__(self, status: int, slug: str, detail: str, *, title: str | None = None, errors=None, **extra):
        super().__init__(detail)
        self.status, self.slug, self.detail = status, slug, detail
        self.title = title or slug.replace("-", " ").capitalize()
        self.errors = errors
        self.extra = extra
        self.headers: dict[str, str] = {}


class NotFound(Problem):
    """The one 404 for 'missing' and 'not yours': byte-identical bodies so that existence never leaks."""

    def __init__(self, what: str = "resource"):
        super().__init__(404, "not-found", f"No such {what}, or it is outside your area.", title="Not found")


class ProblemSchema(ma.Schema):
    """Documents the error body in the generated OpenAPI. Extension members (RFC 9457 §3.2) are allowed."""

    class Meta:
        unknown = ma.INCLUDE

    type = ma.fields.String(metadata={"example": "/problems/not-found"})
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    instance = ma.fields.String()
    errors = ma.fields.Raw(metadata={"description": "Per-field or per-feature errors, when there are several."})


def problem_response(problem: Problem):
    body = {"type": f"/problems/{problem.slug}", "title": problem.title, "status": problem.status}
    body["detail"] = problem.detail
    body["instance"] = request.path
    if problem.errors is not None:
        body["errors"] = problem.errors
    body.update(problem.extra)
    response = jsonify(body)
    response.status_code = problem.status
    response.mimetype = PROBLEM_MIME
    response.headers.update(problem.headers)
    return response


def problem_from_http_exception(error: HTTPException):
    status = error.code or 500
    if status == 404:
        return problem_response(NotFound())
    data = getattr(error, "data", None) or {}
    errors = data.get("messages") or data.get("errors")
    detail = _detail_for(status, error, errors)
    problem = Problem(status, _HTTP_SLUGS.get(status, f"http-{status}"), detail, title=error.name, errors=errors)
    if status == 405 and error.valid_methods:
        problem.headers["Allow"] = ", ".join(error.valid_methods)
    if error.response is not None and "Retry-After" in error.response.headers:
        problem.headers["Retry-After"] = error.response.headers["Retry-After"]
    return problem_response(problem)


def _detail_for(status: int, error: HTTPException, errors) -> str:
    if status == 422 and errors:
        return "Some fields are invalid; see `errors` for each field and what it expects."
    if status == 405:
        return f"{request.method} is not allowed here. Allowed: {', '.join(error.valid_methods or [])}."
    return error.description or error.name


def _internal_error(error: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem_response(
        Problem(500, "internal-error", "Something went wrong on our side. Nothing was saved; try again later.")
    )


def _datum_error(error):
    return problem_response(Problem(422, error.slug, error.detail, title="Invalid coordinates"))


def register_error_handlers(app: Flask) -> None:
    from server.geo.datum import DatumError

    app.register_error_handler(DatumError, _datum_error)
    app.register_error_handler(Problem, problem_response)
    app.register_error_handler(HTTPException, problem_from_http_exception)
    app.register_error_handler(Exception, _internal_error)
