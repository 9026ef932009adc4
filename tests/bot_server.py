"""A local stand-in for the Telegram Bot API that records every request it receives.

Tests and benchmarks point TELEGRAM_API_URL at it; from a shell it shows what a run would send:

    python tests/bot_server.py --port 8081 --out requests.jsonl
    TELEGRAM_API_URL=http://127.0.0.1:8081 TELEGRAM_BOT_TOKEN=123:x TELEGRAM_CHAT_ID=1 \\
        tacotron train ... monitor.telegram=true

It answers `{"ok": true, "result": {...}}` like the real API and understands JSON, form and
multipart (photo, audio) bodies.
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import json
import signal
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class BotRequest:
    token: str
    method: str
    fields: dict[str, str]
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)  # name, type, bytes
    time: float = 0.0

    def summary(self) -> dict:
        return {"method": self.method, "time": round(self.time, 3), "fields": self.fields,
                "files": {name: {"filename": f[0], "content_type": f[1], "bytes": len(f[2])}
                          for name, f in self.files.items()}}


def parse_body(content_type: str, body: bytes) -> tuple[dict[str, str], dict]:
    """Fields and files of a JSON, urlencoded or multipart/form-data request body."""
    if content_type.startswith("application/json"):
        data = json.loads(body or b"{}")
        return {key: value if isinstance(value, str) else json.dumps(value)
                for key, value in data.items()}, {}
    if content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        fields, files = {}, {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if part.get_filename():
                files[name] = (part.get_filename(), part.get_content_type(), payload)
            else:
                fields[name] = payload.decode("utf-8")
        return fields, files
    return {key: values[-1] for key, values in
            urllib.parse.parse_qs(body.decode("utf-8")).items()}, {}


class RecordingBotServer:
    """ThreadingHTTPServer on 127.0.0.1 (port 0: a free one) in a daemon thread.
    `fail_with` set to an HTTP status makes every answer an error of that status."""

    def __init__(self, port: int = 0, fail_with: int | None = None):
        self.requests: list[BotRequest] = []
        self.lock = threading.Lock()
        self.fail_with = fail_with
        self.on_request = None  # optional callable(BotRequest), e.g. to write a log
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                parts = self.path.strip("/").split("/")
                if len(parts) != 2 or not parts[0].startswith("bot"):
                    return self.answer(404, {"ok": False, "error_code": 404,
                                             "description": "Not Found"})
                fields, files = parse_body(self.headers.get("Content-Type", ""), body)
                request = BotRequest(parts[0][3:], parts[1], fields, files, time.time())
                with server.lock:
                    server.requests.append(request)
                    number = len(server.requests)
                if server.on_request:
                    server.on_request(request)
                if server.fail_with:
                    return self.answer(server.fail_with, {
                        "ok": False, "error_code": server.fail_with, "description": "failing",
                        "parameters": {"retry_after": 1}})
                self.answer(200, {"ok": True, "result": {"message_id": number,
                                                         "chat": {"id": fields.get("chat_id")}}})

            do_GET = do_POST

            def answer(self, status: int, payload: dict):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # quiet: the request line holds the token
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> "RecordingBotServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def methods(self) -> list[str]:
        with self.lock:
            return [request.method for request in self.requests]

    def received(self, method: str | None = None) -> list[BotRequest]:
        with self.lock:
            return [r for r in self.requests if method is None or r.method == method]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--out", help="append one JSON line per request to this file")
    args = parser.parse_args()
    server = RecordingBotServer(args.port)

    def record(request: BotRequest) -> None:
        line = json.dumps(request.summary(), ensure_ascii=False)
        print(line, flush=True)
        if args.out:
            with open(args.out, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")

    server.on_request = record
    # Ctrl-C / SIGINT stops it even when started from a background job, which inherits SIGINT
    # ignored (Python then installs no KeyboardInterrupt handler); SIGTERM stops it the same way.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.default_int_handler)
    print(f"listening on {server.url}", flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


if __name__ == "__main__":
    main()
