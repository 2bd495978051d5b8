"""Tip ids for JSON intake on PostgreSQL, taken from the tips' sequence a block at a time.

Intake's answer, its idempotency record and its journal row all carry the new tip's id, and on PostgreSQL intake
writes them in the same statement that reads what it checks (server.tips.intake_sql.ACCEPT_IF_CLEAR), so the id
must be known before that statement. Each process therefore takes TIP_ID_BLOCK_SIZE ids from the sequence in one
round trip and hands them out in order. This is what PostgreSQL's own sequence cache (CACHE n) does per session:
ids stay unique and increase within a process, but a process that stops leaves a gap, and two processes' tips are
not numbered in the order they arrived (lists sort by submission time). SQLite takes max + 1 under its write lock.

Hand-written: a hi/lo allocator is a few lines, and no library does it for a raw sequence.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import deque

from server.extensions import db
from server.rawsql import RawConnection
from server.tips.intake_sql import TIP_ID_BLOCK

_blocks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # per engine: a database recreated is a new one
_lock = threading.Lock()


def take(s: RawConnection) -> int:
    """The next tip id for this process (a round trip once per block). A block is never shared across a fork: a
    child (a gunicorn worker forked from a master that took one) takes its own."""
    pid = os.getpid()
    with _lock:
        owner, ids = _blocks.get(db.engine, (None, None))
        if owner != pid or not ids:
            fetched = TIP_ID_BLOCK.rows(s.run(TIP_ID_BLOCK), s.dialect)
            ids = deque(sorted(row[0] for row in fetched))
            _blocks[db.engine] = (pid, ids)
        return ids.popleft()
