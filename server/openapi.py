"""The OpenAPI document, generated from the code (flask-smorest + marshmallow schemas). Never hand-edited.

One finishing step applies to both the served `/api/openapi.json` and the committed `api_docs/openapi.json`:
error responses are documented as `application/problem+json`, which is what the API sends (flask-smorest would
say `application/json`).
"""

from __future__ import annotations

import json

from flask import Flask

PROBLEM = "application/problem+json"


def finish(spec: dict) -> dict:
    for response in spec.get("components", {}).get("responses", {}).values():
        _problem_content(response)
    for item in spec.get("paths", {}).values():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for status, response in operation.get("responses", {}).items():
                if status == "default" or (status.isdigit() and int(status) >= 400):
                    _problem_content(response)
    return spec


def _problem_content(response: dict) -> None:
    content = response.get("content")
    if content and "application/json" in content and PROBLEM not in content:
        content[PROBLEM] = content.pop("application/json")


def openapi_document(app: Flask) -> dict:
    with app.app_context():
        return finish(app.extensions["smorest_api"].spec.to_dict())


def openapi_json(app: Flask) -> str:
    return json.dumps(openapi_document(app), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
