"""Test doubles for the outside world of the runtime tests: a real HTTP server on 127.0.0.1
that answers as a given inference server does (bodies recorded from the real servers or copied
from their documentation, in data/), and a GGUF writer that builds model files byte by byte,
independently of the reader under test."""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"


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
        disable_nagle_algorithm = True  # else delayed ACKs add 40 ms a request

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


def start_server(
    routes: dict[str, Route], fallback: Reply | None = None
) -> tuple[FakeServer, ThreadingHTTPServer]:
    fake = FakeServer(dict(routes))
    if fallback is not None:
        fake.fallback = fallback
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True).start()
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    return fake, httpd


# ---------------------------------------------------------------------------------------------
# GGUF files

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
