"""The documented Slurm array script (docs/scale-out/slurm-array.sh), submitted for real to the
test cluster: four tasks, each `rla bench selfcheck --shard auto`, merged by a job that depends
on them, come to exactly the unsharded run, sample for sample; a job whose tasks failed is
finished by submitting it again, which asks only what failed; with RLA_GGUF each task serves
the model itself."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from runlocalai_bench.results import rundir
from tests.scaleout.runs import (
    EXAMPLES,
    LAUNCHES,
    answer_a,
    assert_merged_is_whole,
    assert_shards_split_whole,
    letter,
    merge,
    tools_on_path,
    unsharded,
)
from tests.support.llama_stub import StubLlamaServer
from tests.support.servers import Reply

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPT = EXAMPLES / "slurm-array.sh"


def shard_runs(tmp_path: Path, job: str) -> list[rundir.RunDir]:
    """The job's four run directories, by task: the script's default output folder
    (rla-runs/JOBID/ where the job was submitted) and its run names (SLUG-JOBID-TASK)."""
    names = sorted(p.name for p in (tmp_path / "rla-runs" / job).iterdir())
    assert names == [f"selfcheck-{job}-{task}" for task in range(4)]
    return [rundir.RunDir(tmp_path / "rla-runs" / job / name) for name in names]


def test_a_slurm_array_of_shards_merged_is_the_unsharded_run(slurm, tmp_path):
    """As the script's header says: the array, and a job that merges once it has succeeded."""
    whole = unsharded(tmp_path, letter)
    env = {"PATH": tools_on_path(tmp_path)}
    server = StubLlamaServer(policy=letter).start()
    try:
        job = slurm.submit(str(SCRIPT), "selfcheck", cwd=tmp_path,
                           env={**env, "RLA_ENDPOINT": server.url})
        merging = slurm.submit(f"--dependency=afterok:{job}", "--kill-on-invalid-dep=yes",
                               "--wrap", f"rla merge rla-runs/{job}/* -o rla-runs/{job}-merged",
                               cwd=tmp_path, env=env)
        assert slurm.wait(job).succeeded(4)  # the script's own --array=0-3
    finally:
        server.stop()
    assert slurm.wait(merging).succeeded()
    shards = shard_runs(tmp_path, job)
    assert [line for shard in shards for line in shard.run_log.read_text().splitlines()
            if line.startswith("shard ")] == [f"shard      {i}/4 (lpt-v1, from slurm)"
                                              for i in range(4)]
    assert_shards_split_whole(shards, whole)
    assert_merged_is_whole(tmp_path / "rla-runs" / f"{job}-merged", shards, whole)
    answers = {line["extracted"] for line in rundir.read_samples(whole.samples)}
    assert answers == set("ABCD")  # a different answer per question, not one throughout


def test_submitting_again_finishes_a_job_whose_tasks_failed(slurm, tmp_path):
    whole = unsharded(tmp_path, letter)
    path = tools_on_path(tmp_path)
    flaky = StubLlamaServer(policy=letter, fail=lambda n: Reply(500, {"error": {
        "message": "out of memory"}}) if n in (2, 7) else None)
    server = flaky.start()
    try:
        first = slurm.run_array(SCRIPT, "selfcheck", "--retries", "0", tasks=4, cwd=tmp_path,
                                env={"PATH": path, "RLA_ENDPOINT": server.url}, check=False)
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
        slurm.run_array(SCRIPT, "selfcheck", "--retries", "0", tasks=4, cwd=tmp_path,
                        env={"PATH": path, "RLA_ENDPOINT": server.url, "RLA_JOB": job})
    finally:
        server.stop()
    assert healthy.completions == 12 - answered  # what the stopped shards had not answered
    shards = shard_runs(tmp_path, job)
    assert {path: path.joinpath("samples.jsonl").read_bytes() for path in finished} == finished
    assert_shards_split_whole(shards, whole)
    assert_merged_is_whole(merge(shards, tmp_path / "merged"), shards, whole)


def test_each_task_can_serve_the_model_itself(slurm, tmp_path):
    """RLA_GGUF: every task starts its own llama-server (here the stand-in), waits until it
    serves, runs its shard against it and stops it."""
    whole = unsharded(tmp_path, answer_a)
    env = {"PATH": tools_on_path(tmp_path), "RLA_GGUF": "/models/model-Q4_K_M.gguf"}
    job = slurm.run_array(SCRIPT, "selfcheck", tasks=4, cwd=tmp_path, env=env).id
    shards = shard_runs(tmp_path, job)
    assert_shards_split_whole(shards, whole)
    assert_merged_is_whole(merge(shards, tmp_path / "merged"), shards, whole)
    launched = [re.fullmatch(r"--model /models/model-Q4_K_M\.gguf --host 127\.0\.0\.1"
                             r" --port (\d+) --parallel 1", line)
                for line in (tmp_path / LAUNCHES).read_text().splitlines()]
    ports = {int(match[1]) for match in launched if match}
    assert len(launched) == 4 and len(ports) == 4  # a free port each, whatever the job
    for port in ports:  # each task stopped its server on the way out
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
