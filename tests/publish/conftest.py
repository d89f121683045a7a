"""Real runs to publish: made once per session by `rla bench` against the stub llama-server,
then copied into each test that changes them."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from runlocalai_bench.results import rundir
from tests.publish.fakes import FakeGitHub
from tests.support.cli import rla
from tests.support.data import benchmark_data
from tests.support.llama_stub import StubLlamaServer


def bench(out: Path, *args: str, policy: Callable[[str], str] = lambda p: "A",
          env: dict[str, str] | None = None) -> rundir.RunDir:
    server = StubLlamaServer(policy=policy).start()
    try:
        proc = rla("bench", *args, "--endpoint", server.url, "--model", "stub",
                   "--output-dir", str(out), env=env)
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1
    return rundir.RunDir(runs[0])


def copy_run(run: rundir.RunDir, dest: Path) -> rundir.RunDir:
    target = dest / run.id
    shutil.copytree(run.path, target)
    return rundir.RunDir(target)


@pytest.fixture(scope="session")
def _selfcheck_run(tmp_path_factory: pytest.TempPathFactory) -> rundir.RunDir:
    return bench(tmp_path_factory.mktemp("selfcheck"), "selfcheck")


@pytest.fixture
def selfcheck_run(_selfcheck_run: rundir.RunDir, tmp_path: Path) -> rundir.RunDir:
    """A finished 12-question run: the bundled smoke test, never publishable."""
    return copy_run(_selfcheck_run, tmp_path / "runs")


@pytest.fixture(scope="session")
def _full_run(tmp_path_factory: pytest.TempPathFactory) -> rundir.RunDir:
    data = benchmark_data("turkishmmlu") / "turkishmmlu"
    return bench(tmp_path_factory.mktemp("full"), "turkish-mmlu-generative", "--data-dir",
                 str(data), "--concurrency", "1")


@pytest.fixture
def full_run(_full_run: rundir.RunDir, tmp_path: Path) -> rundir.RunDir:
    """A finished full, pinned TurkishMMLU run (900 questions): publishable once published."""
    return copy_run(_full_run, tmp_path / "runs")


@pytest.fixture(scope="session")
def _published_full_run(_full_run: rundir.RunDir,
                        tmp_path_factory: pytest.TempPathFactory) -> rundir.RunDir:
    from runlocalai_bench.publish.flow import publish_run
    from runlocalai_bench.publish.gist import GistClient
    from tests.publish.fakes import VALID_TOKEN

    run = copy_run(_full_run, tmp_path_factory.mktemp("published"))
    fake = FakeGitHub()
    server = fake.start()
    try:
        with GistClient(VALID_TOKEN, api_url=fake.url) as client:
            publish_run(run.path, client)
    finally:
        server.stop()
    return run


@pytest.fixture
def published_full_run(_published_full_run: rundir.RunDir, tmp_path: Path) -> rundir.RunDir:
    """The full run, published to a (since stopped) loopback Gist API and verified."""
    return copy_run(_published_full_run, tmp_path / "runs")


