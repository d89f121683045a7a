"""Real runs to publish: made once per session by `rla bench` against the stub llama-server,
then copied into each test that changes them."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
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
def _published_full_run(_full_run: rundir.RunDir, tmp_path_factory: pytest.TempPathFactory
                        ) -> Iterator[tuple[rundir.RunDir, FakeGitHub]]:
    from runlocalai_bench.publish.flow import publish_run
    from runlocalai_bench.publish.gist import GistClient
    from tests.publish.fakes import VALID_TOKEN

    run = copy_run(_full_run, tmp_path_factory.mktemp("published"))
    fake = FakeGitHub()
    server = fake.start()
    try:
        with GistClient(VALID_TOKEN, api_url=fake.url) as client:
            publish_run(run.path, client)
        yield run, fake
    finally:
        server.stop()


@pytest.fixture
def published_full_run(_published_full_run: tuple[rundir.RunDir, FakeGitHub], tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> rundir.RunDir:
    """The full run, published to a loopback Gist API (running for the session, and the Gist
    API rla talks to in this test: submit reads the Gist back) and verified."""
    run, fake = _published_full_run
    monkeypatch.setenv("RLA_GITHUB_API_URL", fake.url)
    return copy_run(run, tmp_path / "runs")


@pytest.fixture
def published_gist(_published_full_run: tuple[rundir.RunDir, FakeGitHub]) -> FakeGitHub:
    """The loopback Gist API holding `published_full_run`'s Gist."""
    return _published_full_run[1]


