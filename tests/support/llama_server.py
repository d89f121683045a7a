"""Start and stop a real llama-server (built by scripts/build-llama-server.sh) for tests:
the command from its runner spec (runners/llama-server.toml `launch`), where rla's own build
lives, and waiting until it serves."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from runlocalai_bench.backends.http import normalise_endpoint
from runlocalai_bench.errors import ConfigError, EndpointError
from runlocalai_bench.redact import redact
from runlocalai_bench.runtime.replies import transport_error
from runlocalai_bench.specs import load_spec

REAL_CACHE = Path(os.environ.get("RLA_CACHE_DIR") or Path.home() / ".cache" / "rla")


def llama_server_binary() -> Path:
    binary = find_llama_server(REAL_CACHE)
    if binary is None:
        raise RuntimeError("no llama-server build in ~/.cache/rla: run scripts/setup.sh --server "
                           "(or deselect integration tests with -m 'not integration')")
    return binary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LlamaServer:
    model_path: Path
    log_path: Path
    n_ctx: int = 2048
    threads: int = 2
    port: int = 0
    extra: tuple[str, ...] = ()  # flags after the runner spec's (a later flag wins)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LlamaServer:
        self.port = self.port or _free_port()
        command = launch_command(
            "llama-server", binary=llama_server_binary(), model_path=self.model_path,
            host="127.0.0.1", port=self.port, n_ctx=self.n_ctx, seed=1234,
        )
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen([*command, "--threads", str(self.threads),
                                             *self.extra],
                                            stdout=out, stderr=out)
        try:
            wait_until_ready(self.url, timeout=180, alive=lambda: self.alive)
        except Exception:
            self.stop()
            raise RuntimeError(self.log_path.read_text(errors="replace")[-3000:]) from None
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would."""
        if self.process is not None and self.alive:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or not self.alive:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def launch_command(runner: str, **values: object) -> list[str]:
    """The runner spec's `launch` template with its braces filled:
    launch_command("llama-server", binary=..., model_path=..., host=..., port=..., n_ctx=...,
    seed=...)."""
    template = load_spec("runners", runner).get("launch")
    if not template:
        raise ConfigError(
            f"runner {runner!r} has no launch command",
            hint="start the server yourself and pass --endpoint",
        )
    try:
        return [str(part).format(**values) for part in template]
    except KeyError as exc:
        raise ConfigError(
            f"launching {runner} needs a value for {{{exc.args[0]}}}",
            hint=f"see runners/{runner}.toml",
        ) from None


def find_llama_server(cache_dir: Path) -> Path | None:
    """The newest llama-server built by scripts/build-llama-server.sh under `cache_dir`
    (<cache>/llama-server/<version>-<key>/build/bin/llama-server), if any."""
    builds = [p for p in cache_dir.glob("llama-server/*/build/bin/llama-server") if p.is_file()]
    return max(builds, key=lambda p: p.stat().st_mtime, default=None)


def wait_until_ready(
    url: str,
    timeout: float = 120.0,
    *,
    alive: Callable[[], bool] | None = None,
    interval: float = 0.25,
) -> None:
    """Block until the server at `url` is ready to serve: its /health answers 200 (llama-server,
    vLLM), or, where there is no /health, its /v1/models does. `alive` (e.g. a launched
    process's `poll() is None`) is checked between attempts so a crashed server fails fast.
    Raises EndpointError after `timeout` seconds."""
    base = normalise_endpoint(url)
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    with httpx.Client(timeout=min(timeout, 5.0)) as session:
        while True:
            left = deadline - time.monotonic()
            try:
                response = session.get(base + "/health", timeout=max(0.1, min(left, 5.0)))
                if response.status_code == 404:
                    response = session.get(base + "/v1/models", timeout=max(0.1, min(left, 5.0)))
                if response.status_code == 200:
                    return
                loading = "loading" in response.text.lower()
                last = f"HTTP {response.status_code}" + (", loading the model" if loading else "")
            except httpx.TransportError as exc:
                last = transport_error(exc, base, min(left, 5.0)).message
            if alive is not None and not alive():
                raise EndpointError(
                    f"the server for {redact(base)} exited before it was ready ({last})",
                    hint="read the server's own output for the reason",
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise EndpointError(
                    f"{redact(base)} was not ready after {timeout:g} s ({last})",
                    hint="a large model can take minutes to load; wait longer or check the server",
                )
            time.sleep(min(interval, left))
