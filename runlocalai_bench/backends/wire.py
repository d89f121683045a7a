"""A lean HTTP/1.1 client for generate's JSON POSTs to an http:// server (backends/http.py's
Retrying sends through it; https:// endpoints and https proxies go through httpx instead).

    Wire        the pool for one origin (or one plain-http proxy): kept-alive connections,
                one request at a time on each, as many as the callers have in flight
    Answer      an answer's status, headers (lower-case names) and body, at most
                `max_bytes` + 1 bytes of it (one over, so the caller refuses it by size)
    json_body   the bytes httpx puts on the wire for `json=` (compact, UTF-8, no NaN)
    request_headers  the headers every generate request carries, on either transport

Why not httpx's pool here (issue 18): before it writes a request, httpx's async pool takes a
lock that hands the event loop round once, so at --concurrency 1 the previous answer's
settling (scoring, its samples line and that line's fsync, the progress line) ran before the
next request left — 3-5 ms a request on the engine's clock, seen with strace — and the pool
cost ~2 M instructions a request against a fast server. Here, when an idle connection is at
hand, the request's head and body go out in one write before the first await, and an answer
is parsed as it arrives by a small asyncio.Protocol.

Failures speak httpx's vocabulary (ConnectError, ConnectTimeout, ReadTimeout, ReadError,
RemoteProtocolError, with httpx's own text for a kept-alive connection the server had
dropped), so one retry policy reads both transports. Answers: Content-Length, chunked, or read
to the close; 1xx answers skipped; a server that sends more than one answer or bytes nobody
asked for loses the connection. A body the server compressed although rla asked for
`identity` is handed on as sent (and refused as not JSON).
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from runlocalai_bench import __version__

MAX_HEAD_BYTES = 64 * 1024  # an answer's status line and headers
STALE = "Server disconnected without sending a response."  # httpx's words for it


def json_body(body: Any) -> bytes:
    """`body` as httpx encodes `json=`: the bytes the record's `sent` describes."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


def request_headers(extra: dict[str, str]) -> dict[str, str]:
    """What every generate request says besides Host and Content-Length, on either transport:
    who asks, that it wants JSON, and that it wants it uncompressed (the answer is bounded by
    its size on the wire)."""
    return {"User-Agent": f"rla/{__version__}", "Accept": "application/json",
            "Accept-Encoding": "identity", "Content-Type": "application/json", **extra}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    content: bytes


class Wire:
    """Kept-alive HTTP/1.1 connections to one server root (`base`: http://host:port[/prefix]),
    or through a plain-http `proxy` (http://[user:pass@]host:port)."""

    def __init__(self, base: str, *, headers: dict[str, str], connect_timeout: float,
                 read_timeout: float, max_bytes: int, proxy: str | None = None) -> None:
        origin = urlsplit(base)
        self._prefix = origin.path.rstrip("/")
        self._base = base.rstrip("/")
        via = urlsplit(proxy) if proxy else origin
        self._host = via.hostname or ""
        self._port = via.port or 80
        self._proxied = proxy is not None
        host = origin.hostname or ""
        if ":" in host:  # an IPv6 literal
            host = f"[{host}]"
        authority = host if origin.port in (None, 80) else f"{host}:{origin.port}"
        fixed = {"Host": authority, **request_headers(headers)}
        if proxy and via.username:
            login = f"{unquote(via.username)}:{unquote(via.password or '')}"
            fixed["Proxy-Authorization"] = "Basic " + base64.b64encode(login.encode()).decode()
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())
        self._heads: dict[str, bytes] = {}
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_bytes = max_bytes
        self._idle: list[_Connection] = []
        self._busy: set[_Connection] = set()

    def _head(self, path: str) -> bytes:
        head = self._heads.get(path)
        if head is None:
            target = self._base + path if self._proxied else (self._prefix + path or "/")
            head = self._heads[path] = (f"POST {target} HTTP/1.1\r\n{self._fixed}"
                                        "Content-Length: ").encode("latin-1")
        return head

    async def post(self, path: str, body: bytes) -> Answer:
        """POST `body` (JSON bytes) to `path` and read the whole answer."""
        connection = self._take_idle() or await self._connect()
        self._busy.add(connection)
        try:
            waiting = connection.ask(self._head(path) + b"%d\r\n\r\n" % len(body) + body)
            try:
                async with asyncio.timeout(self.read_timeout):
                    answer = await waiting
            except TimeoutError:
                raise httpx.ReadTimeout(
                    f"no answer within {self.read_timeout:g} s") from None
        except BaseException:
            connection.drop()
            raise
        finally:
            self._busy.discard(connection)
        if connection.reusable:
            self._idle.append(connection)
        else:
            connection.drop()
        return answer

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if connection.reusable:
                return connection
            connection.drop()
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self.max_bytes), self._host, self._port)
        except TimeoutError:
            raise httpx.ConnectTimeout(
                f"no connection to {self._host}:{self._port} within"
                f" {self.connect_timeout:g} s") from None
        except OSError as exc:
            raise httpx.ConnectError(exc.strerror or str(exc)) from None
        return connection

    async def aclose(self) -> None:
        for connection in (*self._idle, *self._busy):
            connection.drop()
        self._idle.clear()
        self._busy.clear()


class _Malformed(Exception):
    pass


class _Connection(asyncio.Protocol):
    """One TCP connection: writes a request, parses its answer as the bytes arrive and hands
    it to the waiting future."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.transport: asyncio.Transport | None = None
        self.reusable = True
        self._buffer = bytearray()
        self._waiter: asyncio.Future[Answer] | None = None
        self._begin()

    def _begin(self) -> None:
        self._status = 0
        self._headers: dict[str, str] = {}
        self._length: int | None = None  # Content-Length
        self._chunked = False
        self._to_close = False  # no length: the body ends with the connection
        self._parts: list[bytes] = []
        self._size = 0
        self._got_any = False

    # -- the caller's side ------------------------------------------------------------------

    def ask(self, request: bytes) -> asyncio.Future[Answer]:
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self._begin()
        self.transport.write(request)
        return self._waiter

    def drop(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.abort()

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():  # bytes nobody asked for
            self.reusable = False
            return
        self._got_any = True
        self._buffer += data
        try:
            answer = self._parse()
        except _Malformed as exc:
            self.reusable = False
            waiter.set_exception(httpx.RemoteProtocolError(str(exc)))
            return
        if answer is not None:
            waiter.set_result(answer)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._to_close and self._status:
            waiter.set_result(self._answer(bytes(self._buffer[:self.max_bytes + 1])))
        elif not self._got_any:
            waiter.set_exception(httpx.RemoteProtocolError(STALE))
        elif exc is not None:
            waiter.set_exception(httpx.ReadError(str(exc) or type(exc).__name__))
        else:
            waiter.set_exception(httpx.RemoteProtocolError(
                "the server closed the connection in the middle of its answer"))

    # -- parsing ----------------------------------------------------------------------------

    def _answer(self, content: bytes) -> Answer:
        return Answer(self._status, self._headers, content)

    def _parse(self) -> Answer | None:
        """The answer, once all of it is here; None while more is to come."""
        buffer = self._buffer
        while not self._status:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    raise _Malformed(f"an answer's headers ran past {MAX_HEAD_BYTES:,} bytes")
                return None
            self._read_head(bytes(buffer[:end]))
            del buffer[:end + 4]
        if self._chunked:
            return self._dechunk()
        if self._to_close:
            if len(buffer) > self.max_bytes:  # enough to refuse it by size
                self.reusable = False
                return self._answer(bytes(buffer[:self.max_bytes + 1]))
            return None
        length = self._length or 0
        if length > self.max_bytes:
            if len(buffer) > self.max_bytes:
                self.reusable = False
                return self._answer(bytes(buffer[:self.max_bytes + 1]))
            return None
        if len(buffer) < length:
            return None
        if len(buffer) > length:
            self.reusable = False  # more than one answer to one request
        content = bytes(buffer[:length])
        buffer.clear()
        return self._answer(content)

    def _read_head(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise _Malformed(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raise _Malformed(f"a header line without a colon: {line[:80]!r}")
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        if 100 <= status < 200:  # an interim answer: the real one follows
            return
        self._status = status
        self._headers = headers
        connection = headers.get("connection", "").lower()
        if (parts[0] == "HTTP/1.0" and "keep-alive" not in connection) or "close" in connection:
            self.reusable = False
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked = True
        elif "content-length" in headers:
            text = headers["content-length"].split(",")[0].strip()
            if not text.isdigit():
                raise _Malformed(f"Content-Length {headers['content-length'][:40]!r}")
            self._length = int(text)
        elif status in (204, 304):
            self._length = 0
        else:
            self._to_close = True
            self.reusable = False

    def _dechunk(self) -> Answer | None:
        buffer = self._buffer
        while True:
            line_end = buffer.find(b"\r\n")
            if line_end < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    raise _Malformed("a chunk's size line ran past"
                                     f" {MAX_HEAD_BYTES:,} bytes")
                return None
            size_text = bytes(buffer[:line_end]).split(b";")[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                size = -1
            if size < 0:
                raise _Malformed(f"a chunk size {size_text[:20]!r}")
            if size == 0:
                if buffer[line_end + 2:line_end + 4] == b"\r\n":
                    end = line_end + 4
                else:  # trailer fields, then an empty line
                    trailers = buffer.find(b"\r\n\r\n", line_end)
                    if trailers < 0:
                        return None
                    end = trailers + 4
                if len(buffer) > end:
                    self.reusable = False  # more than one answer to one request
                buffer.clear()
                return self._answer(b"".join(self._parts))
            start = line_end + 2
            if len(buffer) < start + size + 2:
                if self._size + len(buffer) - start > self.max_bytes:  # refuse it by size
                    self.reusable = False
                    return self._answer((b"".join(self._parts) + bytes(buffer[start:]))
                                        [:self.max_bytes + 1])
                return None
            self._parts.append(bytes(buffer[start:start + size]))
            self._size += size
            del buffer[:start + size + 2]  # cheap: bytearray drops its head in place
            if self._size > self.max_bytes:
                self.reusable = False
                return self._answer(b"".join(self._parts)[:self.max_bytes + 1])
