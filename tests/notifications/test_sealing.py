"""Channel URLs (robot tokens) and signing secrets are sealed at rest (server.notifications.sealing).

A database dump must not let anyone post to an officials' group as the system: the planted token and secret are
nowhere in the stored bytes, the app still reads them in clear, keys rotate, and migration 0009 seals what was
stored before it.
"""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from server.config import ConfigError, load_settings
from server.extensions import db
from server.notifications.models import NotificationChannel
from server.notifications.sealing import SealError, seal, unseal
from tests.workflow.live_db import GRID, fresh_database_url, live_app

TOKEN = "PLANTEDROBOTTOKEN0123456789"
SECRET = "SECplantedsigningsecret42"
URL = f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"


def stored(channel_id: int) -> tuple[str, str]:
    return tuple(
        db.session.execute(text("SELECT url, secret FROM notification_channels WHERE id = :i"), {"i": channel_id}).one()
    )


def add(area_code: str) -> NotificationChannel:
    channel = NotificationChannel(area_code=area_code, kind="dingtalk", url=URL, secret=SECRET, audience="general")
    db.session.add(channel)
    db.session.flush()
    return channel


def with_keys(app, keys: str):
    app.config["GRID"] = dataclasses.replace(app.config["GRID"], channel_keys=keys)


def test_a_channels_url_and_secret_are_stored_sealed_and_read_in_clear(app, db_session, demo_areas):
    channel = add(demo_areas["grid"])
    url, secret = stored(channel.id)
    assert TOKEN not in url and SECRET not in secret and "dingtalk" not in url
    db.session.expire(channel)
    assert (channel.url, channel.secret) == (URL, SECRET)


def test_keys_rotate_new_key_in_front_then_reseal_then_the_old_one_can_go(app, db_session, demo_areas, monkeypatch):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setitem(app.config, "GRID", app.config["GRID"])  # restored after the test
    with_keys(app, old)
    channel = add(demo_areas["grid"])
    db.session.commit()
    with_keys(app, f"{new},{old}")
    db.session.expire(channel)
    assert channel.url == URL  # opened with the old key, still listed
    result = app.test_cli_runner().invoke(args=["notifications", "reseal"])
    assert result.exit_code == 0 and "resealed" in result.output, result.output
    with_keys(app, new)
    db.session.expire(channel)
    assert (channel.url, channel.secret) == (URL, SECRET)
    with_keys(app, old)
    db.session.expire(channel)
    with pytest.raises(SealError, match="GRID_CHANNEL_KEYS"):
        channel.url  # noqa: B018 - loading it is the test


def test_without_keys_the_key_is_derived_from_the_secret_key(app):
    settings = dataclasses.replace(app.config["GRID"], channel_keys="")
    token = seal(URL, settings)
    assert TOKEN not in token and unseal(token, settings) == URL
    with pytest.raises(SealError):
        unseal(token, dataclasses.replace(settings, secret_key="another secret key, at least 32 bytes long!"))


def test_setting_keys_for_the_first_time_loses_nothing_and_reseal_moves_to_them(app, db_session, demo_areas):
    """Channels sealed with the derived key (no GRID_CHANNEL_KEYS) still open once keys are set; `reseal` then
    seals them with the new key, which opens them on its own."""
    new = Fernet.generate_key().decode()
    original = app.config["GRID"]
    try:
        with_keys(app, "")
        channel = add(demo_areas["grid"])
        db.session.commit()
        with_keys(app, new)
        db.session.expire(channel)
        assert channel.url == URL
        assert app.test_cli_runner().invoke(args=["notifications", "reseal"]).exit_code == 0
        url, secret = stored(channel.id)
        assert (
            Fernet(new).decrypt(url.encode()).decode() == URL
            and Fernet(new).decrypt(secret.encode()).decode() == SECRET
        )
    finally:
        app.config["GRID"] = original


def test_a_key_that_is_not_a_fernet_key_is_refused_at_start_up(monkeypatch):
    monkeypatch.setenv("GRID_CHANNEL_KEYS", f"{Fernet.generate_key().decode()},not-a-key")
    with pytest.raises(ConfigError, match="GRID_CHANNEL_KEYS: key 2 is not a Fernet key"):
        load_settings({"env": "test"})


@pytest.mark.db
def test_migration_0009_seals_what_was_stored_in_clear_and_its_downgrade_opens_it(database_url, tmp_path):
    from flask_migrate import downgrade, upgrade

    app = live_app(fresh_database_url(database_url, tmp_path, "m9"), tmp_path)
    with app.app_context():
        downgrade(revision="0008")
        db.session.execute(
            text(
                "INSERT INTO notification_channels (area_code, kind, audience, url, secret, active, created_at)"
                " VALUES (:a, 'dingtalk', 'general', :u, :s, true, CURRENT_TIMESTAMP)"
            ),
            {"a": GRID, "u": URL, "s": SECRET},
        )
        db.session.commit()
        upgrade()
        channel_id = db.session.scalar(text("SELECT id FROM notification_channels"))
        url, secret = stored(channel_id)
        assert TOKEN not in url and SECRET not in secret
        channel = db.session.get(NotificationChannel, channel_id)
        assert (channel.url, channel.secret) == (URL, SECRET)
        db.session.remove()  # (on SQLite a session's transaction holds the write lock the migration needs)
        downgrade(revision="0008")
        assert stored(channel_id) == (URL, SECRET)
        db.session.remove()
        upgrade()
