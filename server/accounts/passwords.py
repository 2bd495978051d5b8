"""Password hashing (argon2id) and the minimum password policy.

Parameters: argon2id, time_cost=2, memory_cost=65536 KiB (64 MiB), parallelism=2, 32-byte hash, 16-byte
salt. The 64 MiB are what make GPU/ASIC guessing expensive (3.4x OWASP's m=19 MiB/t=2 minimum, the memory
of RFC 9106's second recommended option); two passes instead of three, and two lanes for this 2-core
machine, keep a login well under 250 ms even when the machine is busy. Measured here: one verification
takes ~46 ms on an idle machine and ~95 ms while another CPU-bound process runs (t=3 would take ~65/~130 ms;
see scripts/bench/bench_accounts.py for the whole login). Hashes made with other parameters are upgraded at
the next successful login (`needs_rehash`).

When the phone number is unknown (or the account has no password yet), `verify_password(None, ...)`
still verifies against a dummy hash made with the same parameters, so that a wrong phone and a wrong
password take about the same time, and give the same answer.
"""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 128  # argon2 takes any length; this only bounds the work one request can ask for

hasher = PasswordHasher(time_cost=2, memory_cost=65536, parallelism=2, hash_len=32, salt_len=16, type=Type.ID)


def hash_password(password: str) -> str:
    return hasher.hash(password)


@cache
def _dummy_hash() -> str:
    return hasher.hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if the password matches. With no hash (unknown phone, no password set) it spends the same time."""
    try:
        return hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return hasher.check_needs_rehash(password_hash)


def policy_errors(password: str, phone: str | None = None) -> list[str]:
    """Why a password is too weak, in words a grid worker can act on; an empty list means it is accepted."""
    errors = []
    if len(password) < MIN_LENGTH:
        errors.append(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        errors.append(f"Use at most {MAX_LENGTH} characters.")
    if password.isdigit():
        errors.append("Do not use digits only; add letters or other characters.")
    if phone and phone in password:
        errors.append("Do not use your phone number as (part of) the password.")
    return errors
