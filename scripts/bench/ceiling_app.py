"""The intake benchmark's second reference: the least a durable write can cost, served the same way.

One POST = parse the JSON body, one INSERT of it into a bare table (a unique key, like an idempotency key) and a
commit, on one raw DBAPI connection per worker: no authentication, validation, routing, pool or ORM. On the
same database, with the same durability setting as the app's intake (GRID_SQLITE_SYNCHRONOUS,
GRID_PG_INTAKE_SYNCHRONOUS_COMMIT). Whatever intake does beyond
this is ours to make cheap; what this costs is the database's and the disk's.
"""

from __future__ import annotations

import json
import os
import sqlite3

from flask import Flask, request

app = Flask(__name__)
URL = os.environ["GRID_DATABASE_URL"]
TABLE = "bench_ceiling"
_connection = None


def connection():
    global _connection
    if _connection is None:
        if URL.startswith("postgresql"):
            import psycopg

            _connection = psycopg.connect(URL.replace("postgresql+psycopg", "postgresql"))
            commit = os.environ.get("GRID_PG_INTAKE_SYNCHRONOUS_COMMIT", "off")
            _connection.execute("SELECT set_config('synchronous_commit', %s, false)", (commit,))
            _connection.commit()
        else:
            _connection = sqlite3.connect(URL.removeprefix("sqlite:///"), isolation_level=None, timeout=30)
            _connection.execute("PRAGMA journal_mode=WAL")
            _connection.execute(f"PRAGMA synchronous={os.environ.get('GRID_SQLITE_SYNCHRONOUS', 'normal')}")
    return _connection


def create_table() -> None:
    """Called once by the benchmark before the workers start."""
    conn = connection()
    sqlite = isinstance(conn, sqlite3.Connection)
    key = "id INTEGER PRIMARY KEY" if sqlite else "id SERIAL PRIMARY KEY"
    conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({key}, key TEXT UNIQUE, body TEXT)")
    if not sqlite:
        conn.commit()


@app.post("/ceiling")
def ceiling():
    body, key = request.get_json(), request.headers["Idempotency-Key"]
    conn = connection()
    if isinstance(conn, sqlite3.Connection):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"INSERT INTO {TABLE} (key, body) VALUES (?, ?)", (key, json.dumps(body)))
        conn.execute("COMMIT")
    else:
        conn.execute(f"INSERT INTO {TABLE} (key, body) VALUES (%s, %s)", (key, json.dumps(body)))
        conn.commit()
    return {"ok": True}, 201
