"""Real runs to review: `run_benchmark` in process against the instant stub llama-server over
real HTTP, with the real rig probes (or, for another machine, the probes reading a recorded
one). Session runs are copied into each test that changes them. Speed runs come from the speed
tests' fixtures (streaming loopback llama-server, recorded rigs); Gists from the loopback Gist
API, readable here (GET /gists/{id}). Below them, the helpers the editor's test files share."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest

from runlocalai_bench import ui
from runlocalai_bench.backends.factory import open_backend
from runlocalai_bench.cli.render import RichRunUI
from runlocalai_bench.config import build_config
from runlocalai_bench.pipeline import run_benchmark
from runlocalai_bench.publish.flow import publish_run
from runlocalai_bench.publish.gist import GistClient
from runlocalai_bench.results import rundir
from runlocalai_bench.review.source import local_source
from runlocalai_bench.review.verify import VerifyReport, verify_source
from runlocalai_bench.rig import detect_rig
from runlocalai_bench.types import RigInfo
from tests.publish.fakes import VALID_TOKEN, FakeGitHub
from tests.speed.conftest import cpu_rig, gpu_rig, serving, speed  # noqa: F401 (fixtures)
from tests.support.cli import assert_user_error, rla
from tests.support.llama_stub import MODELS, PROPS, StubLlamaServer
from tests.support.servers import LoopbackServer, Reply, Seen

Policy = Callable[[str], str]


def alternating(prompt: str) -> str:
    """A deterministic 'model': the answer depends on the prompt only."""
    return "ABCD"[len(prompt) % 4]


class OtherModelStub(StubLlamaServer):
    """The stub serving another file: the same answers, another quantization (in its name, and
    as llama-server reports the file's type)."""

    FTYPES: ClassVar[dict[str, str]] = {"stub-q8_0.gguf": "Q8_0",
                                        "stub-q5_k_m.gguf": "Q5_K - Medium"}

    def __init__(self, policy: Policy, model_file: str) -> None:
        super().__init__(policy=policy)
        self.model_file = model_file

    def handle(self, seen: Seen) -> Reply:
        path = seen.path.split("?")[0]
        if path == "/props":
            return Reply(body={**PROPS, "model_path": f"/models/{self.model_file}",
                               "model_ftype": self.FTYPES[self.model_file]})
        if path == "/v1/models":
            entry = {**MODELS["data"][0], "id": self.model_file}
            return Reply(body={**MODELS, "data": [entry]})
        return super().handle(seen)


@contextmanager
def stub_server(policy: Policy = alternating, model_file: str | None = None
                ) -> Iterator[LoopbackServer]:
    stub = StubLlamaServer(policy=policy) if model_file is None else \
        OtherModelStub(policy, model_file)
    server = stub.start()
    try:
        yield server
    finally:
        server.stop()


def flags_for(url: str, out: Path, **extra: Any) -> dict[str, Any]:
    return {"endpoint": url, "model": "stub", "output_dir": out,
            "index_path": out / "runs.sqlite", **extra}


def make_run(out: Path, *, policy: Policy = alternating,
             rig: Callable[[], RigInfo] = detect_rig, **extra: Any) -> rundir.RunDir:
    """A finished selfcheck run made by the real pipeline against the stub server."""
    with stub_server(policy) as server:
        config = build_config("selfcheck", flags_for(server.url, out, **extra), env={},
                              argv=("rla", "bench", "selfcheck", "--endpoint", server.url))
        outcome = run_benchmark(config, RichRunUI(ui.stdout_console(), ui.stderr_console()),
                                open_backend=open_backend, detect_rig=rig)
    return outcome.run


def copy_run(run: rundir.RunDir, dest: Path) -> rundir.RunDir:
    target = dest / run.id
    shutil.copytree(run.path, target)
    return rundir.RunDir(target)


@pytest.fixture(scope="session")
def _original(tmp_path_factory: pytest.TempPathFactory) -> rundir.RunDir:
    return make_run(tmp_path_factory.mktemp("original"))


@pytest.fixture
def original(_original: rundir.RunDir, tmp_path: Path) -> rundir.RunDir:
    """A finished, unsigned 12-question selfcheck run of the alternating stub."""
    return copy_run(_original, tmp_path / "original")


# -- helpers ---------------------------------------------------------------------------------


def verify(run: rundir.RunDir) -> VerifyReport:
    return verify_source(local_source(run.path))


def failed(report: VerifyReport) -> set[tuple[str, str | None, str | None]]:
    """(check, file, field) of each failure."""
    return {(f.check, f.file, f.field) for f in report.failures}


def publish(run: rundir.RunDir, fake: FakeGitHub) -> str:
    """Publish `run` to the loopback Gist API; the Gist's URL."""
    with GistClient(VALID_TOKEN, api_url=fake.url) as client:
        return publish_run(run.path, client).url


def failing_verify_in_a_process(path: Path) -> set[tuple[str, ...]]:
    """`rla verify PATH` in a real process (a hostile file must not take the test run down
    with it), which must fail as a user error (exit 1, one `error:` line and a hint, no
    traceback); the (status, check, file:field) rows it printed."""
    proc = rla("verify", str(path), env={"NO_COLOR": "1", "COLUMNS": "200"}, process=True,
               timeout=120)
    assert proc.returncode == 1
    assert_user_error(proc, "verification failed")
    assert proc.stderr.startswith("error: verification failed")
    return {tuple(cell.strip() for cell in line.split("│")[1:4])
            for line in proc.stdout.splitlines() if line.startswith("│")}
