"""GRID_TRUSTED_PROXIES: behind nginx the client address comes from X-Forwarded-For; otherwise it is never trusted."""

from flask import request

from server import create_app


def _seen_address(trusted: int) -> str:
    app = create_app({"database_url": "sqlite:///:memory:", "env": "test", "trusted_proxies": trusted})
    app.add_url_rule("/whoami", "whoami", lambda: request.remote_addr)
    response = app.test_client().get("/whoami", headers={"X-Forwarded-For": "203.0.113.7"})
    return response.get_data(as_text=True)


def test_forwarded_address_is_used_behind_a_trusted_proxy():
    assert _seen_address(1) == "203.0.113.7"


def test_forwarded_address_is_ignored_without_one():
    assert _seen_address(0) == "127.0.0.1"
