"""`rla bench … --shard`: each shard is a complete run directory of its own part, resumable on its
own; the parts together are the unsharded run's items, each once."""

from __future__ import annotations

import json
from pathlib import Path

from runlocalai_bench import schemas
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import ShardOf
from tests.cli.test_bench_cli import selfcheck_questions
from tests.support.cli import assert_user_error, rla
from tests.support.llama_stub import StubLlamaServer
from tests.support.servers import Reply, serve


def runs_in(out: Path) -> list[rundir.RunDir]:
    return sorted((rundir.RunDir(p) for p in out.iterdir() if p.is_dir()), key=lambda r: r.id)


def test_three_shards_cover_the_items_once_each(tmp_path):
    questions = selfcheck_questions()
    server = StubLlamaServer(policy=lambda p: "C").start()
    try:
        for i in range(3):
            ran = rla("bench", "selfcheck", "--endpoint", server.url, "--model", "stub",
                      "--output-dir", str(tmp_path / f"s{i}"), "--shard", f"{i}/3")
            assert ran.returncode == 0, ran.stderr
        auto = rla("bench", "selfcheck", "--endpoint", server.url, "--model", "stub",
                   "--output-dir", str(tmp_path / "auto"), "--shard", "auto",
                   env={"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_MIN": "1",
                        "SLURM_ARRAY_TASK_COUNT": "3"})
        assert auto.returncode == 0, auto.stderr
    finally:
        server.stop()
    parts = [[s["id"] for s in rundir.read_samples(runs_in(tmp_path / f"s{i}")[0].samples)]
             for i in range(3)]
    assert sorted(i for part in parts for i in part) == sorted(q["id"] for q in questions)
    assert [len(p) for p in parts] == [4, 4, 4]
    (auto_run,) = runs_in(tmp_path / "auto")
    assert sorted(s["id"] for s in rundir.read_samples(auto_run.samples)) == sorted(parts[1])
    assert "\nshard      1/3 (lpt-v1, from slurm)\n" in auto_run.run_log.read_text()
    record = json.loads(runs_in(tmp_path / "s2")[0].record.read_text())
    assert "--shard 2/3" in record["command"]["reproduce"]
    assert record["results"]["partial"] is True and record["results"]["n"] == 4
    assert record["shard"] == {"index": 2, "count": 3, "partition": "lpt-v1", "source": "flag"}
    assert record["shards"] is None
    auto_record = load_record(auto_run.record)
    assert auto_record.body.shard == ShardOf(index=1, count=3, partition="lpt-v1",
                                             source="slurm")
    assert schemas.validate(auto_record.to_json(), schemas.load_schema(schemas.RECORD)) == []


def test_a_shard_resumes_its_own_part(tmp_path):
    """Two shards interrupted in one output directory and index: --resume --shard 1/2 continues
    shard 1's run, not the later shard 0."""
    def shard(url: str, *flags: str):
        return rla("bench", "selfcheck", "--endpoint", url, "--model", "stub",
                   "--output-dir", str(tmp_path), *flags)

    gone = Reply(500, {"error": {"message": "gone"}})
    dying = StubLlamaServer(policy=lambda p: "B", fail=lambda n: gone if n > 2 else None)
    with serve(dying.handle) as server:
        assert_user_error(shard(server.url, "--retries", "0", "--shard", "1/2"), "--resume")
    with serve(StubLlamaServer(policy=lambda p: "B", fail=lambda n: gone).handle) as server:
        assert_user_error(shard(server.url, "--retries", "0", "--shard", "0/2"), "--resume")
    healthy = StubLlamaServer(policy=lambda p: "B")
    with serve(healthy.handle) as server:
        again = shard(server.url, "--resume", "--shard", "1/2")
    assert again.returncode == 0, again.stderr
    assert healthy.completions == 6 - 2
    done = [r for r in runs_in(tmp_path) if r.record.exists()]
    assert len(done) == 1 and len(rundir.read_samples(done[0].samples)) == 6


def test_hostile_shard_flags_are_user_errors(tmp_path):
    for flag, needle in (("5/4", "from 0 to 3"), ("0/0", "must be 1 to"), ("x", "not i/N"),
                         ("auto", "no shard index")):
        ran = rla("bench", "selfcheck", "--endpoint", "http://127.0.0.1:9", "--output-dir",
                  str(tmp_path), "--shard", flag,
                  env={"SLURM_ARRAY_TASK_ID": None, "JOB_COMPLETION_INDEX": None,
                       "RLA_SHARD_INDEX": None})
        assert_user_error(ran, needle)
    clash = rla("bench", "selfcheck", "--endpoint", "http://127.0.0.1:9", "--shard", "0/4",
                env={"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"})
    assert_user_error(clash, "index is 0 by --shard but 3 by slurm")
