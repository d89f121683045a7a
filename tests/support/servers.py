"""Real HTTP servers on 127.0.0.1 for tests: a threaded server whose handler is a plain
function `(method, path, headers, body) -> Reply`, so each test states the protocol it speaks."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list → JSON; str/bytes → as is
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    headers: Mapping[str, str]
    body: Any


Handler = Callable[[Seen], Reply]


class LoopbackServer:
    """`stale_after`: behave like llama-server (cpp-httplib) after a response that outlasted its
    5 s keep-alive: after each of the first `stale_after` replies the connection stays open
    without `Connection: close`, and the next request on it is read and dropped unanswered."""

    def __init__(self, handler: Handler, *, stale_after: int = 0) -> None:
        self.handler = handler
        self.requests: list[Seen] = []
        self.dropped: list[Seen] = []
        outer = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall per response
            stale = False

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                seen = Seen(self.command, self.path, dict(self.headers.items()), body)
                if self.stale:
                    outer.dropped.append(seen)
                    self.close_connection = True
                    return
                self.stale = len(outer.requests) < stale_after
                outer.requests.append(seen)
                reply = outer.handler(seen)
                if isinstance(reply.body, (dict, list)):
                    payload = json.dumps(reply.body).encode()
                    ctype = "application/json"
                elif isinstance(reply.body, str):
                    payload, ctype = reply.body.encode(), "text/html; charset=utf-8"
                else:
                    payload, ctype = reply.body or b"", "application/octet-stream"
                self.send_response(reply.status)
                headers = {"Content-Type": ctype, **reply.headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def serve(handler: Handler, *, stale_after: int = 0) -> Iterator[LoopbackServer]:
    server = LoopbackServer(handler, stale_after=stale_after).start()
    try:
        yield server
    finally:
        server.stop()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
