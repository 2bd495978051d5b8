#!/usr/bin/env python3
"""Regenerate api_docs/openapi.json from the code. tests/test_openapi.py fails when the committed copy is stale."""

from pathlib import Path

from server import create_app
from server.openapi import openapi_json

OUT = Path(__file__).resolve().parent.parent / "api_docs" / "openapi.json"

if __name__ == "__main__":
    app = create_app({"database_url": "sqlite:///:memory:"})
    OUT.write_text(openapi_json(app), encoding="utf-8")
    print(f"wrote {OUT}")
