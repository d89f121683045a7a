"""A sharded full run, merged, goes through publish, submit's gate, the leaderboard and verify
like any run: every shard's log is in the Gist beside the merged run.log."""

from __future__ import annotations

import json

from runlocalai_bench import schemas
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from tests.publish.conftest import bench
from tests.publish.test_cli import env_for
from tests.support.cli import rla
from tests.support.data import benchmark_data

ANSWER = ("id", "subtask", "prompt", "response", "target", "extracted", "score", "status")


def answers(run: rundir.RunDir) -> dict[str, tuple]:
    return {s["id"]: tuple(s.get(k) for k in ANSWER) for s in rundir.read_samples(run.samples)}


def test_a_merged_full_run_publishes_submits_and_verifies(_full_run, github, leaderboard,
                                                          tmp_path):
    data = benchmark_data("turkishmmlu") / "turkishmmlu"
    shards = [bench(tmp_path / f"s{i}", "turkish-mmlu-generative", "--data-dir", str(data),
                    "--shard", f"{i}/2") for i in range(2)]
    merged = rundir.RunDir(tmp_path / "merged")
    ran = rla("merge", *(str(s.path) for s in shards), "-o", str(merged.path))
    assert ran.returncode == 0, ran.stderr
    assert answers(merged) == answers(_full_run)  # the unsharded run, sample for sample
    assert json.loads(merged.results.read_text()) == json.loads(_full_run.results.read_text())

    published = rla("publish", str(merged.path), env=env_for(github))
    assert published.returncode == 0, published.stderr
    url = published.stdout.strip()
    uploaded = github.uploaded()
    assert uploaded["run.log"] == merged.run_log.read_bytes()
    for i, shard in enumerate(shards):
        assert uploaded[f"shards-shard-{i}.log"] == shard.run_log.read_bytes()

    submitted = rla("submit", str(merged.path), "--yes", env=env_for(github,
                                                                     leaderboard=leaderboard))
    assert submitted.returncode == 0, submitted.stderr
    (seen,) = leaderboard.submissions()
    assert schemas.validate(seen.body, schemas.load_schema(schemas.SUBMISSION)) == []
    assert seen.body["score"]["n"] == 900
    assert "--shard" not in seen.body["reproduction"]["command"]

    verified = rla("verify", url, "--json", "--data-dir", str(data), env=env_for(github))
    report = json.loads(verified.stdout)
    assert verified.returncode == 0 and report["ok"], report
    statuses = {f["check"]: f["status"] for f in report["findings"]}
    assert statuses["coverage"] == statuses["rescore"] == statuses["files"] == "ok"
    files = next(f["message"] for f in report["findings"] if f["check"] == "files")
    assert "2 shard logs" in files
    record = load_record(merged.record)
    assert record.test_run_log_url == url
