"""Every test runs with its own HOME, data and cache dirs, and no tokens from the real env.

The real model and the llama-server build are expensive, so RLA_CACHE_DIR keeps pointing at
the shared cache (~/.cache/rla by default) unless a test overrides it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runlocalai_bench import redact

SECRET_ENV = ("GH_TOKEN", "GITHUB_TOKEN", "RLA_API_KEY", "OPENAI_API_KEY", "HF_TOKEN",
              "RLA_SUBMIT_TOKEN", "RLA_ENDPOINT", "RLA_MODEL", "RLA_OUTPUT_DIR")
REAL_CACHE = Path(os.environ.get("RLA_CACHE_DIR") or Path.home() / ".cache" / "rla")


@pytest.fixture(scope="session", autouse=True)
def _no_checkout_state(tmp_path_factory: pytest.TempPathFactory):
    """Runs record the commit of the rla checkout they come from, and the trust gate refuses one
    with uncommitted changes: a developer's work in progress is not the runs' business here, so
    no run (session fixtures' included) sees this checkout's git state.
    tests/results/test_provenance.py checks the recorded commit on a checkout of its own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GIT_DIR", str(tmp_path_factory.mktemp("no-git") / "not-a-repository"))
        yield


@pytest.fixture(autouse=True)
def _isolate(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("RLA_HOME", str(home / "rla-data"))
    monkeypatch.setenv("RLA_CACHE_DIR", str(REAL_CACHE))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)
    redact.refresh()
    yield home
    redact.refresh()


@pytest.fixture(scope="session")
def gemma_gguf() -> Path:
    """The real gemma-3-270m Q4_K_M GGUF, assembled once from its PyPI package into the cache
    (the same file `rla bench` uses as its embedded default)."""
    from runlocalai_bench.models import embedded_model_path

    return embedded_model_path(REAL_CACHE)


@pytest.fixture(scope="session")
def llama_server(gemma_gguf: Path, tmp_path_factory: pytest.TempPathFactory):
    """A real llama-server (scripts/setup.sh --server builds it) serving gemma-3-270m on a free
    loopback port with --parallel 1, shared by the session and stopped at its end."""
    from tests.support.llama_server import LlamaServer

    server = LlamaServer(gemma_gguf, tmp_path_factory.mktemp("llama-server") / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def github():
    """A loopback GitHub Gist API (tests/publish/fakes.py), running until the test ends."""
    from tests.publish.fakes import FakeGitHub

    fake = FakeGitHub()
    server = fake.start()
    yield fake
    server.stop()


@pytest.fixture
def leaderboard():
    """A loopback leaderboard API that validates each payload against its kind's schema."""
    from tests.publish.fakes import FakeLeaderboard

    fake = FakeLeaderboard()
    server = fake.start()
    yield fake
    server.stop()
