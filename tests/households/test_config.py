"""GRID_HOUSEHOLD_TAGS, GRID_LINK_LIMIT, GRID_VISIT_* and GRID_PATROL_*: parsed and validated at start."""

from __future__ import annotations

import pytest

from server.config import DEFAULT_HOUSEHOLD_TAGS, ConfigError, load_settings


def test_defaults():
    settings = load_settings({"env": "test"})
    assert settings.household_tags == DEFAULT_HOUSEHOLD_TAGS
    assert (settings.link_limit, settings.visit_max_distance_m, settings.visit_target_days) == (15, 100.0, 30)
    assert (settings.patrol_max_speed_mps, settings.patrol_max_accuracy_m, settings.patrol_simplify_m) == (15, 100, 5)


def test_tags_from_the_environment_accept_chinese_commas(monkeypatch):
    monkeypatch.setenv("GRID_HOUSEHOLD_TAGS", " 留守老人，困难户、 低保户 ,")
    assert load_settings({"env": "test"}).household_tags == ("留守老人", "困难户", "低保户")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("HOUSEHOLD_TAGS", " , ", "at least one tag"),
        ("HOUSEHOLD_TAGS", "困难户,困难户", "twice"),
        ("LINK_LIMIT", "0", "GRID_LINK_LIMIT"),
        ("LINK_LIMIT", "eleven", "whole number"),
        ("VISIT_TARGET_DAYS", "400", "GRID_VISIT_TARGET_DAYS"),
        ("VISIT_MAX_DISTANCE_M", "0", "GRID_VISIT_MAX_DISTANCE_M"),
        ("PATROL_MAX_SPEED_MPS", "1000", "GRID_PATROL_MAX_SPEED_MPS"),
        ("PATROL_MAX_ACCURACY_M", "-5", "GRID_PATROL_MAX_ACCURACY_M"),
        ("PATROL_SIMPLIFY_M", "500", "GRID_PATROL_SIMPLIFY_M"),
    ],
)
def test_bad_values_refuse_to_start(monkeypatch, name, value, message):
    monkeypatch.setenv(f"GRID_{name}", value)
    with pytest.raises(ConfigError, match=message):
        load_settings({"env": "test"})
