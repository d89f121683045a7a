"""HumanEval+ end to end on a real llama-server serving gemma-3-270m: `rla bench humaneval-plus`
over the bundled sample's first tasks, interrupted after its first sample and resumed; every
sample is scored once, in the sandbox, with its verdicts, and the results agree with them.

gemma-3-270m is a base model: completions run to the spec's stop sequences or max_tokens (768,
about 25 s on 2 idle cores), and it solves next to nothing; what is checked is the plumbing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import rla
from tests.support.llama_server import LlamaServer

pytestmark = pytest.mark.integration

LIMIT = 2  # HumanEval/2 and HumanEval/32 of the bundled sample


def bench_args(url: str, out: Path, *flags: str) -> list[str]:
    return ["bench", "humaneval-plus", "--endpoint", url, "--sample", "--limit", str(LIMIT),
            "--output-dir", str(out), "--json", *flags]


@pytest.fixture(scope="module")
def server(gemma_gguf: Path, tmp_path_factory: pytest.TempPathFactory):
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with_server = LlamaServer(model_path=gemma_gguf, log_path=log, n_ctx=2048).start()
    yield with_server
    with_server.stop()


def test_a_run_interrupted_after_its_first_sample_resumes_to_the_end(
        server: LlamaServer, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    # a real process each (the first is interrupted by a signal; --json passes run.log's tee)
    first = subprocess.Popen([sys.executable, "-m", "runlocalai_bench",
                              *bench_args(server.url, out)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=dict(os.environ))
    samples_path: Path | None = None
    while first.poll() is None:
        found = list(out.glob("*/samples.jsonl")) if out.exists() else []
        if found and found[0].read_text().strip():
            samples_path = found[0]
            first.send_signal(signal.SIGINT)
            break
        time.sleep(0.2)
    first.communicate(timeout=300)
    assert samples_path is not None, "the run ended before its first sample was written"
    done_before = [json.loads(line)["id"] for line in samples_path.read_text().splitlines()]
    assert 1 <= len(done_before) <= LIMIT

    resumed = rla(*bench_args(server.url, out, "--resume"), process=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    results = json.loads(resumed.stdout)
    samples = [json.loads(line) for line in samples_path.read_text().splitlines()]
    ids = [sample["id"] for sample in samples]
    assert sorted(ids) == ["HumanEval/2", "HumanEval/32"] and ids[:len(done_before)] == (
        done_before)
    for sample in samples:
        assert sample["status"] in ("pass", "fail", "unparsed")
        if sample["status"] != "unparsed":
            assert sample["details"]["base"] in ("pass", "fail", "timeout")
            assert sample["details"]["isolation"] in ("namespaces", "landlock", "rlimits")
            assert sample["extracted"]
    passes = sum(sample["status"] == "pass" for sample in samples)
    base_passes = sum(sample["details"].get("base") == "pass" for sample in samples)
    assert results["score"] == pytest.approx(passes / LIMIT)
    assert results["extra"]["pass@1_base"] == pytest.approx(base_passes / LIMIT)
    assert results["partial"] is True  # a sample of the benchmark, and a slice of it
    # The public log says how every verdict was reached: the sandbox and the time limit.
    isolation = next((s["details"]["isolation"] for s in samples if s["status"] != "unparsed"),
                     "")  # every sample unparsed: no level to compare with
    log = (samples_path.parent / "run.log").read_text()
    assert f"scoring    execution, sandbox {isolation}" in log
    assert "time limit max(" in log and "× the reference solution's time)" in log
