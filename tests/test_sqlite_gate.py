"""The SQLite write gate (server.sqlite_gate): writers of several processes and threads queue at a flock instead of
SQLite's sleeping busy handler, and the gate is always given back. Only the gate module and sqlite3 here."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from server.sqlite_gate import GatedConnection, WriteGate, gate_for

ROOT = Path(__file__).resolve().parent.parent
TRANSACTIONS = 200

WRITER = textwrap.dedent(
    """
    import json, os, sqlite3, sys, time
    from server.sqlite_gate import GatedConnection, gate_for

    path, name, go, mode, transactions = sys.argv[1:]
    gated, transactions = mode == "gated", int(transactions)
    # busy timeout 0: without the gate, any overlap of two writers is an immediate 'database is locked'
    conn = sqlite3.connect(path, timeout=0, isolation_level=None, factory=GatedConnection)
    conn.gate = gate_for(path)
    # Open the WAL now (a first access takes a SHARED lock on the database file, which a closing connection's
    # brief PENDING lock refuses), as a pooled server connection has long done: what is measured is the writes.
    conn.execute("SELECT n FROM counter").fetchone()
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.001)
    started = time.time()
    locked = []
    for i in range(transactions):
        while True:
            try:
                if gated:
                    conn.begin_write()
                else:
                    conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error):
                    raise
                locked.append([i, error.sqlite_errorname, time.time() - started])
        (value,) = conn.execute("SELECT n FROM counter").fetchone()
        time.sleep(0.0005)  # hold the write lock a little: the other process is knocking meanwhile
        conn.execute("UPDATE counter SET n = ?", (value + 1,))
        conn.execute("INSERT INTO log (writer, value) VALUES (?, ?)", (name, value + 1))
        conn.commit()
    print("done", started, time.time(), json.dumps(locked[:5] + [len(locked)]).replace(" ", ""), flush=True)
    conn.close()
    """
)


def make_database(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE counter (n INTEGER NOT NULL)")
    conn.execute("INSERT INTO counter VALUES (0)")
    conn.execute("CREATE TABLE log (seq INTEGER PRIMARY KEY, writer TEXT NOT NULL, value INTEGER NOT NULL UNIQUE)")
    conn.close()


def run_two_writers(path: Path, mode: str) -> tuple[list[list], int, list[str], list[tuple[float, float]]]:
    """Two processes, started together: (for each, its first 'database is locked' errors (iteration, error name, time)
    and their count last, the final counter, the log's writers, each one's (start, end) time).

    A connection of the parent stays open throughout, as the server's pool keeps its own: the last connection to
    close checkpoints and deletes the WAL under an exclusive lock, outside any write transaction (so outside the
    gate), which would show up as 'locked' for a writer that never waits (busy timeout 0)."""
    go = path.with_suffix(".go")
    keeper = sqlite3.connect(path)
    keeper.execute("SELECT n FROM counter").fetchone()
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), name, str(go), mode, str(TRANSACTIONS)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    try:
        for w in writers:
            assert w.stdout.readline().strip() == "ready"
        go.touch()
        outputs = [w.communicate(timeout=120)[0] for w in writers]
        assert [w.returncode for w in writers] == [0, 0], outputs
        (total,) = keeper.execute("SELECT n FROM counter").fetchone()
        log = [writer for (writer,) in keeper.execute("SELECT writer FROM log ORDER BY value")]
    finally:
        keeper.close()
        for w in writers:
            if w.poll() is None:
                w.kill()
    done = [out.split()[-4:] for out in outputs]
    assert [d[0] for d in done] == ["done", "done"], outputs
    return [json.loads(d[3]) for d in done], total, log, [(float(d[1]), float(d[2])) for d in done]


def test_two_processes_writing_at_once_queue_at_the_gate_and_never_see_locked(tmp_path):
    path = tmp_path / "gate.sqlite"
    make_database(path)
    locked, total, log, (a, b) = run_two_writers(path, "gated")
    assert locked == [[0], [0]], (locked, a, b)
    assert total == 2 * TRANSACTIONS
    assert len(log) == 2 * TRANSACTIONS and log.count("a") == log.count("b") == TRANSACTIONS
    assert a[0] < b[1] and b[0] < a[1], "the two writers did not run at the same time"


def test_without_the_gate_the_same_writers_do_collide(tmp_path):
    """Control for the test above: the workload does contend, so the gate is what kept 'locked' away."""
    path = tmp_path / "nogate.sqlite"
    make_database(path)
    locked, total, _, _ = run_two_writers(path, "plain")
    assert locked[0][-1] + locked[1][-1] > 0
    assert total == 2 * TRANSACTIONS  # BEGIN IMMEDIATE still keeps the counter right; only the waiting differs


# --- the gate is always given back ------------------------------------------------------------------------------


def connect(path: Path, **kwargs) -> GatedConnection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, factory=GatedConnection, **kwargs)
    conn.gate = gate_for(str(path))
    return conn


@pytest.fixture
def db_path(tmp_path) -> Path:
    path = tmp_path / "release.sqlite"
    make_database(path)
    return path


def another_thread_gets_in(path: Path, seconds: float = 1.0) -> bool:
    """Can a writer on another thread (its own connection) begin, write and commit within `seconds`?"""
    done = threading.Event()
    errors = []

    def write():
        conn = connect(path)
        try:
            conn.begin_write()
            conn.execute("UPDATE counter SET n = n + 1")
            conn.commit()
            done.set()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            conn.close()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    got_in = done.wait(seconds)
    assert not errors, errors
    if not got_in:
        thread.join(35)  # the gate's own timeout ends it; do not leave it running into the next test
    return got_in


GATE_PROBE = textwrap.dedent(
    """
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("held")
    else:
        print("free")
    """
)


def gate_file_free(gate: WriteGate) -> bool:
    """Could another process take the gate's flock right now?"""
    out = subprocess.run([sys.executable, "-c", GATE_PROBE, gate.path], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip() == "free"


def test_the_gate_is_held_during_a_write_transaction(db_path):
    """Control for the tests below: while a transaction is open, the gate really is closed to others."""
    conn = connect(db_path)
    conn.begin_write()
    assert not gate_file_free(conn.gate)
    assert not threading_acquire(conn.gate)
    conn.commit()
    assert gate_file_free(conn.gate) and threading_acquire(conn.gate)
    conn.close()


def test_released_after_commit(db_path):
    conn = connect(db_path)
    conn.begin_write()
    conn.execute("UPDATE counter SET n = n + 1")
    conn.commit()
    assert gate_file_free(conn.gate) and another_thread_gets_in(db_path)
    conn.close()


def test_released_after_rollback(db_path):
    conn = connect(db_path)
    conn.begin_write()
    conn.execute("UPDATE counter SET n = 41")
    conn.rollback()
    assert gate_file_free(conn.gate) and another_thread_gets_in(db_path)
    assert conn.execute("SELECT n FROM counter").fetchone() == (1,)  # the other thread's increment, not 41
    conn.close()


def test_released_after_an_exception_inside_the_transaction(db_path):
    conn = connect(db_path)
    conn.begin_write()
    conn.execute("INSERT INTO log (writer, value) VALUES ('x', 1)")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO log (writer, value) VALUES ('x', 1)")  # UNIQUE(value)
    assert conn.in_transaction and not gate_file_free(conn.gate)  # a failed statement does not end the transaction
    conn.rollback()  # what SQLAlchemy (and any caller) does on the way out of a failed transaction
    assert gate_file_free(conn.gate) and another_thread_gets_in(db_path)
    conn.close()


def test_released_when_begin_itself_fails(db_path):
    """BEGIN IMMEDIATE refused (a writer that bypasses the gate holds SQLite's lock): the gate is not kept."""
    outsider = sqlite3.connect(db_path, isolation_level=None)
    outsider.execute("BEGIN IMMEDIATE")
    conn = connect(db_path, timeout=0)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        conn.begin_write()
    assert not conn.in_transaction and gate_file_free(conn.gate)
    outsider.rollback()
    outsider.close()
    assert another_thread_gets_in(db_path)
    conn.close()


def test_released_when_a_connection_holding_it_is_closed(db_path):
    conn = connect(db_path)
    conn.begin_write()
    conn.execute("UPDATE counter SET n = 41")
    gate = conn.gate
    conn.close()
    assert gate_file_free(gate) and another_thread_gets_in(db_path)
    check = sqlite3.connect(db_path)
    assert check.execute("SELECT n FROM counter").fetchone() == (1,)  # closing rolled the 41 back
    check.close()


def test_a_connection_not_holding_the_gate_does_not_release_anothers(db_path):
    """rollback() and close() of an idle connection must not open the gate someone else holds."""
    holder, idle = connect(db_path), connect(db_path)
    holder.begin_write()
    idle.rollback()
    idle.commit()
    idle.close()
    assert not gate_file_free(holder.gate)
    holder.commit()
    assert gate_file_free(holder.gate)
    holder.close()


# --- nesting on one thread -------------------------------------------------------------------------------------


def test_nested_acquire_on_one_thread_unlocks_only_at_the_outermost_release(tmp_path):
    gate = WriteGate(str(tmp_path / "nested-writegate"))
    gate.acquire()
    gate.acquire()  # the same thread again: no deadlock
    assert not gate_file_free(gate)
    gate.release()
    assert not gate_file_free(gate), "an inner release opened the gate"
    assert not threading_acquire(gate), "an inner release let another thread in"
    gate.release()
    assert gate_file_free(gate)
    assert threading_acquire(gate)


def threading_acquire(gate: WriteGate, seconds: float = 0.3) -> bool:
    """Can another thread of this process pass the gate within `seconds`? (It gives it back at once.)"""
    result = []

    def attempt():
        if gate._threads.acquire(timeout=seconds):
            gate._threads.release()
            result.append(True)

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join(seconds + 5)
    return bool(result)


def test_a_connection_inside_an_outer_hold_leaves_the_gate_to_the_outer_one(db_path):
    """A write transaction opened while this thread already holds the gate (depth 2) ends at depth 1."""
    gate = gate_for(str(db_path))
    gate.acquire()
    try:
        conn = connect(db_path)
        conn.begin_write()
        conn.execute("UPDATE counter SET n = n + 1")
        conn.commit()
        conn.close()
        assert not gate_file_free(gate)
    finally:
        gate.release()
    assert gate_file_free(gate) and another_thread_gets_in(db_path)


def test_one_gate_per_database_file(tmp_path):
    a = tmp_path / "one.sqlite"
    assert gate_for(str(a)) is gate_for(str(tmp_path / "." / "one.sqlite"))
    assert gate_for(str(a)).path == os.path.realpath(a) + "-writegate"
    assert gate_for(str(a)) is not gate_for(str(tmp_path / "two.sqlite"))
    assert gate_for(":memory:").path is None and gate_for(":memory:") is not gate_for(":memory:")


def test_flock_is_what_other_processes_see(tmp_path):
    """gate_file_free() itself: a flock held by this process is seen as held by another one."""
    path = str(tmp_path / "probe-writegate")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    probe = WriteGate(path)
    assert not gate_file_free(probe)
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    assert gate_file_free(probe)


# --- group commit: GRID_SQLITE_SYNCHRONOUS=full syncs the log after the gate is released ------------------------


def synced_commits(path, monkeypatch) -> tuple[GatedConnection, list[tuple]]:
    """A connection set up as the app sets one up for `full`, and a record of each fdatasync: (inode synced, the
    gate's holder, still in a transaction)."""
    conn = sqlite3.connect(path, isolation_level=None, factory=GatedConnection)
    conn.gate = gate_for(str(path))
    conn.log_to_sync = f"{path}-wal"
    conn.execute("PRAGMA synchronous=NORMAL")
    synced = []
    real = os.fdatasync

    def spy(fd):
        synced.append((os.fstat(fd).st_ino, conn.gate._owner, conn.in_transaction))
        real(fd)

    monkeypatch.setattr("server.sqlite_gate.os.fdatasync", spy)
    return conn, synced


def test_a_write_commit_syncs_the_log_after_leaving_the_gate(tmp_path, monkeypatch):
    path = tmp_path / "group.sqlite"
    make_database(path)
    conn, synced = synced_commits(path, monkeypatch)
    conn.begin_write()
    conn.execute("UPDATE counter SET n = n + 1")
    conn.commit()
    log = os.stat(f"{path}-wal").st_ino
    assert synced == [(log, None, False)]  # the log itself, with the gate free and the transaction over
    conn.begin_write()
    with conn:  # sqlite3's context manager commits in C, past commit(): synced all the same
        conn.execute("UPDATE counter SET n = n + 1")
    assert synced == [(log, None, False)] * 2
    conn.close()


def test_reads_and_rollbacks_sync_nothing(tmp_path, monkeypatch):
    path = tmp_path / "group.sqlite"
    make_database(path)
    conn, synced = synced_commits(path, monkeypatch)
    conn.execute("BEGIN")
    conn.execute("SELECT n FROM counter").fetchone()
    conn.commit()
    conn.begin_write()
    conn.execute("UPDATE counter SET n = n + 1")
    conn.rollback()
    with pytest.raises(ZeroDivisionError):
        conn.begin_write()
        with conn:
            conn.execute("UPDATE counter SET n = n + 1")
            raise ZeroDivisionError
    assert synced == [] and conn.execute("SELECT n FROM counter").fetchone() == (0,)
    conn.log_to_sync = None  # GRID_SQLITE_SYNCHRONOUS=normal: the log waits for the next checkpoint
    conn.begin_write()
    conn.execute("UPDATE counter SET n = n + 1")
    conn.commit()
    assert synced == []
    conn.close()


@pytest.mark.parametrize(("setting", "syncs_log"), [("full", True), ("normal", False)])
def test_the_app_runs_normal_and_syncs_the_log_itself_for_full(tmp_path, setting, syncs_log):
    from sqlalchemy import text

    from server import create_app
    from server.extensions import db

    path = tmp_path / "app.sqlite"
    app = create_app({"database_url": f"sqlite:///{path}", "env": "test", "sqlite_synchronous": setting})
    with app.app_context():
        assert db.session.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL: COMMIT writes, never syncs
        conn = db.session.connection().connection.driver_connection
        assert conn.log_to_sync == (f"{os.path.abspath(path)}-wal" if syncs_log else None)
        db.session.remove()
