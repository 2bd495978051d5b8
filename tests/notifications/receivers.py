"""Fake receivers on 127.0.0.1 (a free port, http.server in a thread) that check what real ones check.

The checks are written here from the published schemes, not imported from server/notifications:
- webhook: X-Grid-Signature = hex HMAC-SHA256(secret, timestamp + "." + raw body); timestamps older or newer than
  5 minutes are stale; duplicates are recognised by X-Grid-Delivery (the receiver's dedupe);
- DingTalk 加签: the URL carries timestamp (ms, within an hour) and sign = urlencode(base64(HMAC-SHA256(secret,
  f"{timestamp}\\n{secret}"))) -- DingTalk's own sample code; body {"msgtype": "markdown", "markdown": {title, text}};
- WeCom: POST /cgi-bin/webhook/send?key=KEY with {"msgtype": "markdown", "markdown": {"content"}}.
The robots answer HTTP 200 {"errcode": 0, "errmsg": "ok"}, or a non-zero errcode.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, kind: str, *, secret: str = "", key: str = "KEY-123", token: str = "TOKEN-abc", fail_first=0):  # noqa: S107
        self.kind, self.secret, self.key, self.token = kind, secret, key, token
        self.fail_first = fail_first
        self.requests: list[dict] = []
        self.effects: Counter = Counter()  # delivery id -> times acted upon after dedupe (must stay 1)
        self.raw_ids: Counter = Counter()  # delivery id -> times received
        self.on_request = None  # a hook: called with the request record before answering
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        base = f"http://127.0.0.1:{self.server.server_port}"
        if self.kind == "dingtalk":
            return f"{base}/robot/send?access_token={self.token}"
        if self.kind == "wecom":
            return f"{base}/cgi-bin/webhook/send?key={self.key}"
        return f"{base}/hooks/grid"

    @property
    def bodies(self) -> list[dict]:
        return [r["json"] for r in self.requests if r["verdict"] == "ok"]

    # --- the checks ---------------------------------------------------------------------------------------

    def judge(self, path: str, query: str, headers, body: bytes) -> str:
        try:
            data = json.loads(body)
        except ValueError:
            return "not json"
        if self.kind == "webhook":
            return self._webhook(headers, body, data)
        if self.kind == "dingtalk":
            return self._dingtalk(path, query, data)
        return self._wecom(path, query, data)

    def _webhook(self, headers, body: bytes, data) -> str:
        stamp, signature = headers.get("X-Grid-Timestamp", ""), headers.get("X-Grid-Signature", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            return "stale"
        expected = hmac.new(self.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return "bad signature"
        if str(data.get("delivery_id")) != headers.get("X-Grid-Delivery"):
            return "delivery id mismatch"
        return "ok"

    def _dingtalk(self, path: str, query: str, data) -> str:
        raw = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
        if path != "/robot/send" or raw.get("access_token") != self.token:
            return "bad token"
        stamp = raw.get("timestamp", "")
        if not stamp.isdigit() or abs(time.time() * 1000 - int(stamp)) > 3600 * 1000:
            return "stale"
        digest = hmac.new(self.secret.encode("utf-8"), f"{stamp}\n{self.secret}".encode(), hashlib.sha256)
        if raw.get("sign") != urllib.parse.quote_plus(base64.b64encode(digest.digest())):
            return "bad sign"
        md = data.get("markdown") or {}
        if data.get("msgtype") != "markdown" or not md.get("title") or not md.get("text"):
            return "bad format"
        return "ok"

    def _wecom(self, path: str, query: str, data) -> str:
        if path != "/cgi-bin/webhook/send" or urllib.parse.parse_qs(query).get("key") != [self.key]:
            return "bad key"
        md = data.get("markdown") or {}
        if data.get("msgtype") != "markdown" or not md.get("content") or set(md) != {"content"}:
            return "bad format"
        if len(md["content"].encode()) > 4096:
            return "too long"
        return "ok"

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path, _, query = self.path.partition("?")
                verdict = receiver.judge(path, query, self.headers, body)
                delivery = self.headers.get("X-Grid-Delivery")
                with receiver.lock:
                    record = {"path": path, "query": query, "headers": dict(self.headers), "body": body}
                    record |= {"verdict": verdict, "json": json.loads(body) if verdict != "not json" else None}
                    receiver.requests.append(record)
                    failing = verdict == "ok" and receiver.fail_first > 0
                    if failing:
                        receiver.fail_first -= 1
                    elif verdict == "ok":
                        receiver.raw_ids[delivery] += 1
                        if receiver.raw_ids[delivery] == 1:
                            receiver.effects[delivery] += 1  # dedupe on the delivery id: act once
                if receiver.on_request is not None:
                    receiver.on_request(record)
                self._answer(verdict, failing)

            def _answer(self, verdict, failing):
                if receiver.kind == "webhook":
                    try:
                        self.send_response(200 if verdict == "ok" and not failing else (503 if failing else 401))
                        self.end_headers()
                    except OSError:  # the sender is gone (the kill test)
                        pass
                    return
                if verdict == "ok" and not failing:
                    answer = {"errcode": 0, "errmsg": "ok"}
                elif failing:
                    answer = {"errcode": 45009, "errmsg": "api freq out of limit"}
                else:
                    answer = {"errcode": 310000, "errmsg": verdict}
                payload = json.dumps(answer).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass

        return Handler
