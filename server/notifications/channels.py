"""The wire formats of the three outside channels, and what counts as 'the channel accepted it'.

- webhook (integrations): POST application/json. Headers: X-Grid-Delivery (the outbox row id -- the idempotency
  id a receiver deduplicates on), X-Grid-Event (the kind), X-Grid-Timestamp (unix seconds) and
  X-Grid-Signature = hex(HMAC-SHA256(secret, timestamp + "." + body)). A receiver recomputes the signature over
  the raw body, compares in constant time, and rejects a timestamp more than 5 minutes away from its clock
  (`verify_webhook`). Accepted: any 2xx.
- dingtalk (钉钉群机器人, 加签): POST {"msgtype": "markdown", "markdown": {"title", "text"}} to the robot URL plus
  &timestamp=<ms>&sign=<urlencode(base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")))>.
- wecom (企业微信群机器人): POST {"msgtype": "markdown", "markdown": {"content"}} to .../cgi-bin/webhook/send?key=KEY
  (the key is the secret, in the URL; markdown content is cut to 4096 bytes).
The robots answer HTTP 200 with {"errcode": 0, "errmsg": "ok"} on success; a non-zero errcode (rate limited,
bad sign, ...) is a failure and is retried.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote_plus, urlsplit

from server.notifications.content import markdown

WEBHOOK_TOLERANCE_SECONDS = 300
WECOM_MAX_BYTES = 4096


@dataclass(frozen=True)
class Outgoing:
    url: str
    headers: dict
    body: bytes


def build(kind: str, url: str, secret: str | None, payload: dict, delivery_id: int, now: datetime) -> Outgoing:
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "grid-inspection-notifier/1",
        "X-Grid-Delivery": str(delivery_id),
        "X-Grid-Event": payload["kind"],
    }
    if kind == "webhook":
        body = _json({"delivery_id": delivery_id} | payload)
        stamp = str(int(now.timestamp()))
        headers |= {"X-Grid-Timestamp": stamp, "X-Grid-Signature": webhook_signature(secret or "", stamp, body)}
        return Outgoing(url, headers, body)
    if kind == "dingtalk":
        body = _json({"msgtype": "markdown", "markdown": {"title": payload["title"], "text": markdown(payload)}})
        if secret:
            stamp = str(int(now.timestamp() * 1000))
            url = f"{url}{'&' if '?' in url else '?'}timestamp={stamp}&sign={dingtalk_sign(secret, stamp)}"
        return Outgoing(url, headers, body)
    if kind == "wecom":
        content = markdown(payload).encode()[:WECOM_MAX_BYTES].decode("utf-8", "ignore")
        return Outgoing(url, headers, _json({"msgtype": "markdown", "markdown": {"content": content}}))
    raise ValueError(f"unknown channel kind {kind!r}")


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_webhook(secret: str, headers, body: bytes, now: float | None = None) -> bool:
    """For receivers (and the docs): the signature matches and the timestamp is fresh."""
    stamp, signature = headers.get("X-Grid-Timestamp", ""), headers.get("X-Grid-Signature", "")
    if not stamp.isdigit() or abs((now or time.time()) - int(stamp)) > WEBHOOK_TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(webhook_signature(secret, stamp, body), signature)


def dingtalk_sign(secret: str, timestamp_ms: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def send(out: Outgoing, timeout: float) -> tuple[int | None, bytes]:
    """POST; returns (HTTP status or None when there was no answer, body). Never raises for network trouble."""
    request = urllib.request.Request(out.url, data=out.body, headers=out.headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) checked on add
            return response.status, response.read(65536)
    except urllib.error.HTTPError as error:
        return error.code, error.read(4096) if error.fp else b""
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
        return None, type(error).__name__.encode()


def judge(kind: str, status: int | None, body: bytes) -> str | None:
    """None when the channel accepted the delivery, else a short reason (no URL, no secret, no content)."""
    if status is None:
        return f"no answer ({body.decode(errors='replace')[:60]})"
    if not 200 <= status < 300:
        return f"HTTP {status}"
    if kind in ("dingtalk", "wecom"):
        try:
            answer = json.loads(body or b"{}")
        except ValueError:
            return "robot answered something that is not JSON"
        if not isinstance(answer, dict) or answer.get("errcode") != 0:
            code = answer.get("errcode") if isinstance(answer, dict) else None
            message = str(answer.get("errmsg", ""))[:80] if isinstance(answer, dict) else ""
            return f"robot errcode={code} {message}".strip()
    return None


def safe_url(url: str) -> str:
    """The URL without its query (robot tokens and keys live there): fit for logs and listings."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" + ("?…" if parts.query else "")


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
