"""Real HTTP servers on 127.0.0.1 for tests: a threaded server whose handler is a plain
function `Seen -> Reply | Streamed`, so each test states the protocol it speaks. A `Streamed`
answer goes out with chunked transfer encoding, flushed chunk by chunk (with an optional pause
before each), the way llama-server sends server-sent events and Ollama sends NDJSON."""

from __future__ import annotations

import json
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
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
class Streamed:
    chunks: Iterable[bytes]
    content_type: str = "text/event-stream"
    pause_s: float = 0.0  # before each chunk after the first


@dataclass
class Seen:
    method: str
    path: str
    headers: Mapping[str, str]
    body: Any


Handler = Callable[[Seen], "Reply | Streamed"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a closed keep-alive connection) is not an error here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LoopbackServer:
    """`stale_after` and `stale_after_stream`: behave like llama-server (cpp-httplib) after a
    response that outlasted its 5 s keep-alive: after each of the first `stale_after` replies
    (or after every streamed answer) the connection stays open without `Connection: close`, and
    the next request on it is read and dropped unanswered."""

    def __init__(self, handler: Handler, *, stale_after: int = 0,
                 stale_after_stream: bool = False, port: int = 0,
                 tls: ssl.SSLContext | None = None) -> None:
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
                if isinstance(reply, Streamed):
                    self._stream(reply)
                    self.stale = self.stale or stale_after_stream
                    return
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

            def _stream(self, answer: Streamed) -> None:
                self.send_response(200)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i, chunk in enumerate(answer.chunks):
                    if i and answer.pause_s:
                        time.sleep(answer.pause_s)
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                return None

        self._server = _Server(("127.0.0.1", port), _H)
        self._scheme = "http"
        if tls is not None:  # https: tests/support/tls.py makes the context
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host}:{port}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until the process ends (a server process of its own)."""
        self._server.serve_forever(0.02)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def serve(handler: Handler, *, stale_after: int = 0,
          tls: ssl.SSLContext | None = None) -> Iterator[LoopbackServer]:
    server = LoopbackServer(handler, stale_after=stale_after, tls=tls).start()
    try:
        yield server
    finally:
        server.stop()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
