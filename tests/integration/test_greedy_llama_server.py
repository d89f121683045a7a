"""What the row claims is what ran, against a real llama-server started the way a contributor
might leave it: `--repeat-penalty 1.5` (a sampler default that changes greedy output),
`--parallel 4` (four slots) and `-c 256` (too small for a 5-shot MMLU prompt: the run stops
unfinished, naming the cause), or the same with `-c 4096` (the run finishes, and the gate names
what makes the row untrustworthy). A few seconds on 2 cores for each."""

from __future__ import annotations

import asyncio
import copy
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runlocalai_bench.backends.openai_compat import OpenAICompatBackend
from runlocalai_bench.publish.trust import check_gate, publishable_specs
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import Record
from runlocalai_bench.runtime.probe import probe_endpoint
from runlocalai_bench.types import Prompt
from tests.support.cli import only_run
from tests.support.data import benchmark_data
from tests.support.llama_server import LlamaServer

pytestmark = pytest.mark.integration

COUNTING = "1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3,"


CARELESS = ("--repeat-penalty", "1.5", "--parallel", "4")


@pytest.fixture(scope="module")
def careless_server(gemma_gguf: Path, tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[LlamaServer]:
    log = tmp_path_factory.mktemp("careless") / "server.log"
    server = LlamaServer(gemma_gguf, log, n_ctx=256, extra=CARELESS).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def roomy_careless_server(gemma_gguf: Path, tmp_path_factory: pytest.TempPathFactory
                          ) -> Iterator[LlamaServer]:
    log = tmp_path_factory.mktemp("roomy") / "server.log"
    server = LlamaServer(gemma_gguf, log, n_ctx=4096, extra=CARELESS).start()
    yield server
    server.stop()


def bench_mmlu(server: LlamaServer, out: Path) -> subprocess.CompletedProcess[str]:
    data = benchmark_data("mmlu") / "mmlu"
    return subprocess.run(
        [sys.executable, "-m", "runlocalai_bench", "bench", "mmlu", "--endpoint", server.url,
         "--data-dir", str(data), "--limit", "2", "--output-dir", str(out)],
        capture_output=True, text=True, timeout=300, env=os.environ.copy())


def test_rla_overrides_the_servers_repeat_penalty(careless_server: LlamaServer) -> None:
    """Left to the server, the penalty pushes greedy decoding off a repeating pattern; rla's
    neutral fields keep it on it."""
    runtime = probe_endpoint(careless_server.url)
    assert runtime.sampler_defaults["repeat_penalty"] == 1.5  # read from /props
    backend = OpenAICompatBackend(careless_server.url, "gemma", runtime)

    async def generate() -> str:
        try:
            return (await backend.generate(Prompt(text=COUNTING, max_tokens=16))).text
        finally:
            await backend.aclose()

    ours = asyncio.run(generate())
    bare = httpx.post(careless_server.url + "/v1/completions", timeout=120, json={
        "prompt": COUNTING, "max_tokens": 16, "temperature": 0, "top_k": 1,
        "cache_prompt": False}).json()["choices"][0]["text"]
    assert ours.startswith(" 1, 2, 3, 1, 2"), ours
    assert bare != ours


def test_prompts_over_the_context_stop_the_run_naming_the_cause(careless_server: LlamaServer,
                                                                tmp_path: Path) -> None:
    proc = bench_mmlu(careless_server, tmp_path)
    assert proc.returncode == 1, proc.stderr
    error, hint = proc.stderr.strip().splitlines()[-2:]
    assert error.startswith("error: 2 of 2 requests failed, so the run is not complete"), error
    assert "context" in error
    assert hint.startswith("hint: 2 exceeded the server's context: restart it with a larger"
                           " context"), hint
    run = only_run(tmp_path)
    assert not run.record.exists() and not run.results.exists()
    assert [s["status"] for s in rundir.read_samples(run.samples)] == ["error", "error"]


def test_the_gate_names_each_cause_in_one_line(roomy_careless_server: LlamaServer,
                                               tmp_path: Path) -> None:
    proc = bench_mmlu(roomy_careless_server, tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = only_run(tmp_path)
    record = load_record(run.record)
    assert record.runtime.slots == 4 and record.runtime.n_ctx == 1024  # 4096 over 4 slots
    assert record.runtime.settings["launch"] == (
        "llama-server --model gemma-3-270m-q4_k_m.gguf --ctx-size 4096 --parallel 4")
    assert record.runtime.sampler_defaults["repeat_penalty"] == 1.5
    assert record.sampling.sent["repeat_penalty"] == 1.0

    reasons = check_gate(record, run.path, publishable_specs()).reasons
    assert all("\n" not in r for r in reasons)
    assert ("the server has 4 slots (llama-server --parallel 4): requests share batches and"
            " results change; restart it with --parallel 1") in reasons
    assert not any("context" in r for r in reasons)
    assert not any("repeat_penalty" in r for r in reasons)  # overridden on every request
    # The same run from an rla that left the penalty to the server is refused for it.
    data_ = copy.deepcopy(record.to_json())
    del data_["sampling"]["sent"]["repeat_penalty"]
    unset = check_gate(Record.from_json(data_), run.path, publishable_specs()).reasons
    (penalty,) = [r for r in unset if "repeat_penalty" in r]
    assert penalty.startswith("the server's default repeat_penalty 1.5 changes greedy output"
                              " and was not overridden"), penalty
