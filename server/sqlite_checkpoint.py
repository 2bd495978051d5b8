"""WAL checkpoints off the request path, for the embedded SQLite database.

SQLite checkpoints its write-ahead log on the commit that crosses `wal_autocheckpoint` pages (1000): that one
request copies ~4 MB back into the database file and waits for the disk, 4-14 ms, while every other writer waits
behind it (tip intake: 206 µs mean commit against a 75 µs median, and the p99). Here each serving process runs a
daemon thread that checkpoints PASSIVE every CHECK_SECONDS, which never blocks writers or readers; sqlite3 releases
the GIL while it works, so requests go on meanwhile. The commit-time checkpoint stays as a backstop at
BACKSTOP_PAGES, should the thread ever stop. Hand-written: a few lines around a PRAGMA; no library does it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

from server.sqlite_gate import gate_for

CHECK_SECONDS = 0.05
BACKSTOP_PAGES = 10_000  # 40 MB of log; the thread keeps it far below that
RESTART_PAGES = 1_000  # 4 MB: past this the thread starts the log over (see _checkpoint)

log = logging.getLogger(__name__)
_threads: dict[tuple[int, str], threading.Thread] = {}
_lock = threading.Lock()


def ensure_checkpointer(database_path: str | None) -> None:
    """Start this process's checkpoint thread for the database file, once (again after a fork)."""
    if not database_path or database_path == ":memory:":
        return
    key = (os.getpid(), database_path)
    thread = _threads.get(key)
    if thread is not None and thread.is_alive():  # every write transaction asks: keep it to a dict look-up
        return
    with _lock:
        if key in _threads and _threads[key].is_alive():
            return
        thread = threading.Thread(target=_run, args=(database_path,), name="sqlite-checkpoint", daemon=True)
        _threads[key] = thread
        thread.start()


def _run(path: str) -> None:
    conn = sqlite3.connect(path, timeout=1.0, check_same_thread=False, isolation_level=None)
    inode = _inode(path)
    stop = threading.Event()
    while not stop.wait(CHECK_SECONDS):
        if _inode(path) != inode:  # the file was removed or replaced: the next write starts a thread for the new one
            log.info("checkpoint thread for %s stops: the file is gone or replaced", os.path.basename(path))
            conn.close()
            return
        try:
            _checkpoint(conn, path)
        except sqlite3.Error:  # busy, or going away: try again at the next tick
            continue


def _checkpoint(conn: sqlite3.Connection, path: str) -> None:
    """PASSIVE copies the log back without stopping anyone. But under a steady stream of writes the log is never
    wholly copied at the moment a writer starts, so SQLite never starts it over: it grows to the backstop, where
    every commit checkpoints (measured: a 41 MB log and 0.9 s stalls under tip intake). So once the log passes
    RESTART_PAGES, the thread takes the write gate (writers queue there for a moment), copies the few frames
    PASSIVE left and RESTARTs the log, which the next writer then overwrites from its start."""
    _busy, log_frames, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    if log_frames < RESTART_PAGES:
        return
    gate = gate_for(path)
    gate.acquire()
    try:
        conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
    finally:
        gate.release()


def _inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None
