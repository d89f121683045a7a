"""Fixtures for the runtime tests: fake inference servers on loopback ports, a port nothing
listens on, hand-written GGUF files and the real gemma-3-270m GGUF."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from .fakes import TINY_TENSORS, FakeServer, Reply, Route, gguf_bytes, start_server, tiny_llama_kv

# Read before any test isolates HOME: the assembled model and the llama-server build are
# shared across sessions.
REAL_CACHE = Path(os.environ.get("RLA_CACHE_DIR") or Path.home() / ".cache" / "rla")
_MODEL_CACHE = Path(
    os.environ.get("RLA_TEST_MODEL_DIR")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rla" / "models"
)


@pytest.fixture
def serve() -> Iterator[Callable[..., FakeServer]]:
    """serve({"GET /v1/models": Reply(body=...)}) → a running FakeServer with its .url."""
    running: list[ThreadingHTTPServer] = []

    def start(routes: dict[str, Route], fallback: Reply | None = None) -> FakeServer:
        fake, httpd = start_server(routes, fallback)
        running.append(httpd)
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
