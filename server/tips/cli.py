"""`flask tips ...`: operations on tips. `escalate` runs the escalation job once (the worker runs it every minute)."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from server.areas.models import utcnow

tips_cli = AppGroup("tips", help="Tips: the escalation job.")


@tips_cli.command("escalate")
@click.option("--now", "now_text", default=None, help="Pretend it is this moment (ISO 8601 with offset); default: now.")
def escalate(now_text):
    """Early warnings, escalations and overdue notices that are due. Idempotent: safe to run again, or twice at once."""
    from server.workflow.escalation import run_escalation

    now = utcnow()
    if now_text:
        try:
            now = datetime.fromisoformat(now_text)
        except ValueError:
            raise click.BadParameter("use ISO 8601, e.g. 2026-12-01T09:30:00+08:00", param_hint="--now") from None
        if now.tzinfo is None:
            raise click.BadParameter("give the offset, e.g. +08:00", param_hint="--now")
    taken = run_escalation(now)
    steps = {k: v for k, v in sorted(taken.items()) if k != "none"}
    click.echo(", ".join(f"{k}={v}" for k, v in steps.items()) or "nothing due")
