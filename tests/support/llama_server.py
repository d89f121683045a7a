"""Start and stop a real llama-server (built by scripts/build-llama-server.sh) for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from runlocalai_bench.runtime.launch import find_llama_server, launch_command
from runlocalai_bench.runtime.probe import wait_until_ready

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
            self.process = subprocess.Popen([*command, "--threads", str(self.threads)],
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
