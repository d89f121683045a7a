"""The whole pipeline on the real model: in-process llama-cpp-python and a real llama-server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runlocalai_bench.results import rundir
from tests.support.cli import rla
from tests.support.llama_server import LlamaServer

pytestmark = pytest.mark.integration

GEMMA_SHA256_PREFIX = "a5fd3b62"


# Each run's printed output and the model's native logging go through run.log's descriptor tee,
# and a real model is loaded: every `rla` here is a real process (process=True).


def the_run(out: Path) -> rundir.RunDir:
    (path,) = [p for p in out.iterdir() if p.is_dir()]
    return rundir.RunDir(path)


def answers(run: rundir.RunDir) -> dict[str, tuple[str, list]]:
    return {s["id"]: (s["response"], s["generation"]["top_logprobs"][:4])
            for s in rundir.read_samples(run.samples)}


def test_readme_main_job_on_the_embedded_model(tmp_path):
    """`rla bench selfcheck` with no model flags: the embedded gemma-3-270m, in process."""
    proc = rla("bench", "selfcheck", "--limit", "3", "--output-dir", str(tmp_path), "--json",
               process=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert results["n"] == 3 and results["partial"] is True
    run = the_run(tmp_path)
    record = json.loads(run.record.read_text())
    assert record["runtime"]["engine"] == "llama-cpp-python"
    assert record["model"]["quantization"] == "Q4_K_M"
    assert record["model"]["file_sha256"].startswith(GEMMA_SHA256_PREFIX)
    for sample in rundir.read_samples(run.samples):
        # In process the exact letter log-probabilities are read from the full distribution.
        cands = dict(map(tuple, sample["generation"]["candidate_logprobs"]))
        assert {"A", " A", "D", " D"} <= set(cands)
        assert all(lp < 0 for lp in cands.values())
        assert len(sample["generation"]["top_logprobs"]) == 20
        assert sample["extracted"] in "ABCD"


def test_in_process_runs_repeat_exactly(gemma_gguf, tmp_path):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        proc = rla("bench", "selfcheck", "--model-path", str(gemma_gguf), "--limit", "3",
                   "--output-dir", str(out), process=True, timeout=900)
        assert proc.returncode == 0, proc.stderr
        runs.append(answers(the_run(out)))
    assert runs[0] == runs[1]


def test_llama_server_end_to_end_and_resume_after_a_kill(gemma_gguf, tmp_path):
    """Kill llama-server mid-run, restart it, --resume: the same answers as an unbroken run."""
    log = tmp_path / "server.log"
    server = LlamaServer(gemma_gguf, log).start()
    try:
        whole = rla("bench", "selfcheck", "--endpoint", server.url, "--limit", "6",
                    "--output-dir", str(tmp_path / "whole"), "--json", process=True,
                    timeout=900)
        assert whole.returncode == 0, whole.stderr
        reference = the_run(tmp_path / "whole")
        record = json.loads(reference.record.read_text())
        assert record["runtime"]["engine"] == "llama.cpp"
        assert record["runtime"]["slug"].startswith("llama.cpp-b")
        assert record["model"]["quantization"] == "Q4_K_M"
        samples = rundir.read_samples(reference.samples)
        assert all(s["server_timings"]["prompt_n"] > 100 for s in samples)
        assert all(s["server_timings"].get("cache_n", 0) == 0 for s in samples)

        broken = tmp_path / "broken"
        child = subprocess.Popen(
            [sys.executable, "-m", "runlocalai_bench", "bench", "selfcheck", "--endpoint",
             server.url, "--limit", "6", "--output-dir", str(broken), "--retries", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            runs = [p for p in broken.glob("*") if p.is_dir()] if broken.exists() else []
            if runs and len(rundir.read_samples(rundir.RunDir(runs[0]).samples)) >= 2:
                break
            time.sleep(0.2)
        server.kill()
        _, err = child.communicate(timeout=300)
        assert child.returncode != 0
        assert err.strip().splitlines()[-2].startswith("error:"), err
        assert "--resume" in err
        interrupted = the_run(broken)
        done_before = len(rundir.read_samples(interrupted.samples))
        assert 2 <= done_before < 6

        server.start()  # same port, a fresh process
        resumed = rla("bench", "selfcheck", "--endpoint", server.url, "--limit", "6",
                      "--output-dir", str(broken), "--resume", process=True, timeout=900)
        assert resumed.returncode == 0, resumed.stderr
    finally:
        server.stop()
    ids = [s["id"] for s in rundir.read_samples(interrupted.samples)]
    assert len(ids) == len(set(ids)) == 6
    assert answers(interrupted) == answers(reference)
    assert "resum" in interrupted.run_log.read_text()
