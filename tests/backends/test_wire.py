"""backends/wire.py, the lean HTTP/1.1 pool, against real sockets on 127.0.0.1: a scripted
raw server for what a well-behaved test server never does (split chunks, answers that end with
the connection, dropped connections, garbage), the loopback HTTP server for the backend as a
whole, and a TLS loopback server for httpx's path, which must put the same request on the wire."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import httpx
import pytest

from runlocalai_bench.backends.http import Retrying
from runlocalai_bench.backends.openai_compat import OpenAICompatBackend
from runlocalai_bench.backends.wire import STALE, Wire, json_body
from runlocalai_bench.types import Prompt, RuntimeInfo
from tests.backends.test_openai_compat import _generate
from tests.support.servers import Reply, serve
from tests.support.tls import loopback_certificate

LLAMA = RuntimeInfo(engine="llama.cpp", version="b6500", slug="llama.cpp-b6500")
ANSWER = b'{"choices": [{"text": " B"}]}'

# A scripted server: for each connection, `script(reader, writer)` speaks for it.
Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    return head + await reader.readexactly(length)


def length_answer(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def scripted(script: Script, test: Callable[[Wire, list[int]], Awaitable[None]],
                   *, max_bytes: int = 1 << 20, read_timeout: float = 10.0) -> list[int]:
    """Run `test(wire, connections)` against a server speaking `script` on each connection;
    `connections` counts the connections it was given."""
    connections: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(len(connections))
        try:
            await script(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    wire = Wire(f"http://127.0.0.1:{port}", headers={}, connect_timeout=5,
                read_timeout=read_timeout, max_bytes=max_bytes)
    try:
        await test(wire, connections)
    finally:
        await wire.aclose()
        server.close()
    return connections


def test_one_kept_alive_connection_carries_every_request():
    async def script(reader, writer):
        while True:
            request = await read_request(reader)
            writer.write(length_answer(request.rsplit(b"\r\n\r\n", 1)[1]))

    async def test(wire, connections):
        for i in range(5):
            answer = await wire.post("/v1/completions", json_body({"i": i}))
            assert (answer.status, answer.content) == (200, b'{"i":%d}' % i)

    assert len(asyncio.run(scripted(script, test))) == 1


@pytest.mark.parametrize("piece", [1, 7, 4096])
def test_a_chunked_answer_is_read_whole_however_it_is_split(piece):
    body = b'{"choices": [{"text": "' + b"x" * 3000 + b'"}]}'
    chunked = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(part), part)
                       for part in (body[:1000], body[1000:2999], body[2999:]))
    wire_bytes = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                  b"\r\n" + chunked + b"0\r\nX-Trailer: 1\r\n\r\n")

    async def script(reader, writer):
        while True:
            await read_request(reader)
            for start in range(0, len(wire_bytes), piece):
                writer.write(wire_bytes[start:start + piece])
                await writer.drain()

    async def test(wire, connections):
        for _ in range(2):
            assert (await wire.post("/x", b"{}")).content == body

    assert len(asyncio.run(scripted(script, test))) == 1


def test_an_answer_without_a_length_ends_with_its_connection():
    async def script(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + ANSWER)

    async def test(wire, connections):
        assert (await wire.post("/x", b"{}")).content == ANSWER
        assert (await wire.post("/x", b"{}")).content == ANSWER

    assert len(asyncio.run(scripted(script, test))) == 2


def test_connection_close_is_honoured():
    async def script(reader, writer):
        await read_request(reader)
        writer.write(length_answer(ANSWER, b"Connection: close\r\n"))
        await asyncio.sleep(30)  # the server keeps it open; rla must not reuse it anyway

    async def test(wire, connections):
        for _ in range(3):
            assert (await wire.post("/x", b"{}")).content == ANSWER

    assert len(asyncio.run(scripted(script, test))) == 3


@pytest.mark.parametrize("form", ["length", "chunked", "to-close"])
def test_an_answer_over_the_bound_is_cut_one_byte_past_it(form):
    big = b"y" * 5000
    answers = {
        "length": length_answer(big),
        "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   + b"".join(b"%x\r\n%s\r\n" % (500, big[i:i + 500]) for i in range(0, 5000, 500))
                   + b"0\r\n\r\n",
        "to-close": b"HTTP/1.1 200 OK\r\n\r\n" + big,
    }

    async def script(reader, writer):
        while True:
            await read_request(reader)
            writer.write(answers[form])

    async def test(wire, connections):
        for _ in range(2):
            assert (await wire.post("/x", b"{}")).content == big[:1025]

    assert len(asyncio.run(scripted(script, test, max_bytes=1024))) == 2  # never reused


def test_a_kept_alive_connection_the_server_dropped_says_so_in_httpx_words():
    """llama-server drops a kept-alive connection after a long answer, unannounced: the next
    request on it gets no answer at all. Retrying sends such a request again, once, by these
    words (tests/backends/test_openai_compat.py)."""
    async def script(reader, writer):
        await read_request(reader)
        writer.write(length_answer(ANSWER))
        await read_request(reader)  # read and dropped

    async def test(wire, connections):
        await wire.post("/x", b"{}")
        with pytest.raises(httpx.RemoteProtocolError, match=STALE):
            await wire.post("/x", b"{}")
        assert (await wire.post("/x", b"{}")).content == ANSWER  # a fresh connection

    assert len(asyncio.run(scripted(script, test))) == 2


@pytest.mark.parametrize("garbage", [b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
                                     b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
                                     b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
                                     b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                                     b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 20000])
def test_an_answer_that_is_not_http_is_a_protocol_error(garbage):
    async def script(reader, writer):
        await read_request(reader)
        writer.write(garbage)
        await asyncio.sleep(30)

    async def test(wire, connections):
        with pytest.raises(httpx.RemoteProtocolError):
            await wire.post("/x", b"{}")

    asyncio.run(scripted(script, test))


def test_a_server_that_never_answers_is_a_read_timeout_and_its_connection_is_dropped():
    async def script(reader, writer):
        await read_request(reader)
        if len(connections_seen) == 1:
            await asyncio.sleep(30)
        writer.write(length_answer(ANSWER))
        await read_request(reader)

    connections_seen: list[int] = []

    async def test(wire, connections):
        connections_seen.append(1)
        with pytest.raises(httpx.ReadTimeout):
            await wire.post("/x", b"{}")
        connections_seen.append(2)
        assert (await wire.post("/x", b"{}")).content == ANSWER

    assert len(asyncio.run(scripted(script, test, read_timeout=0.2))) == 2


def test_a_refused_connection_is_a_connect_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused

        async def go():
            wire = Wire(f"http://127.0.0.1:{port}", headers={}, connect_timeout=5,
                        read_timeout=5, max_bytes=1024)
            with pytest.raises(httpx.ConnectError):
                await wire.post("/x", b"{}")

        asyncio.run(go())


def test_the_request_is_on_the_wire_before_the_event_loop_runs_anything_else():
    """Issue 18: at --concurrency 1 the previous answer is settled (scored, logged, fsynced)
    while the server works on the next request — so the next request must have left before
    the loop hands control to anything else. One turn of the loop after the post starts, the
    server already holds the whole request."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        async def go():
            wire = Wire(f"http://127.0.0.1:{port}", headers={}, connect_timeout=5,
                        read_timeout=5, max_bytes=1 << 20)
            first = asyncio.create_task(wire.post("/v1/completions", b'{"n":1}'))
            await asyncio.sleep(0.05)  # connects; the kernel holds it in the backlog
            server, _ = listener.accept()
            server.settimeout(2)
            with server:
                assert server.recv(65536).endswith(b'{"n":1}')
                server.sendall(length_answer(ANSWER))
                await first
                second = asyncio.create_task(wire.post("/v1/completions", b'{"n":2}'))
                await asyncio.sleep(0)  # one turn: the task runs to its first await
                server.setblocking(False)
                arrived = server.recv(65536)  # no waiting: it is there or it is not
                assert arrived.startswith(b"POST /v1/completions HTTP/1.1\r\n")
                assert arrived.endswith(b'{"n":2}')
                server.setblocking(True)
                server.sendall(length_answer(ANSWER))
                assert (await second).content == ANSWER
            await wire.aclose()

        asyncio.run(go())


# -- both transports put the same request on the wire ---------------------------------------


COMPLETION = {"choices": [{"text": " B", "finish_reason": "length"}]}


def test_generate_over_http_and_https_sends_the_same_request(tmp_path, monkeypatch):
    """http:// goes through the lean pool, https:// through httpx: the same headers (bar the
    port in Host) and, byte for byte, the body the record's `sent` describes."""
    context, ca = loopback_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    prompt = Prompt(text="Soru: ü ≠ u?\nAnswer:", top_logprobs=20)
    seen = {}
    for scheme, tls in (("http", None), ("https", context)):
        with serve(lambda s: Reply(body=COMPLETION), tls=tls) as server:
            assert server.url.startswith(f"{scheme}://")
            backend = OpenAICompatBackend(server.url, "m", LLAMA, api_key="sk-test-123456789")
            sent = backend.sent_params(prompt)
            assert _generate(backend, prompt).text == " B"
        request = server.requests[0]
        headers = {k.lower(): v for k, v in request.headers.items()}
        assert json_body(request.body) == json_body({"model": "m", **sent, "prompt": prompt.text})
        headers.pop("host")
        seen[scheme] = headers
    assert seen["http"] == seen["https"]
    assert seen["http"]["authorization"] == "Bearer sk-test-123456789"
    assert seen["http"]["accept-encoding"] == "identity"
    assert seen["http"]["user-agent"].startswith("rla/")


def test_retrying_picks_the_transport_by_scheme_and_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)

    def lean(base: str) -> bool:
        retrying = Retrying(base, timeout=5, retries=0, backoff=0, api_key=None)
        return retrying._wire is not None

    assert lean("http://127.0.0.1:8080")
    assert not lean("https://gpu-box.example")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    assert lean("http://10.0.0.5:8080")
    monkeypatch.setenv("HTTP_PROXY", "https://proxy.example:3128")
    assert not lean("http://10.0.0.5:8080")
