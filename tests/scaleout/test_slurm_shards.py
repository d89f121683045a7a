"""The documented Slurm array script (docs/scale-out/slurm-array.sh), run for real on the test
cluster: four tasks, each `rla bench selfcheck --shard auto` against one loopback server, come
to exactly the unsharded run, sample for sample; a job whose tasks failed is finished by
submitting it again, which asks only what failed."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from runlocalai_bench.results import rundir
from tests.support.cli import rla
from tests.support.llama_stub import StubLlamaServer
from tests.support.servers import Reply

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPT = Path(__file__).parents[2] / "docs" / "scale-out" / "slurm-array.sh"


def letter(prompt: str) -> str:
    """A different answer per question, the same for the same prompt wherever it is asked."""
    return "ABCD"[hashlib.sha256(prompt.encode()).digest()[0] % 4]


def samples_by_id(run: rundir.RunDir) -> dict[str, dict]:
    """Each sample as written, less its wall-clock latency (the one field a rerun changes)."""
    out = {}
    for sample in rundir.read_samples(run.samples):
        assert sample["id"] not in out, sample["id"]
        out[sample["id"]] = {k: v for k, v in sample.items() if k != "latency_ms"}
    return out


def unsharded(tmp_path: Path, policy: Callable[[str], str] = letter) -> rundir.RunDir:
    server = StubLlamaServer(policy=policy).start()
    try:
        whole = rla("bench", "selfcheck", "--endpoint", server.url, "--model", "stub",
                    "--output-dir", str(tmp_path / "whole"))
    finally:
        server.stop()
    assert whole.returncode == 0, whole.stderr
    (run,) = (rundir.RunDir(p) for p in (tmp_path / "whole").iterdir())
    return run


def task_env(tmp_path: Path, **more: str) -> dict[str, str]:
    """The submitter's environment: an `rla` on PATH (this interpreter's, as the nodes would
    have it installed) and `more` (the server to ask or the model to serve). The runs go to the
    script's default, rla-runs/JOBID/ in the folder the job is submitted from."""
    folder = tmp_path / "bin"
    if not folder.exists():
        folder.mkdir()
        shim = folder / "rla"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m runlocalai_bench "$@"\n')
        shim.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}", **more}


def shard_runs(tmp_path: Path, job: str) -> list[rundir.RunDir]:
    """The job's four run directories, by task (the script names them SLUG-JOB-TASK)."""
    names = sorted(p.name for p in (tmp_path / "rla-runs" / job).iterdir())
    assert names == [f"selfcheck-{job}-{task}" for task in range(4)]
    return [rundir.RunDir(tmp_path / "rla-runs" / job / name) for name in names]


def assert_same_samples(shards: list[rundir.RunDir], whole: rundir.RunDir, *,
                        varied: bool) -> None:
    expected = samples_by_id(whole)
    parts = [samples_by_id(shard) for shard in shards]
    assert sorted(len(part) for part in parts) == [3, 3, 3, 3]
    joined = {key: sample for part in parts for key, sample in part.items()}
    assert sum(map(len, parts)) == len(joined) == len(expected) == 12
    assert joined == expected
    if varied:  # a different answer per question, not one letter throughout
        assert {s["extracted"] for s in expected.values()} == set("ABCD")


def assert_merged_is_whole(merged: Path, shards: list[rundir.RunDir],
                           whole: rundir.RunDir) -> None:
    """`rla merge` of the shards: the unsharded run's samples and results, every shard listed."""
    run = rundir.RunDir(merged)
    assert samples_by_id(run) == samples_by_id(whole)
    assert json.loads(run.results.read_text()) == json.loads(whole.results.read_text())
    record = json.loads(run.record.read_text())
    assert [(entry["index"], entry["run_id"]) for entry in record["shards"]] == [
        (i, shard.id) for i, shard in enumerate(shards)]


def merge(tmp_path: Path, job: str, shards: list[rundir.RunDir]) -> Path:
    merged = tmp_path / "rla-runs" / f"{job}-merged"
    ran = rla("merge", *(str(shard.path) for shard in shards), "-o", str(merged))
    assert ran.returncode == 0, ran.stderr
    return merged


def test_a_slurm_array_of_shards_merged_is_the_unsharded_run(slurm, tmp_path):
    """As the script's header says: the array, and a job that merges once it has succeeded."""
    whole = unsharded(tmp_path)
    env = task_env(tmp_path)
    server = StubLlamaServer(policy=letter).start()
    try:
        job = slurm.submit(str(SCRIPT), "selfcheck", "--model", "stub", cwd=tmp_path,
                           env={**env, "RLA_ENDPOINT": server.url})
        merging = slurm.submit(f"--dependency=afterok:{job}", "--wrap",
                               f"rla merge rla-runs/{job}/* -o rla-runs/{job}-merged",
                               cwd=tmp_path, env=env)
        assert slurm.wait(merging).succeeded()
    finally:
        server.stop()
    assert slurm.wait(job).succeeded(4)  # the script's own --array=0-3
    shards = shard_runs(tmp_path, job)
    assert [line for shard in shards for line in shard.run_log.read_text().splitlines()
            if line.startswith("shard ")] == [f"shard      {i}/4 (lpt-v1, from slurm)"
                                              for i in range(4)]
    assert_same_samples(shards, whole, varied=True)
    assert_merged_is_whole(tmp_path / "rla-runs" / f"{job}-merged", shards, whole)


def test_submitting_again_finishes_a_job_whose_tasks_failed(slurm, tmp_path):
    whole = unsharded(tmp_path)
    flaky = StubLlamaServer(policy=letter, fail=lambda n: Reply(500, {"error": {
        "message": "out of memory"}}) if n in (2, 7) else None)
    server = flaky.start()
    try:
        first = slurm.run_array(SCRIPT, "selfcheck", "--model", "stub", "--retries", "0",
                                tasks=4, cwd=tmp_path, check=False,
                                env=task_env(tmp_path, RLA_ENDPOINT=server.url))
    finally:
        server.stop()
    job = first.id
    assert not first.succeeded(4)
    runs = shard_runs(tmp_path, job)
    finished = {run.path: run.samples.read_bytes() for run in runs if run.record.exists()}
    assert 2 <= len(finished) <= 3  # the failures fell in one or two shards
    answered = sum(len(rundir.read_samples(run.samples)) for run in runs)

    healthy = StubLlamaServer(policy=letter)
    server = healthy.start()
    try:
        slurm.run_array(SCRIPT, "selfcheck", "--model", "stub", "--retries", "0", tasks=4,
                        cwd=tmp_path, env=task_env(tmp_path, RLA_ENDPOINT=server.url, RLA_JOB=job))
    finally:
        server.stop()
    assert healthy.completions == 12 - answered  # what the stopped shards had not answered
    shards = shard_runs(tmp_path, job)
    assert {path: path.joinpath("samples.jsonl").read_bytes() for path in finished} == finished
    assert all(shard.record.is_file() for shard in shards)
    assert_same_samples(shards, whole, varied=True)


STAND_IN = """#!/bin/sh
# llama-server as the script starts it: the arguments noted, then a loopback stand-in on --port
echo "$@" >> "{log}"
while [ $# -gt 0 ]; do [ "$1" = --port ] && port=$2; shift; done
PYTHONPATH="{root}" exec "{python}" -m tests.support.replica_stub --port "$port" --delay 0
"""


def test_each_task_can_serve_the_model_itself(slurm, tmp_path):
    """RLA_GGUF: every task starts its own llama-server (here a stand-in that answers "A"),
    waits until it serves, runs its shard against it and stops it."""
    whole = unsharded(tmp_path, policy=lambda prompt: "A")
    env = task_env(tmp_path, RLA_GGUF="/models/model-Q4_K_M.gguf")
    launches = tmp_path / "llama-server.args"
    server = tmp_path / "bin" / "llama-server"
    server.write_text(STAND_IN.format(log=launches, root=Path(__file__).parents[2],
                                      python=sys.executable))
    server.chmod(0o755)
    job = slurm.run_array(SCRIPT, "selfcheck", tasks=4, cwd=tmp_path, env=env).id
    shards = shard_runs(tmp_path, job)
    assert_same_samples(shards, whole, varied=False)
    assert_merged_is_whole(merge(tmp_path, job, shards), shards, whole)
    assert sorted(launches.read_text().splitlines()) == [
        f"--model /models/model-Q4_K_M.gguf --host 127.0.0.1 --port {18080 + task} --parallel 1"
        for task in range(4)]
    for task in range(4):  # each task stopped its server on the way out
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{18080 + task}/health", timeout=5)
