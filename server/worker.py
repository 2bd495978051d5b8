"""The background worker: routes and writes the tips that JSON intake accepted, follows up new tips (related
links, queue notifications), drains the notification outbox, and every minute folds the inbox badge's counter
rows (server.tips.counts) and runs the escalation job.

- `flask worker` runs it in the foreground until SIGTERM or SIGINT. A signal lets the current delivery finish
  (at most GRID_NOTIFY_TIMEOUT_SECONDS) and then the loop exits; anything claimed but not recorded goes back to
  the queue when its lease runs out, so even SIGKILL loses nothing (see server/notifications/delivery.py).
  Run as many as you like: claims skip each other's rows, the escalation job is idempotent.
- With GRID_INPROCESS_WORKER=1 the app starts the same loop in a daemon thread of the serving process (the
  embedded default, `make run`): not under `flask db ...` or other CLI commands, not in tests, and under the
  reloader only in the child that serves.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from server.extensions import db

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, app: Flask, *, stop: threading.Event | None = None, escalate: bool = True, batch: int = 50):
        self.app, self.stop = app, stop or threading.Event()
        self.escalate, self.batch = escalate, batch
        self._next_escalation = 0.0

    def run(self, *, once: bool = False) -> None:
        settings = self.app.config["GRID"]
        log.info("worker started (escalation %s)", "on" if self.escalate else "off")
        while not self.stop.is_set():
            busy = self.tick()
            if once:
                break
            if not busy:
                self.stop.wait(settings.worker_poll_seconds)
        log.info("worker stopped")

    def tick(self) -> bool:
        """One round: follow up new tips, deliver what is due, and when a minute has passed fold the badge's counters
        and escalate. True when it did something (so that the loop goes round again at once)."""
        followed = self._guarded(self._follow_up)
        delivered = self._guarded(self._deliver)
        if time.monotonic() >= self._next_escalation:
            self._next_escalation = time.monotonic() + self.app.config["GRID"].escalation_interval_seconds
            self._guarded(self._fold_counts)
            if self.escalate:
                self._guarded(self._escalate)
        return bool(followed or delivered)

    def _follow_up(self) -> int:
        """Write the tips waiting in the intake journal, then follow up new tips (each step its own commit)."""
        from server.tips.followups import run_followups
        from server.tips.materialise import materialise_waiting

        written = materialise_waiting(self.batch)
        db.session.commit()
        done = run_followups(self.batch)
        db.session.commit()
        return written + done

    def _deliver(self) -> int:
        from server.notifications.delivery import deliver_pending

        return sum(deliver_pending(self.batch).values())

    def _fold_counts(self) -> int:
        """The inbox badge's counter rows, folded into one per key (server.tips.counts)."""
        from server.tips.counts import compact

        folded = compact()
        db.session.commit()
        return folded

    def _escalate(self) -> int:
        from server.workflow.escalation import run_escalation

        taken = run_escalation()
        steps = {k: v for k, v in taken.items() if k != "none"}
        if steps:
            log.info("escalation: %s", ", ".join(f"{k}={v}" for k, v in sorted(steps.items())))
        return sum(steps.values())

    def _guarded(self, job) -> int:
        """Run a job in its own app context; a failure is logged and retried on the next round, never fatal."""
        with self.app.app_context():
            try:
                return job()
            except Exception:  # noqa: BLE001 - the loop must survive a database hiccup
                log.exception("worker job %s failed; retrying next round", job.__name__)
                db.session.rollback()
                return 0
            finally:
                db.session.remove()


def start_inprocess_worker(app: Flask) -> threading.Thread:
    worker = Worker(app)
    thread = threading.Thread(target=worker.run, name="grid-inprocess-worker", daemon=True)
    thread.worker = worker  # type: ignore[attr-defined]
    thread.start()
    return thread


def should_start_inprocess(settings) -> bool:
    """GRID_INPROCESS_WORKER=1, not in tests, and only in a process that serves requests."""
    if not settings.inprocess_worker or settings.env == "test":
        return False
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return True  # a WSGI server imported the app
    if ctx.info_name != "run":
        return False  # flask db upgrade, flask grids import, flask worker, ...
    from flask.helpers import get_debug_flag
    from werkzeug.serving import is_running_from_reloader

    reload = ctx.params.get("reload")
    reload = get_debug_flag() if reload is None else reload
    return not reload or is_running_from_reloader()


@click.command("worker")
@click.option("--once", is_flag=True, help="One round (follow up, deliver, escalate) and exit.")
@click.option("--no-escalation", is_flag=True, help="Follow up and deliver only.")
@click.option("--batch", default=50, show_default=True, help="Tips followed up and deliveries claimed per round.")
@with_appcontext
def worker_command(once: bool, no_escalation: bool, batch: int) -> None:
    """Follow up new tips, deliver notifications and run the escalation job every minute, until SIGTERM/SIGINT."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    worker = Worker(app, escalate=not no_escalation, batch=batch)

    def _stop(signum, _frame):
        log.info("worker: signal %s, finishing the current delivery", signum)
        worker.stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run(once=once)
