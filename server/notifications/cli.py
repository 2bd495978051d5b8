"""`flask notifications ...`: channels (add, list, remove, reseal), one delivery round, and the outbox's state.

Secrets never go on the command line (shell history, `ps`): `--secret-stdin` reads one line from stdin, or it is
asked for with hidden input. Robot URLs carry their token, so listings and logs show them without the query.
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from server.accounts.models import User
from server.areas.index_cache import current_generation_id
from server.areas.models import Area
from server.extensions import db
from server.notifications.channels import safe_url
from server.notifications.models import AUDIENCES, CHANNEL_KINDS, NotificationChannel

notifications_cli = AppGroup("notifications", help="Notification channels and the outbox.")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@notifications_cli.command("add-channel")
@click.option(
    "--area", "area_code", help="Area code whose notifications the channel receives (grid, township, county)."
)
@click.option("--user", "user_id", type=int, help="Or: the id of the one user whose notifications it receives.")
@click.option("--kind", type=click.Choice(CHANNEL_KINDS), required=True)
@click.option("--url", required=True, help="Webhook URL, or the robot's URL with its access_token / key.")
@click.option(
    "--audience",
    type=click.Choice(AUDIENCES),
    default="general",
    show_default=True,
    help="discipline: read only by discipline officers; the only channels conflict tips go to.",
)
@click.option("--secret-stdin", is_flag=True, help="Read the signing secret from stdin (webhook, DingTalk 加签).")
@click.option("--no-secret", is_flag=True, help="No signing secret (WeCom robots; DingTalk keyword mode).")
@click.option("--label", default=None, help="A name to recognise the channel by.")
def add_channel(area_code, user_id, kind, url, audience, secret_stdin, no_secret, label):
    """Add a channel. Example: flask notifications add-channel --area 330899001 --kind dingtalk --url URL"""
    if (area_code is None) == (user_id is None):
        raise click.UsageError("Give exactly one of --area or --user.")
    _check_url(url)
    if (
        area_code is not None
        and db.session.scalar(
            select(Area.id).where(Area.generation_id == current_generation_id(), Area.code == area_code)
        )
        is None
    ):
        raise click.ClickException(f"{area_code} is not an area of the current map.")
    if user_id is not None and db.session.get(User, user_id) is None:
        raise click.ClickException(f"No user {user_id}.")
    secret = None if no_secret else _read_secret(secret_stdin)
    if kind == "webhook" and not secret:
        raise click.ClickException("A webhook needs a signing secret (receivers verify X-Grid-Signature).")
    channel = NotificationChannel(
        area_code=area_code,
        user_id=user_id,
        kind=kind,
        url=url,
        secret=secret,
        audience=audience,
        label=label,
        active=True,
    )
    db.session.add(channel)
    db.session.commit()
    click.echo(f"channel {channel.id}: {kind} {audience} -> {safe_url(url)}")


@notifications_cli.command("list-channels")
def list_channels():
    """The channels, without their secrets or URL tokens."""
    for c in db.session.scalars(select(NotificationChannel).order_by(NotificationChannel.id)):
        whom = f"area {c.area_code}" if c.area_code else f"user {c.user_id}"
        state = "active" if c.active else "removed"
        signed = "signed" if c.secret else "unsigned"
        click.echo(f"{c.id}\t{c.kind}\t{c.audience}\t{whom}\t{safe_url(c.url)}\t{signed}\t{state}\t{c.label or ''}")


@notifications_cli.command("remove-channel")
@click.argument("channel_id", type=int)
def remove_channel(channel_id):
    """Deactivate a channel (its pending deliveries are dropped as dead, nothing else is deleted)."""
    channel = db.session.get(NotificationChannel, channel_id)
    if channel is None:
        raise click.ClickException(f"No channel {channel_id}.")
    channel.active = False
    db.session.commit()
    click.echo(f"channel {channel_id} removed")


@notifications_cli.command("reseal")
def reseal_channels():
    """Seal every channel's URL and secret again with the first of GRID_CHANNEL_KEYS (after adding a new key in front);
    then the old key can be removed from the list."""
    channels = list(db.session.scalars(select(NotificationChannel).order_by(NotificationChannel.id)))
    for channel in channels:
        flag_modified(channel, "url")  # the same value, sealed anew when written
        if channel.secret is not None:
            flag_modified(channel, "secret")
    db.session.commit()
    click.echo(f"{len(channels)} channels resealed with the first key of GRID_CHANNEL_KEYS / 已用新密钥重新加密")


@notifications_cli.command("deliver")
@click.option("--limit", default=100, show_default=True)
def deliver(limit):
    """One delivery round now (the worker does this continuously)."""
    from server.notifications.delivery import deliver_pending

    outcomes = deliver_pending(limit)
    click.echo(", ".join(f"{k}={v}" for k, v in sorted(outcomes.items())) or "nothing due")


@notifications_cli.command("status")
def status():
    """Deliveries per state (pending, sending, sent, dead)."""
    from server.notifications.delivery import status_counts

    counts = status_counts()
    for name in ("pending", "sending", "sent", "dead"):
        click.echo(f"{name}\t{counts.get(name, 0)}")


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    loopback = parts.scheme == "http" and parts.hostname in LOOPBACK
    if loopback or (parts.scheme == "http" and parts.hostname and not current_app.config["GRID"].is_production):
        return
    raise click.ClickException("The URL must be https:// (http:// only to this machine, or outside production).")


def _read_secret(from_stdin: bool) -> str:
    if from_stdin:
        secret = sys.stdin.readline().strip()
        if not secret:
            raise click.UsageError("--secret-stdin was given but stdin was empty.")
        return secret
    return click.prompt("Signing secret", hide_input=True)
