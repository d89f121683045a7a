"""The Kubernetes example's pod script (docs/scale-out/k8s-indexed-job.yaml), run here as each
pod of the Indexed Job would run it: with the container's environment, its
JOB_COMPLETION_INDEX, a shared output folder and a llama-server stand-in. The four pods' shards
merge into the unsharded run; a pod whose server died fails, and its retry (same index) resumes
the shard; a pod run again after its shard finished does nothing.

Three things differ from a cluster, each replaced in the script as read: the benchmark is
selfcheck (bundled, 12 questions) instead of mmlu, the server's port is a free one instead of
8080, and the shared volume is a temporary folder."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml  # PyYAML: a dependency of datasets, one of rla's own

from runlocalai_bench.results import rundir
from tests.scaleout.runs import (
    EXAMPLES,
    LAUNCHES,
    answer_a,
    assert_merged_is_whole,
    assert_shards_split_whole,
    merge,
    tools_on_path,
    unsharded,
)
from tests.support.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def pod(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """The container's script and environment, as this test runs them."""
    job = yaml.safe_load((EXAMPLES / "k8s-indexed-job.yaml").read_text())
    (container,) = job["spec"]["template"]["spec"]["containers"]
    port = str(free_port())
    (script,) = container["args"]
    assert script.count("rla bench mmlu ") == 1 and script.count("--port 8080") == 1
    script = script.replace("rla bench mmlu ", "rla bench selfcheck ").replace(
        "--port 8080", f"--port {port}")
    env = {variable["name"]: variable["value"] for variable in container["env"]}
    assert env["RLA_ENDPOINT"] == "http://127.0.0.1:8080"
    env |= {"RLA_ENDPOINT": f"http://127.0.0.1:{port}",
            "RLA_OUTPUT_DIR": str(tmp_path / "runs" / "rla-mmlu"),
            "PATH": tools_on_path(tmp_path)}
    return script, env


def run_pod(script: str, env: dict[str, str], index: int,
            **more: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/bin/bash", "-c", script], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env, **more,
                                            "JOB_COMPLETION_INDEX": str(index)})


def test_the_indexed_jobs_pods_run_retry_and_merge_into_the_unsharded_run(tmp_path):
    whole = unsharded(tmp_path, answer_a, "--config", "leaderboard")
    script, env = pod(tmp_path)
    runs = Path(env["RLA_OUTPUT_DIR"])

    for index in (0, 1, 3):
        done = run_pod(script, env, index)
        assert done.returncode == 0, done.stdout + done.stderr
    died = run_pod(script, env, 2, STAND_IN_DIE_AFTER="2")  # its server dies at the third
    assert died.returncode != 0, died.stdout + died.stderr
    stopped = rundir.RunDir(runs / "mmlu-2")
    before = stopped.samples.read_bytes()
    assert len(before.splitlines()) == 2 and not stopped.record.exists()
    retried = run_pod(script, env, 2)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert stopped.samples.read_bytes().startswith(before)  # resumed, not begun again
    assert "(2 done, resuming)" in retried.stdout

    launches = (tmp_path / LAUNCHES).read_text().splitlines()
    again = run_pod(script, env, 1)  # its shard is finished: no server, no run
    assert again.returncode == 0 and again.stdout == ""
    assert (tmp_path / LAUNCHES).read_text().splitlines() == launches and len(launches) == 5

    shards = [rundir.RunDir(runs / f"mmlu-{index}") for index in range(4)]
    assert sorted(p.name for p in runs.iterdir()) == [shard.path.name for shard in shards]
    for index, shard in enumerate(shards):  # the resumed one says it twice
        assert {line for line in shard.run_log.read_text().splitlines()
                if line.startswith("shard ")} == {f"shard      {index}/4 (lpt-v1, from kubernetes)"}
    assert_shards_split_whole(shards, whole)
    assert_merged_is_whole(merge(shards, tmp_path / "merged"), shards, whole)
