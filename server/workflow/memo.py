"""A memo for one run of the escalation job, or one read-only request that asks the same questions many times
(the inbox page): look-ups that cannot change meanwhile, made once.

Only active inside `run_memo()`; everywhere else `memoized` just computes, so a request never sees a value from an
earlier one, and one that writes never sees a value from before its own write. What is memoised: the ancestors and
names of areas of a map generation (a generation's areas never change), tip categories, the candidate recipients
of a target area, each recipient's scope and grid assignments, and the channels of a target. Visibility itself is
still decided per tip and per recipient.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from contextlib import contextmanager

from flask import g

_KEY = "_workflow_run_memo"


@contextmanager
def run_memo():
    g.setdefault(_KEY, {})
    try:
        yield
    finally:
        g.pop(_KEY, None)


def active() -> bool:
    return g.get(_KEY) is not None


def memoized(kind: str, key: Hashable, compute: Callable):
    store = g.get(_KEY)
    if store is None:
        return compute()
    bucket = store.setdefault(kind, {})
    if key not in bucket:
        bucket[key] = compute()
    return bucket[key]
