"""Reading a tip submission: JSON, or multipart with a JSON part named `tip` plus files named `photos`."""

from __future__ import annotations

import json

import marshmallow as ma
from flask import request

from server.errors import Problem
from server.tips.schemas import TipSubmitSchema

_SCHEMA = TipSubmitSchema()


def read_submission() -> tuple[dict, list[bytes]]:
    """(validated payload, photo bytes). 400/415/422 problems on bad input."""
    if request.mimetype == "multipart/form-data":
        raw = _json_part()
        photos = [f.read() for f in request.files.getlist("photos")]
    elif request.is_json:
        raw = request.get_json(silent=True)
        photos = []
    else:
        raise Problem(415, "unsupported-media-type", "Send application/json, or multipart/form-data with a `tip` part.")
    return validated(raw), photos


def validated(raw) -> dict:
    if not isinstance(raw, dict):
        raise Problem(400, "malformed-json", "The body must be a JSON object.")
    try:
        return _SCHEMA.load(raw)
    except ma.ValidationError as err:
        raise Problem(422, "validation-failed", "Some fields are invalid; see `errors`.", errors=err.messages) from None


def _json_part():
    part = request.files.get("tip")
    text = part.read().decode("utf-8", "replace") if part is not None else request.form.get("tip")
    if text is None:
        raise Problem(400, "missing-tip-part", "A multipart tip needs a JSON part named `tip`.")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise Problem(400, "malformed-json", "The `tip` part is not valid JSON.") from None
