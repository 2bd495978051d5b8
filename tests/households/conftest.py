"""Fixtures for the household tests."""

from __future__ import annotations

import pytest

from server.photos import LocalPhotoStore


@pytest.fixture
def photo_store(tmp_path, monkeypatch):
    """Visit photos go to a temporary local store, never to the project's instance/ directory."""
    store = LocalPhotoStore(tmp_path / "photos")
    monkeypatch.setattr("server.households.visits.photo_store", lambda: store)
    return store


@pytest.fixture
def grids(db_session, demo_areas):
    """The demo grid, its sibling in the same village, and a grid in another township."""
    return demo_areas["grid"], demo_areas["sibling_grid"], demo_areas["other_grid"]
