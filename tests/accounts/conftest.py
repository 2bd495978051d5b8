"""Fixtures for the accounts tests."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture
def live_loggers(monkeypatch):
    """Re-enable every logger for this test.

    Alembic's env.py runs logging.config.fileConfig() during the session's `upgrade()`, which disables every
    logger that existed by then (server.accounts.*, flask-limiter, ...). Tests that check what gets logged
    must see those records, or they would pass without looking at anything.
    """
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        if isinstance(logger, logging.Logger) and logger.disabled:
            monkeypatch.setattr(logger, "disabled", False)
