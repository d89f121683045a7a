"""Speed runs against streaming loopback servers, on rigs probed from recorded hardware."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from runlocalai_bench.backends.factory import open_streamer
from runlocalai_bench.config import build_config
from runlocalai_bench.rig import detect_rig
from runlocalai_bench.speed.render import RichSpeedUI
from runlocalai_bench.speed.runner import SpeedOutcome, run_speed
from runlocalai_bench.speed.spec import load_speed_plan
from runlocalai_bench.types import RigInfo
from tests.rig.fakes import fake_nvml, linux_host, load_json
from tests.support.servers import LoopbackServer


@pytest.fixture
def gpu_rig(tmp_path_factory: pytest.TempPathFactory) -> RigInfo:
    """A Linux box with one RTX 4090, as NVML reports it (1008.1 GB/s measured)."""
    host, _ = linux_host(tmp_path_factory.mktemp("rig"),
                         nvml=fake_nvml(load_json("nvml/rtx-4090.json")))
    return detect_rig(host)


@pytest.fixture
def cpu_rig(tmp_path_factory: pytest.TempPathFactory) -> RigInfo:
    host, _ = linux_host(tmp_path_factory.mktemp("rig"))
    return detect_rig(host)


@pytest.fixture
def serving() -> Iterator[Callable[[Any], LoopbackServer]]:
    """serving(stub) → the stub's server, running until the test ends."""
    running: list[LoopbackServer] = []

    def start(stub: Any) -> LoopbackServer:
        server = stub.start()
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()


class Speed:
    def __init__(self, out: Path) -> None:
        self.out = out

    def __call__(self, url: str, rig: RigInfo, *, profile: str | None = None,
                 n_predict: int | None = 8, env: Mapping[str, str] | None = None,
                 **flags: Any) -> SpeedOutcome:
        config = build_config("speed", {"endpoint": url, "output_dir": self.out / "runs",
                                        "index_path": self.out / "runs.sqlite", **flags},
                              env=env or {})
        plan = load_speed_plan(profile, n_predict=n_predict)
        console = Console(width=120, no_color=True)  # follows sys.stdout: into run.log
        return run_speed(config, plan, RichSpeedUI(console, console),
                         open_streamer=open_streamer, detect_rig=lambda: rig)


@pytest.fixture
def speed(tmp_path: Path) -> Speed:
    """speed(url, rig, profile=..., n_predict=...) → a finished speed run's outcome."""
    return Speed(tmp_path)
