"""WAL checkpoints run in a thread of each process, off the request path (server.sqlite_checkpoint)."""

from __future__ import annotations

import os
import sqlite3
import time

from sqlalchemy import text

from server import create_app
from server.extensions import db
from server.sqlite_checkpoint import BACKSTOP_PAGES, ensure_checkpointer


def test_the_thread_copies_the_log_back_into_the_database(tmp_path):
    path = str(tmp_path / "wal.sqlite")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # nobody else checkpoints
    writer.execute("CREATE TABLE t (b BLOB)")
    for _ in range(50):
        writer.execute("INSERT INTO t VALUES (?)", (os.urandom(100_000),))
    assert os.path.getsize(path) < 1_000_000 < os.path.getsize(path + "-wal")  # the pages are only in the log
    ensure_checkpointer(path)
    deadline = time.monotonic() + 5
    while os.path.getsize(path) < 5_000_000 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert os.path.getsize(path) >= 5_000_000  # copied into the database file by the thread
    writer.close()


def test_app_connections_keep_only_a_backstop_checkpoint(tmp_path):
    app = create_app({"database_url": f"sqlite:///{tmp_path / 'app.sqlite'}", "env": "test"})
    with app.app_context():
        assert db.session.execute(text("PRAGMA wal_autocheckpoint")).scalar() == BACKSTOP_PAGES
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        db.session.remove()


def test_the_thread_stops_when_its_file_is_replaced_and_a_new_one_takes_over(tmp_path):
    from server import sqlite_checkpoint

    path = str(tmp_path / "replaced.sqlite")
    sqlite3.connect(path).execute("PRAGMA journal_mode=WAL").fetchall()
    ensure_checkpointer(path)
    first = sqlite_checkpoint._threads[(os.getpid(), path)]
    time.sleep(0.3)  # it has opened the file
    os.remove(path)
    sqlite3.connect(path).execute("PRAGMA journal_mode=WAL").fetchall()  # a new file at the same path
    first.join(timeout=5)
    assert not first.is_alive()
    ensure_checkpointer(path)
    assert sqlite_checkpoint._threads[(os.getpid(), path)].is_alive()


def test_the_log_is_started_over_under_a_steady_stream_of_writes(tmp_path):
    """PASSIVE alone never lets SQLite start the log over while writers keep coming: it grew to the 40 MB
    backstop under tip intake. Past RESTART_PAGES the thread restarts it through the write gate, so it stays
    small however much is written."""
    from server.sqlite_checkpoint import RESTART_PAGES
    from server.sqlite_gate import GatedConnection, gate_for

    path = str(tmp_path / "stream.sqlite")
    writer = sqlite3.connect(path, isolation_level=None, factory=GatedConnection, check_same_thread=False)
    writer.gate = gate_for(path)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # only the thread checkpoints
    writer.execute("CREATE TABLE t (b BLOB)")
    ensure_checkpointer(path)
    largest, written = 0, 0
    while written < 60_000_000:  # 15,000 pages: fifteen times RESTART_PAGES
        writer.begin_write()
        writer.execute("INSERT INTO t VALUES (?)", (os.urandom(100_000),))
        writer.commit()
        time.sleep(0)  # let go of the GIL: the gate is not fair between threads, and a writer that takes it back
        written += 100_000  # the instant it let go starves the thread's restart (a server's writers are processes)
        largest = max(largest, os.path.getsize(path + "-wal"))
    writer.close()
    assert largest < 4 * RESTART_PAGES * 4096, largest  # PASSIVE alone: ~60 MB
