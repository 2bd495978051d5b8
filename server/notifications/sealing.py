"""Channel URLs and signing secrets, sealed at rest.

A DingTalk or WeCom robot URL carries the robot's access token, and a webhook's secret signs what we send: whoever
reads them from a database dump or a backup can post to an officials' group as the system. So both are stored
sealed with Fernet (AES-128-CBC + HMAC-SHA256, from the `cryptography` package) under GRID_CHANNEL_KEYS, and
opened only in the process that sends. MultiFernet opens with any listed key and seals with the first, so keys
rotate by putting the new one in front (`flask notifications reseal` then reseals every channel with it).
Without GRID_CHANNEL_KEYS the key is derived from GRID_SECRET_KEY with HKDF-SHA256; that key also stays last in
the list when GRID_CHANNEL_KEYS is set, so that setting it for the first time (then `reseal`) loses nothing.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator


class SealError(RuntimeError):
    """A sealed value none of the keys opens: a key was removed from GRID_CHANNEL_KEYS (or GRID_SECRET_KEY changed)."""


def derived_key(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"grid-inspection channel secrets")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


@lru_cache(maxsize=8)
def _fernet(channel_keys: str, secret_key: str) -> MultiFernet:
    keys = [k.strip().encode() for k in channel_keys.split(",") if k.strip()]
    derived = derived_key(secret_key)
    if derived not in keys:
        keys.append(derived)  # opens what was sealed before GRID_CHANNEL_KEYS was set; seals only if it is alone
    return MultiFernet([Fernet(k) for k in keys])


def fernet(settings=None) -> MultiFernet:
    settings = settings or current_app.config["GRID"]
    return _fernet(settings.channel_keys, settings.secret_key)


def seal(value: str, settings=None) -> str:
    return fernet(settings).encrypt(value.encode()).decode("ascii")


def unseal(token: str, settings=None) -> str:
    try:
        return fernet(settings).decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        raise SealError(
            "A notification channel's URL or secret cannot be opened with GRID_CHANNEL_KEYS: keep the key it was "
            "sealed with in the list (after the new one) until `flask notifications reseal` has run."
        ) from None


class Sealed(TypeDecorator):
    """A string stored sealed (Text in the database); the model sees it in clear."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else seal(value)

    def process_result_value(self, value, dialect):
        return None if value is None else unseal(value)
