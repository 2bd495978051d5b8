"""GRID_PHOTO_* and GRID_S3_* settings: defaults, overrides, validation, and limits_from_settings."""

from __future__ import annotations

import pytest

from server.config import INSTANCE_DIR, ConfigError, load_settings
from server.photos import PhotoLimits, limits_from_settings

NAMES = [
    "PHOTO_MAX_BYTES",
    "PHOTO_MAX_PIXELS",
    "PHOTO_MAX_PER_TIP",
    "PHOTO_MAX_REQUEST_BYTES",
    "PHOTO_MAX_STORED_PX",
    "PHOTO_STORE",
    "PHOTO_DIR",
    "S3_BUCKET",
    "S3_ENDPOINT_URL",
    "S3_REGION",
    "S3_PREFIX",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
]


@pytest.fixture
def env(monkeypatch):
    for name in NAMES:
        monkeypatch.delenv(f"GRID_{name}", raising=False)
    monkeypatch.setenv("GRID_ENV", "test")
    return monkeypatch


def test_defaults_match_photo_limits(env):
    settings = load_settings()
    assert limits_from_settings(settings) == PhotoLimits()
    assert PhotoLimits().max_stored_px == 2048
    assert settings.photo_store == "local" and settings.photo_dir == str(INSTANCE_DIR / "photos")
    assert settings.s3_prefix == "photos/"


def test_overrides_reach_the_limits(env):
    env.setenv("GRID_PHOTO_MAX_BYTES", "1000")
    env.setenv("GRID_PHOTO_MAX_PIXELS", "2000000")
    env.setenv("GRID_PHOTO_MAX_PER_TIP", "3")
    env.setenv("GRID_PHOTO_MAX_REQUEST_BYTES", "3000")
    env.setenv("GRID_PHOTO_MAX_STORED_PX", "4096")
    limits = limits_from_settings(load_settings())
    expected = PhotoLimits(
        max_bytes=1000, max_pixels=2_000_000, max_photos=3, max_request_bytes=3000, max_stored_px=4096
    )
    assert limits == expected


def test_s3_secrets_are_not_in_repr(env):
    env.setenv("GRID_PHOTO_STORE", "s3")
    env.setenv("GRID_S3_BUCKET", "tips")
    env.setenv("GRID_S3_ACCESS_KEY_ID", "AKIAEXAMPLEKEYID")
    env.setenv("GRID_S3_SECRET_ACCESS_KEY", "very-secret-value")
    settings = load_settings()
    assert settings.s3_secret_access_key == "very-secret-value"
    assert "very-secret-value" not in repr(settings) and "AKIAEXAMPLEKEYID" not in repr(settings)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"PHOTO_MAX_PIXELS": "50000001"}, "GRID_PHOTO_MAX_PIXELS"),
        ({"PHOTO_MAX_PIXELS": "0"}, "GRID_PHOTO_MAX_PIXELS"),
        ({"PHOTO_MAX_BYTES": "0"}, "GRID_PHOTO_MAX_BYTES"),
        ({"PHOTO_MAX_BYTES": "15MB"}, "whole number"),
        ({"PHOTO_MAX_PER_TIP": "0"}, "GRID_PHOTO_MAX_PER_TIP"),
        ({"PHOTO_MAX_REQUEST_BYTES": "100"}, "at least GRID_PHOTO_MAX_BYTES"),
        ({"PHOTO_MAX_STORED_PX": "100"}, "GRID_PHOTO_MAX_STORED_PX=100 must be 320..10000"),
        ({"PHOTO_MAX_STORED_PX": "10001"}, "GRID_PHOTO_MAX_STORED_PX"),
        ({"PHOTO_STORE": "ftp"}, "local or s3"),
        ({"PHOTO_STORE": "s3"}, "GRID_S3_BUCKET is required"),
        ({"PHOTO_STORE": "s3", "S3_BUCKET": "b", "S3_ENDPOINT_URL": "minio:9000"}, "https://"),
        ({"PHOTO_STORE": "s3", "S3_BUCKET": "b", "S3_ACCESS_KEY_ID": "k"}, "or neither"),
    ],
)
def test_invalid_settings_are_refused(env, values, message):
    for name, value in values.items():
        env.setenv(f"GRID_{name}", value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_empty_photo_dir_means_the_default(env):
    env.setenv("GRID_PHOTO_DIR", "")
    assert load_settings().photo_dir == str(INSTANCE_DIR / "photos")
