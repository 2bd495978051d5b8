"""Receipts for anonymous reporters: a short public code plus a secret, the two-way anonymous channel.

The secret is derived (HMAC of the code with a key from GRID_SECRET_KEY), not stored: the database keeps only
its SHA-256. So a retried request can be answered with the same secret without keeping it anywhere, and a
copy of the database alone cannot impersonate a reporter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from flask import current_app

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read over the phone
CODE_LENGTH = 10


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def secret_for(code: str) -> str:
    key = hashlib.sha256(b"tip-receipt:" + current_app.config["GRID"].secret_key.encode()).digest()
    digest = hmac.new(key, code.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:15]).decode().lower()


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored_hash: str | None) -> bool:
    return stored_hash is not None and hmac.compare_digest(secret_hash(secret), stored_hash)
