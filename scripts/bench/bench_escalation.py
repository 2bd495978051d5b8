#!/usr/bin/env python3
"""The escalation job over 100k open tips.

Target (issue "Triage for grid chiefs"): the escalation scan over 100k open tips <= 1 s. Every tip in the database is
open (dispatched, escalated, returned, accepted, in progress, postponed), so every one has a pending check; `--due`
of them are due now (their early warning, accept or resolve deadline has passed), the rest later. Measured:
- the scan alone: the query that finds the due tips (partial index on next_check_at), median;
- one whole run of the job: scan, and for each due tip the step (an escalation, an early warning or an overdue
  notice), its timeline event, its in-app notifications and outbox rows, committed per batch of 500;
- a second run straight after: nothing is due any more (the job is idempotent), i.e. the per-minute cost at rest.
Usage: PYTHONPATH=. .venv/bin/python scripts/bench/bench_escalation.py [--tips 100000] [--due 1000] [--backend postgis]
"""

from __future__ import annotations

import argparse
import statistics
import time

from scripts.bench.bench_inbox import NOW, build
from scripts.bench.common import table
from server.extensions import db


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tips", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--backend", choices=["postgis", "spatialite"], default="postgis")
    args = parser.parse_args()
    app, _ = build(args.backend, args.tips, open_only=True, due=args.due)
    rows = [(f"escalation job, {args.tips} open tips, {args.due} due ({args.backend})", "value", "target")]
    with app.app_context():
        from sqlalchemy import func, select

        from server.notifications.models import Notification
        from server.tips.models import Tip
        from server.workflow.escalation import BATCH, due_tip_ids, run_escalation

        open_tips = db.session.scalar(select(func.count()).select_from(Tip).where(Tip.next_check_at.is_not(None)))
        samples = []
        for _ in range(30):
            started = time.perf_counter()
            found = due_tip_ids(NOW, BATCH)
            samples.append((time.perf_counter() - started) * 1000)
            db.session.rollback()
        rows.append(
            (
                f"scan: due tips among {open_tips} with a pending check (batch {BATCH})",
                f"{statistics.median(samples):.2f} ms",
                "<= 1 s",
            )
        )
        rows.append(("  ... of which the first batch found", str(len(found)), ""))
        started = time.perf_counter()
        taken = run_escalation(NOW)
        whole = time.perf_counter() - started
        steps = ", ".join(f"{k}={v}" for k, v in sorted(taken.items()))
        rows.append((f"one run: scan + {sum(taken.values())} steps ({steps})", f"{whole * 1000:.0f} ms", "<= 1 s"))
        told = db.session.scalar(select(func.count(Notification.id)))
        rows.append(("  in-app notifications written", str(told), ""))
        started = time.perf_counter()
        again = run_escalation(NOW)
        rows.append(
            (
                f"the next run: nothing due ({dict(again) or 'no steps'})",
                f"{(time.perf_counter() - started) * 1000:.1f} ms",
                "<= 1 s",
            )
        )
    print(table(rows))


if __name__ == "__main__":
    main()
