"""A stand-in llama-server in a process of its own that answers one completion at a time after a
fixed delay, like an engine with one slot: what several-endpoint runs are tested and measured
against (2 CPU cores cannot show an engine's speed-up, a fixed delay can show dispatch).

    python -m tests.support.replica_stub --port P [--delay 0.05] [--answer A] [--die-after N]
                                         [--build b9999-0123abcd]

`--die-after N`: the process exits at once (os._exit, no reply, its connections reset) when
its (N+1)th completion arrives, a server dying with a request in flight. GET /stats answers
{"completions", "busy_s", "first", "last"}: answered completions, the seconds spent answering
them and the wall-clock times (time.time) of the first start and the last end, so
a caller can put each endpoint's busy share beside the run's wall time.

`ReplicaStub` starts one and waits until it serves; `stop()` kills it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.llama_stub import PROPS, StubLlamaServer
from tests.support.servers import LoopbackServer, Reply, Seen, free_port

ROOT = Path(__file__).resolve().parents[2]


class _OneAtATime:
    def __init__(self, delay: float, answer: str, die_after: int | None, build: str) -> None:
        self.stub = StubLlamaServer(policy=lambda prompt: answer)
        self.delay = delay
        self.die_after = die_after
        self.props = {**PROPS, "build_info": build}
        self.lock = threading.Lock()
        self.started = 0
        self.answered = 0
        self.busy = 0.0
        self.first: float | None = None
        self.last: float | None = None

    def handle(self, seen: Seen) -> Reply:
        path = seen.path.split("?")[0]
        if path == "/props":
            return Reply(body=self.props)
        if path == "/stats":
            return Reply(body={"completions": self.answered, "busy_s": self.busy,
                               "first": self.first, "last": self.last})
        if not path.endswith("completions"):
            return self.stub.handle(seen)
        with self.lock:  # one slot: requests queue here, as at an engine's single slot
            self.started += 1
            if self.die_after is not None and self.started > self.die_after:
                os._exit(1)
            begin = time.time()
            self.first = self.first or begin
            time.sleep(self.delay)
            reply = self.stub.handle(seen)
            end = time.time()
            self.busy += end - begin
            self.last = end
            self.answered += 1
            return reply


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--answer", default="A")
    parser.add_argument("--die-after", type=int)
    parser.add_argument("--build", default=PROPS["build_info"])
    args = parser.parse_args(argv)
    handler = _OneAtATime(args.delay, args.answer, args.die_after, args.build)
    LoopbackServer(handler.handle, port=args.port).serve_forever()


@dataclass
class ReplicaStub:
    delay: float = 0.05
    die_after: int | None = None
    build: str = str(PROPS["build_info"])
    answer: str = "A"
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ReplicaStub:
        self.port = self.port or free_port()
        command = [sys.executable, "-m", "tests.support.replica_stub", "--port", str(self.port),
                   "--delay", str(self.delay), "--answer", self.answer, "--build", self.build]
        if self.die_after is not None:
            command += ["--die-after", str(self.die_after)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
        self.process = subprocess.Popen(command, cwd=ROOT, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the replica stub on port {self.port} did not start")

    def stats(self) -> dict[str, float]:
        return dict(httpx.get(self.url + "/stats", timeout=5).json())

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


if __name__ == "__main__":
    main()
