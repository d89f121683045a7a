from __future__ import annotations

import json

import pytest

from runlocalai_bench.errors import ConfigError, RecordError, RunDirError
from runlocalai_bench.results import rundir


def test_torn_last_line_is_ignored_and_cut_before_appending(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b"}\n{"id": "c", "resp', encoding="utf-8")
    assert [s["id"] for s in rundir.read_samples(path)] == ["a", "b"]
    log = rundir.SampleLog(path)
    log.append({"id": "c"})
    log.close()
    assert [json.loads(x)["id"] for x in path.read_text().splitlines()] == ["a", "b", "c"]


def test_garbage_line_stops_trust(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text('{"id": "a"}\nnot json\n{"id": "b"}\n', encoding="utf-8")
    assert [s["id"] for s in rundir.read_samples(path)] == ["a"]


def test_resume_refuses_a_different_configuration(tmp_path):
    run = rundir.create(tmp_path, "r1", {"slug": "mmlu", "limit": 10})
    with pytest.raises(ConfigError) as info:
        rundir.open_for_resume(run.path, {"slug": "mmlu", "limit": 20})
    assert "limit: 10 → 20" in info.value.message
    assert rundir.open_for_resume(run.path, {"slug": "mmlu", "limit": 10}).path == run.path


def test_resume_refuses_finished_and_foreign_dirs(tmp_path):
    run = rundir.create(tmp_path, "r1", {"a": 1})
    run.record.write_text("{}")
    with pytest.raises(ConfigError, match="already complete"):
        rundir.open_for_resume(run.path, {"a": 1})
    (tmp_path / "other").mkdir()
    with pytest.raises(RunDirError, match="not a resumable run"):
        rundir.open_for_resume(tmp_path / "other", {"a": 1})


def test_unwritable_output_dir_is_a_user_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RunDirError) as info:
        rundir.create(blocker / "runs", "r1", {})
    assert "--output-dir" in (info.value.hint or "")


def test_fingerprint_ignores_key_order():
    assert rundir.fingerprint({"a": 1, "b": [1, 2]}) == rundir.fingerprint({"b": [1, 2], "a": 1})
    assert rundir.fingerprint({"a": 1}) != rundir.fingerprint({"a": 2})


def test_a_generated_id_taken_in_the_same_second_gets_a_suffix(tmp_path):
    first = rundir.create(tmp_path, "20261123T010000Z-speed-abcdef", {"a": 1}, unique=True)
    second = rundir.create(tmp_path, "20261123T010000Z-speed-abcdef", {"a": 1}, unique=True)
    assert (first.id, second.id) == ("20261123T010000Z-speed-abcdef",
                                     "20261123T010000Z-speed-abcdef-2")
    assert rundir.read_json(second.config)["settings"] == {"a": 1}


def test_a_run_id_the_user_chose_is_never_changed(tmp_path):
    rundir.create(tmp_path, "mine", {"a": 1})
    with pytest.raises(RunDirError, match=r"run directory .*mine already exists"):
        rundir.create(tmp_path, "mine", {"a": 1})


def test_error_rows_are_dropped_before_a_resume_and_a_torn_tail_is_left_to_the_log(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text('{"id": "a", "status": "ok"}\n{"id": "b", "status": "error"}\n'
                    '{"id": "c", "status": "unparsed"}\n{"id": "d", "sta', encoding="utf-8")
    assert rundir.failed_lines(path) == 1
    assert rundir.drop_failed(path) == 1
    assert path.read_text() == ('{"id": "a", "status": "ok"}\n{"id": "c", "status": "unparsed"}'
                                '\n{"id": "d", "sta')
    assert rundir.drop_failed(path) == 0 and rundir.drop_failed(tmp_path / "none") == 0
    rundir.SampleLog(path).close()
    assert [s["id"] for s in rundir.read_samples(path)] == ["a", "c"]


def test_a_refused_line_with_lines_after_it_is_named_when_strict(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text('{"id": "a"}\n' + "[" * 100 + "]" * 100 + '\n{"id": "b"}\n',
                    encoding="utf-8")
    assert [s["id"] for s in rundir.read_samples(path)] == ["a"]
    with pytest.raises(RecordError, match=r"samples\.jsonl line 2 nests 100 levels deep"):
        rundir.read_samples(path, strict=True)
    path.write_text('{"id": "a"}\n{"id": "b", "x": NaN}\n', encoding="utf-8")
    assert [s["id"] for s in rundir.read_samples(path, strict=True)] == ["a"]  # a torn tail


def test_a_finished_run_with_error_rows_reopens_without_its_record(tmp_path):
    run = rundir.create(tmp_path, "r1", {"a": 1})
    run.samples.write_text('{"id": "a", "status": "error"}\n', encoding="utf-8")
    run.record.write_text("{}")
    run.results.write_text("{}")
    assert rundir.open_for_resume(run.path, {"a": 1}).path == run.path
    assert not run.record.exists() and not run.results.exists()
