"""Getting a serving process ready before its first request.

- The grid index (routing by point-in-polygon) is built now, not in the first phone's request.
- The hot paths' statements (server.rawsql.Prepared) are compiled for the database's dialect.
- `gc.freeze()`: the app, the models, the index and the libraries are a few hundred thousand objects that live as
  long as the process. Left to the cyclic collector, every oldest-generation collection walks all of them: a
  190 ms pause, measured in the tip intake benchmark, landing on one request in a few thousand (its p99).
  Frozen, they are never walked again. (The technique Instagram described for their Django workers.)
"""

from __future__ import annotations

import gc
import logging

from flask import Flask

from server.areas.index_cache import current_index
from server.extensions import db
from server.rawsql import Prepared

log = logging.getLogger(__name__)


def warm_up(app: Flask) -> None:
    with app.app_context():
        try:
            current_index()
            dialect = db.engine.dialect
            for statement in Prepared.every:
                statement.compiled(dialect)
        except Exception as exc:  # noqa: BLE001 - a database not yet migrated must not stop the server starting
            log.warning("warm-up skipped (%s); the first requests will do it", type(exc).__name__)
            db.session.rollback()
        finally:
            db.session.remove()
            # Close what warming up opened: under `gunicorn --preload` this runs before the fork, and a pooled
            # connection shared by two processes corrupts both. The first request opens its own.
            db.engine.dispose()
    gc.freeze()
