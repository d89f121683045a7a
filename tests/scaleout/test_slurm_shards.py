"""The documented Slurm array script (docs/scale-out/slurm-array.sh), run for real on the test
cluster: four tasks, each `rla bench selfcheck --shard auto` against one loopback server, come
to exactly the unsharded run, sample for sample; a job whose tasks failed is finished by
submitting it again, which asks only what failed."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

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


def unsharded(tmp_path: Path) -> rundir.RunDir:
    server = StubLlamaServer(policy=letter).start()
    try:
        whole = rla("bench", "selfcheck", "--endpoint", server.url, "--model", "stub",
                    "--output-dir", str(tmp_path / "whole"))
    finally:
        server.stop()
    assert whole.returncode == 0, whole.stderr
    (run,) = (rundir.RunDir(p) for p in (tmp_path / "whole").iterdir())
    return run


def task_env(tmp_path: Path, endpoint: str, **more: str) -> dict[str, str]:
    """The submitter's environment: an `rla` on PATH (this interpreter's, as the nodes would
    have it installed), the server to ask and where the runs go."""
    folder = tmp_path / "bin"
    if not folder.exists():
        folder.mkdir()
        shim = folder / "rla"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m runlocalai_bench "$@"\n')
        shim.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}", "RLA_ENDPOINT": endpoint,
            "RLA_OUTPUT_DIR": str(tmp_path / "runs"), **more}


def shard_runs(tmp_path: Path, job: str, slurm) -> list[rundir.RunDir]:
    """The job's four run directories, by task (the script names them SLUG-JOB-TASK)."""
    names = sorted(p.name for p in (tmp_path / "runs" / job).iterdir())
    assert names == [f"selfcheck-{job}-{task}" for task in range(4)], slurm.logs()
    return [rundir.RunDir(tmp_path / "runs" / job / name) for name in names]


def assert_same_samples(shards: list[rundir.RunDir], whole: rundir.RunDir) -> None:
    expected = samples_by_id(whole)
    parts = [samples_by_id(shard) for shard in shards]
    assert sorted(len(part) for part in parts) == [3, 3, 3, 3]
    joined = {key: sample for part in parts for key, sample in part.items()}
    assert sum(map(len, parts)) == len(joined) == len(expected) == 12
    assert joined == expected
    assert {s["extracted"] for s in expected.values()} == set("ABCD")  # the answers vary


def test_a_slurm_array_of_shards_is_the_unsharded_run(slurm, tmp_path):
    whole = unsharded(tmp_path)
    server = StubLlamaServer(policy=letter).start()
    try:
        job = slurm.run_array(SCRIPT, "selfcheck", "--model", "stub", tasks=4, cwd=tmp_path,
                              env=task_env(tmp_path, server.url)).stdout.strip()
    finally:
        server.stop()
    shards = shard_runs(tmp_path, job, slurm)
    assert [line for shard in shards for line in shard.run_log.read_text().splitlines()
            if line.startswith("shard ")] == [f"shard      {i}/4 (lpt-v1, from slurm)"
                                              for i in range(4)]
    assert all(shard.record.is_file() for shard in shards)
    assert_same_samples(shards, whole)


def test_submitting_again_finishes_a_job_whose_tasks_failed(slurm, tmp_path):
    whole = unsharded(tmp_path)
    flaky = StubLlamaServer(policy=letter, fail=lambda n: Reply(500, {"error": {
        "message": "out of memory"}}) if n in (2, 7) else None)
    server = flaky.start()
    try:
        first = slurm.run_array(SCRIPT, "selfcheck", "--model", "stub", "--retries", "0",
                                tasks=4, cwd=tmp_path, env=task_env(tmp_path, server.url),
                                check=False)
    finally:
        server.stop()
    assert first.returncode != 0, slurm.logs()
    job = first.stdout.strip()
    runs = shard_runs(tmp_path, job, slurm)
    finished = {run.path: run.samples.read_bytes() for run in runs if run.record.exists()}
    assert 2 <= len(finished) <= 3, slurm.logs()  # the failures fell in one or two shards
    answered = sum(len(rundir.read_samples(run.samples)) for run in runs)

    healthy = StubLlamaServer(policy=letter)
    server = healthy.start()
    try:
        slurm.run_array(SCRIPT, "selfcheck", "--model", "stub", "--retries", "0", tasks=4,
                        cwd=tmp_path, env=task_env(tmp_path, server.url, RLA_JOB=job))
    finally:
        server.stop()
    assert healthy.completions == 12 - answered  # what the stopped shards had not answered
    shards = shard_runs(tmp_path, job, slurm)
    assert {path: path.joinpath("samples.jsonl").read_bytes() for path in finished} == finished
    assert all(shard.record.is_file() for shard in shards)
    assert_same_samples(shards, whole)
