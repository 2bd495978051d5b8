"""The committed OpenAPI document must equal the one generated from the code."""

from pathlib import Path

from server import create_app
from server.openapi import openapi_json

COMMITTED = Path(__file__).resolve().parent.parent / "api_docs" / "openapi.json"


def test_committed_openapi_is_current():
    generated = openapi_json(create_app({"database_url": "sqlite:///:memory:"}))
    assert COMMITTED.exists(), "api_docs/openapi.json is missing: run `make openapi`"
    assert COMMITTED.read_text(encoding="utf-8") == generated, "api_docs/openapi.json is stale: run `make openapi`"


def test_every_operation_documents_its_errors():
    spec = create_app({"database_url": "sqlite:///:memory:"}).extensions["smorest_api"].spec.to_dict()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method == "parameters":  # path-level parameters, not an operation
                continue
            assert "default" in op["responses"], f"{method.upper()} {path} does not document its error body"
