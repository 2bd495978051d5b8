"""Mainland mobile numbers: the login name, and personal data. Stored in clear, never logged in clear."""

from __future__ import annotations

import hashlib
import hmac
import re

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


def normalize_phone(raw: str) -> str:
    """Strip spaces, dashes and a +86/0086 prefix; the result may still be invalid (see is_valid_phone)."""
    phone = re.sub(r"[\s-]", "", raw or "")
    for prefix in ("+86", "0086"):
        if phone.startswith(prefix):
            phone = phone[len(prefix) :]
    return phone


def is_valid_phone(phone: str) -> bool:
    return bool(PHONE_RE.match(phone))


def mask_phone(phone: str | None) -> str:
    """138****0001: enough for a person to recognise their own number, useless to harvest."""
    if not phone:
        return ""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


def phone_digest(phone: str, secret: str) -> str:
    """A keyed hash of a phone number, for rate-limit keys and logs that must tell numbers apart."""
    return hmac.new(secret.encode(), b"phone:" + phone.encode(), hashlib.sha256).hexdigest()[:24]
