"""A blocking hand-off between SQLite writers: processes (gunicorn workers, the worker, CLI) and threads.

SQLite lets one writer in at a time and makes the others poll: its busy handler sleeps 1, 2, 5, 10 ... 100 ms
between attempts, so two gunicorn workers that both write spend most of their time asleep (tip intake: 800
requests/s with one worker or two, p99 50 ms). Here a writer first takes an exclusive flock(2) on `<db>-writegate`;
the kernel wakes the next one the moment it is released, after COMMIT or ROLLBACK. SQLite's own locking stays as
it is underneath, so correctness never depends on the gate; only the waiting does. One difference: a writer
waits at the gate for as long as it takes, where SQLite would give up after its busy timeout (30 s). Only a
process that holds a write transaction while it waits for another process's write could wait forever, and that
was a 30-second failure before; gunicorn's worker timeout ends such a worker, and the kernel frees its lock.
Hand-written: it has to hook the sqlite3 connection's commit and rollback, which no locking library knows about.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading

WAIT_SECONDS = 30.0  # as SQLite's busy timeout: a thread of this process holding the gate that long is a bug


class WriteGate:
    """Held by one thread of one process at a time. Re-entrant for its holder; released by whichever thread ends
    the transaction (a pool may close a connection from another thread). Not fair: like SQLite's own lock, a
    writer that releases and asks again at once may get it again; writers here do other work in between."""

    def __init__(self, path: str | None):  # None: a database only this process sees (:memory:), threads only
        self.path = path
        self._threads = threading.Lock()
        self._owner: int | None = None
        self._fd: int | None = None
        self._pid = 0
        self._depth = 0

    def acquire(self) -> None:
        me = threading.get_ident()
        if self._owner == me:
            self._depth += 1
            return
        if not self._threads.acquire(timeout=WAIT_SECONDS):
            raise sqlite3.OperationalError("database is locked (write gate held by another thread)")
        try:
            if self.path is not None:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        self._owner, self._depth = me, 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        self._owner = None
        if self.path is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked worker opens its own (flock is per open file)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd


_gates: dict[str, WriteGate] = {}
_gates_lock = threading.Lock()


def gate_for(database_path: str | None) -> WriteGate:
    if not database_path or database_path == ":memory:":
        return WriteGate(None)
    key = os.path.realpath(database_path)
    with _gates_lock:
        if key not in _gates:
            _gates[key] = WriteGate(key + "-writegate")
        return _gates[key]


class GatedConnection(sqlite3.Connection):
    """A sqlite3 connection that passes through the gate for every write transaction it opens (`begin_write`)
    and leaves it when that transaction ends, however it ends."""

    gate: WriteGate | None = None
    log_to_sync: str | None = None  # GRID_SQLITE_SYNCHRONOUS=full: the WAL file, synced after each write commit
    _holds = False

    def begin_write(self) -> None:
        if not self._holds:
            self.gate.acquire()
            self._holds = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._leave()
            raise

    def commit(self) -> None:
        wrote = self._holds
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self._leave()
        if wrote:
            self._sync_log()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._leave()

    def __exit__(self, *exc):  # `with conn:` commits or rolls back in C, past the methods above
        wrote = self._holds and exc[0] is None
        try:
            result = super().__exit__(*exc)
        finally:
            if not self.in_transaction:
                self._leave()
        if wrote:
            self._sync_log()  # only once the commit has succeeded
        return result

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._leave()

    def _sync_log(self) -> None:
        """Group commit. The connection runs synchronous=NORMAL, so COMMIT only writes the transaction's frames to
        the WAL; here they are made durable, after the write gate is released, before commit() returns. Another
        writer meanwhile commits instead of waiting out our fsync, and one fsync covers every frame written before
        it, so writers that commit together share the disk's flush. What the caller is told is what FULL tells
        it: once commit() returns, the transaction survives a power cut. (The WAL is a log: a frame is never
        durable before the frames ahead of it. SQLite syncs the log before each checkpoint, as with FULL.)
        The file is opened by name each time: SQLite may truncate or, when its last connection closes, delete it
        (never while this connection is open), and a descriptor kept from before would sync nothing new."""
        if self.log_to_sync is None:
            return
        fd = os.open(self.log_to_sync, os.O_RDONLY)
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)

    def _leave(self) -> None:
        if self._holds:
            self._holds = False
            self.gate.release()
