"""Settings for accounts: secrets are refused when weak or shared; rates, lifetimes and storage are validated."""

from __future__ import annotations

import pytest

from server.config import ConfigError, load_settings

STRONG_A = "a" * 48
STRONG_B = "b" * 48


@pytest.fixture
def env(monkeypatch):
    for name in ("GRID_ENV", "GRID_SECRET_KEY", "GRID_JWT_SECRET", "GRID_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRID_SECRET_KEY", STRONG_A)
    monkeypatch.setenv("GRID_JWT_SECRET", STRONG_B)
    return monkeypatch


def test_defaults(env):
    settings = load_settings()
    assert settings.access_token_minutes == 15 and settings.refresh_token_days == 14
    assert settings.login_rate_per_phone == "5/minute" and settings.login_rate_per_ip == "20/minute"
    assert settings.ratelimit_storage_url == "memory://"


def test_short_jwt_secret_is_refused(env):
    env.setenv("GRID_JWT_SECRET", "x" * 31)
    with pytest.raises(ConfigError, match="GRID_JWT_SECRET must be at least 32 bytes"):
        load_settings()


def test_missing_jwt_secret_is_refused_in_production(env):
    env.setenv("GRID_ENV", "production")
    env.setenv("GRID_JWT_SECRET", "")
    with pytest.raises(ConfigError, match="GRID_JWT_SECRET"):
        load_settings()


def test_jwt_secret_equal_to_secret_key_is_refused(env):
    env.setenv("GRID_JWT_SECRET", STRONG_A)
    with pytest.raises(ConfigError, match="must differ"):
        load_settings()


def test_jwt_secret_is_used_for_tokens(app):
    assert app.config["JWT_SECRET_KEY"] == app.config["GRID"].jwt_secret != app.config["SECRET_KEY"]
    assert app.config["JWT_DECODE_ALGORITHMS"] == ["HS256"] and app.config["JWT_ALGORITHM"] == "HS256"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ACCESS_TOKEN_MINUTES", "0", "1..1440"),
        ("ACCESS_TOKEN_MINUTES", "fifteen", "whole number"),
        ("REFRESH_TOKEN_DAYS", "365", "1..90"),
        ("LOGIN_RATE_PER_PHONE", "lots", "5/minute"),
        ("LOGIN_RATE_PER_IP", "", "not a rate limit"),
        ("RATELIMIT_STORAGE_URL", "mongodb://x", "memory://"),
        ("JWT_AUDIENCE", " ", "must not be empty"),
    ],
)
def test_bad_accounts_settings_are_refused_with_a_hint(env, name, value, message):
    env.setenv(f"GRID_{name}", value)
    with pytest.raises(ConfigError, match=f"GRID_{name}") as error:
        load_settings()
    assert message in str(error.value)


def test_good_accounts_settings(env):
    env.setenv("GRID_ACCESS_TOKEN_MINUTES", "5")
    env.setenv("GRID_LOGIN_RATE_PER_PHONE", "3 per 10 minutes")
    env.setenv("GRID_RATELIMIT_STORAGE_URL", "redis://127.0.0.1:6379/0")
    settings = load_settings()
    assert settings.access_token_minutes == 5 and settings.login_rate_per_phone == "3 per 10 minutes"


def test_postgresql_intake_commit_setting(env):
    assert load_settings().pg_intake_synchronous_commit == "off"
    env.setenv("GRID_PG_INTAKE_SYNCHRONOUS_COMMIT", "ON")
    assert load_settings().pg_intake_synchronous_commit == "on"
    env.setenv("GRID_PG_INTAKE_SYNCHRONOUS_COMMIT", "local")
    with pytest.raises(ConfigError, match="GRID_PG_INTAKE_SYNCHRONOUS_COMMIT='local' must be on or off"):
        load_settings()
