"""Several endpoints and a batching server with the real llama-server serving gemma-3-270m:
two replicas share a selfcheck run and one is SIGKILLed mid-run (its items go to the other,
each answered once, the answers those of one server alone); a server with --parallel 2 driven
at --concurrency 2 is recorded as batched and refused by the gate. About a minute on 2 loaded
cores."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from runlocalai_bench.publish.trust import check_gate, publishable_specs
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import Batching, Scored
from tests.support.cli import only_run, rla
from tests.support.llama_server import LlamaServer

pytestmark = pytest.mark.integration

ANSWER = ("id", "response", "extracted", "score", "status")


def started(gemma_gguf: Path, log: Path, *extra: str) -> LlamaServer:
    return LlamaServer(gemma_gguf, log, n_ctx=1024 * (2 if extra else 1), threads=1,
                       extra=extra).start()


def answers(out: Path) -> dict[str, tuple]:
    (path,) = [p for p in out.iterdir() if p.is_dir()]
    samples = rundir.read_samples(rundir.RunDir(path).samples)
    assert len(samples) == len({s["id"] for s in samples})  # none twice
    return {s["id"]: tuple(s[k] for k in ANSWER) for s in samples}


def completions(log: Path) -> int:
    return log.read_text(errors="replace").count("launch_slot_")


def test_a_replica_killed_mid_run_hands_its_items_to_the_other(gemma_gguf, tmp_path):
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    a, b = (started(gemma_gguf, log) for log in logs)
    try:
        alone = rla("bench", "selfcheck", "--endpoint", a.url, "--limit", "6", "--output-dir",
                    str(tmp_path / "alone"))
        assert alone.returncode == 0, alone.stderr
        command = [sys.executable, "-m", "runlocalai_bench", "bench", "selfcheck", "--endpoint",
                   a.url, "--endpoint", b.url, "--limit", "6", "--retries", "1",
                   "--output-dir", str(tmp_path / "both")]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        deadline = time.monotonic() + 120
        while completions(logs[1]) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        b.kill()  # SIGKILL, a request in flight or about to be
        _, err = proc.communicate(timeout=300)
    finally:
        a.stop()
        b.stop()
    assert proc.returncode == 0, err
    assert answers(tmp_path / "both") == answers(tmp_path / "alone")
    (path,) = [p for p in (tmp_path / "both").iterdir() if p.is_dir()]
    run = rundir.RunDir(path)
    record = load_record(run.record)
    assert isinstance(record.body, Scored)
    assert record.body.endpoints == (a.url, b.url)
    assert f"endpoint   {b.url} retired" in run.run_log.read_text()


def test_llama_server_parallel_2_at_concurrency_2_is_a_batched_run(gemma_gguf, tmp_path):
    server = started(gemma_gguf, tmp_path / "server.log", "--parallel", "2")
    try:
        ran = rla("bench", "selfcheck", "--endpoint", server.url, "--concurrency", "2",
                  "--limit", "6", "--output-dir", str(tmp_path))
    finally:
        server.stop()
    assert ran.returncode == 0, ran.stderr
    run = only_run(tmp_path)
    record = load_record(run.record)
    assert isinstance(record.body, Scored)
    assert record.runtime.slots == 2
    assert record.body.batching == Batching(batched=True, slots=2, concurrency=2, in_flight=2)
    assert "batching   the server has 2 slots" in run.run_log.read_text()
    reasons = check_gate(record, run.path, publishable_specs()).reasons
    assert any(r.startswith("the record states a batched run (2 server slots") for r in reasons)
