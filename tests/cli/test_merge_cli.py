"""`rla merge`: shards of one run joined into a run directory equal to the unsharded run sample for
sample, and every way shards can fail to be one run refused with error: and hint:."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runlocalai_bench import schemas
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import Scored
from tests.support.cli import assert_user_error, rla
from tests.support.llama_stub import StubLlamaServer

# fields of a sample that the model's answer decides (timings and the like do not)
ANSWER = ("id", "subtask", "prompt", "response", "target", "extracted", "score", "status")


def bench(out: Path, url: str, *extra: str) -> rundir.RunDir:
    ran = rla("bench", "selfcheck", "--endpoint", url, "--model", "stub", "--output-dir",
              str(out), *extra)
    assert ran.returncode == 0, ran.stderr
    (path,) = [p for p in out.iterdir() if p.is_dir()]
    return rundir.RunDir(path)


def answers(run: rundir.RunDir) -> dict[str, tuple]:
    return {s["id"]: tuple(s.get(k) for k in ANSWER) for s in rundir.read_samples(run.samples)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three shards and the unsharded run of selfcheck against one server; shard 0 again
    against a server that answers otherwise."""
    base = tmp_path_factory.mktemp("merge")
    server = StubLlamaServer(policy=lambda p: "AB"[len(p) % 2]).start()
    other = StubLlamaServer(policy=lambda p: "D").start()
    try:
        out = {f"s{i}": bench(base / f"s{i}", server.url, "--shard", f"{i}/3")
               for i in range(3)}
        out["whole"] = bench(base / "whole", server.url)
        out["s0-other"] = bench(base / "s0-other", other.url, "--shard", "0/3")
        out["s0-seed"] = bench(base / "s0-seed", server.url, "--shard", "0/3", "--seed", "7")
        out["s0-4"] = bench(base / "s0-4", server.url, "--shard", "0/4")
    finally:
        server.stop()
        other.stop()
    return out


def test_merged_shards_equal_the_unsharded_run(runs, tmp_path):
    merged = rundir.RunDir(tmp_path / "merged")
    ran = rla("merge", str(runs["s2"].path), str(runs["s0"].path), str(runs["s1"].path),
              "-o", str(merged.path))
    assert ran.returncode == 0, ran.stderr
    assert answers(merged) == answers(runs["whole"])
    whole = json.loads(runs["whole"].results.read_text())
    results = json.loads(merged.results.read_text())
    assert results == whole  # recomputed from the joined samples: the same score, every row
    record = load_record(merged.record)
    assert schemas.validate(record.to_json(), schemas.load_schema(schemas.RECORD)) == []
    assert isinstance(record.body, Scored) and record.body.shard is None
    shards = record.body.shards
    assert shards is not None and [s.index for s in shards] == [0, 1, 2]
    for s, name in zip(shards, ("s0", "s1", "s2"), strict=True):
        own = load_record(runs[name].record)
        assert (s.run_id, s.rig, s.log_sha256, s.samples_sha256) == (
            own.run_id, own.rig, own.files["run.log"], own.files["samples.jsonl"])
        assert (merged.path / s.log).read_bytes() == runs[name].run_log.read_bytes()
        assert record.files[s.log] == s.log_sha256
    assert "--shard" not in record.command.reproduce
    assert record.body.endpoints == load_record(runs["s0"].record).body.endpoints  # one server
    assert record.body.batching == load_record(runs["whole"].record).body.batching
    assert record.command.reproduce == load_record(runs["whole"].record).command.reproduce
    assert record.request == load_record(runs["whole"].record).request
    whole_body = load_record(runs["whole"].record).body
    assert isinstance(whole_body, Scored)
    assert (record.body.endpoints, record.body.batching) == (whole_body.endpoints,
                                                             whole_body.batching)
    log = merged.run_log.read_text()
    assert "\nshard      1/3: run " in log and "merged 3 shards" in log
    verified = rla("verify", str(merged.path), "--json")
    report = json.loads(verified.stdout)
    assert verified.returncode == 0 and report["ok"], report
    again = rla("merge", str(runs["s0"].path), str(runs["s1"].path), str(runs["s2"].path),
                "-o", str(merged.path))
    assert_user_error(again, "already exists")
    (tmp_path / "file").write_text("x")
    onto_a_file = rla("merge", str(runs["s0"].path), str(runs["s1"].path),
                      str(runs["s2"].path), "-o", str(tmp_path / "file"))
    assert_user_error(onto_a_file, "not an empty directory")
    below_a_file = rla("merge", str(runs["s0"].path), str(runs["s1"].path),
                       str(runs["s2"].path), "-o", str(tmp_path / "file" / "merged"))
    assert_user_error(below_a_file, "cannot create")


@pytest.mark.parametrize(("names", "needles"), [
    (["s0", "s1"], ["shard(s) 2 of 3 are missing"]),
    (["s0", "s0", "s1", "s2"], ["appear in more than one shard with the same answer"]),
    (["s0", "s0-other", "s1", "s2"], ["answered differently", "'D'"]),
    (["s0-seed", "s1", "s2"], ["sampling.settings"]),
    (["s0-4", "s1", "s2"], ["shard.count: 4"]),
    (["whole", "s1"], ["is not a shard"]),
])
def test_shards_that_are_not_one_run_are_refused(runs, tmp_path, names, needles):
    ran = rla("merge", *(str(runs[n].path) for n in names), "-o", str(tmp_path / "m"))
    assert_user_error(ran, *needles)
    assert not (tmp_path / "m").exists()


def test_a_shard_whose_files_changed_is_refused(runs, tmp_path):
    import shutil

    copy = tmp_path / runs["s1"].id
    shutil.copytree(runs["s1"].path, copy)
    with (copy / "samples.jsonl").open("a") as fh:
        fh.write("\n")
    ran = rla("merge", str(runs["s0"].path), str(copy), str(runs["s2"].path), "-o",
              str(tmp_path / "m"))
    assert_user_error(ran, "samples.jsonl changed after its record was written")
    missing = rla("merge", str(tmp_path / "nope"), "-o", str(tmp_path / "m"))
    assert_user_error(missing, "not a run directory")


def test_a_merged_run_is_reproduced_like_any_run(runs, tmp_path):
    """`rla reproduce` reruns the whole selection (the merged record's request has no shard)
    and compares it with the joined samples."""
    from tests.review.test_reproduce import rerun

    merged = rundir.RunDir(tmp_path / "merged")
    ran = rla("merge", *(str(runs[f"s{i}"].path) for i in range(3)), "-o", str(merged.path))
    assert ran.returncode == 0, ran.stderr
    result = rerun(merged, tmp_path / "out", policy=lambda p: "AB"[len(p) % 2])
    assert result.verdict == "reproduced", result.reasons
    assert result.comparison is not None and result.comparison.compared == 12
    assert result.comparison.agreeing == 12


def test_a_shard_is_reproduced_as_that_shard(runs, tmp_path):
    from tests.review.test_reproduce import rerun

    result = rerun(runs["s1"], tmp_path / "out", policy=lambda p: "AB"[len(p) % 2])
    assert result.verdict == "reproduced", result.reasons
    assert result.comparison is not None and result.comparison.compared == 4
    again = load_record(Path(result.reproduction["path"]) / rundir.RECORD)
    assert isinstance(again.body, Scored) and again.body.shard is not None
    assert (again.body.shard.index, again.body.shard.count) == (1, 3)


def test_a_merged_run_is_indexed_and_signed_like_a_bench_run(runs, tmp_path):
    init = rla("keys", "init")
    assert init.returncode == 0, init.stderr
    merged = rundir.RunDir(tmp_path / "merged")
    ran = rla("merge", *(str(runs[f"s{i}"].path) for i in range(3)), "-o", str(merged.path))
    assert ran.returncode == 0, ran.stderr
    assert "record signed by key" in ran.stdout and (merged.path / "record.sig").is_file()
    shown = rla("runs", "show", merged.id)
    assert shown.returncode == 0, shown.stderr
    assert str(merged.path.resolve()) in shown.stdout
    verified = json.loads(rla("verify", str(merged.path), "--json").stdout)
    assert {f["check"]: f["status"] for f in verified["findings"]}["signature"] == "ok"


def test_verify_holds_each_shard_log_to_the_shard_the_record_names(runs, tmp_path):
    """A merged record rewritten consistently (files and shards[].log_sha256) so that shard 1's
    log is shard 0's: the hashes agree, the log itself does not."""
    merged = rundir.RunDir(tmp_path / "merged")
    ran = rla("merge", *(str(runs[f"s{i}"].path) for i in range(3)), "-o", str(merged.path))
    assert ran.returncode == 0, ran.stderr
    (merged.path / "shards" / "shard-1.log").write_bytes(runs["s0"].run_log.read_bytes())
    record = json.loads(merged.record.read_text())
    sha = rundir.sha256_file(merged.path / "shards" / "shard-1.log")
    record["files"]["shards/shard-1.log"] = record["shards"][1]["log_sha256"] = sha
    rundir.write_json_atomic(merged.record, record)
    report = json.loads(rla("verify", str(merged.path), "--json").stdout)
    failed = {(f["check"], f["field"]) for f in report["findings"] if f["status"] == "failed"}
    assert failed == {("log", "shards[1].run_id"), ("log", "shards[1].index")}, failed
    messages = " ".join(f["message"] for f in report["findings"])
    assert f"is a log of run {runs['s0'].id}, not of {runs['s1'].id}" in messages
