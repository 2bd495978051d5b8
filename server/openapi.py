"""The OpenAPI document, generated from the code (flask-smorest + marshmallow schemas). Never hand-edited."""

from __future__ import annotations

import json

from flask import Flask


def openapi_document(app: Flask) -> dict:
    with app.app_context():
        return app.extensions["smorest_api"].spec.to_dict()


def openapi_json(app: Flask) -> str:
    return json.dumps(openapi_document(app), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
