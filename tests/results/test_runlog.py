"""run.log's format: each fact line written and read back by results/runlog.py, and logs written
by the previous version still verify."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from runlocalai_bench.results import runlog
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import Scored, Speed
from runlocalai_bench.results.runlog import (
    ProgressLine,
    ScoredHeadline,
    SpeedHeadline,
    SpeedRunLine,
    Title,
    closing_line,
)
from runlocalai_bench.review.logcheck import check_log, check_run_log, check_speed_run_log

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runlog"


def test_title_round_trips_and_marks_sessions():
    first = Title(version="0.4.0", run_id="20260101T000000Z-mmlu-abc123",
                  started_at="2026-01-01T00:00:00+00:00")
    second = Title(version="0.4.1", run_id=first.run_id, started_at="2026-01-02T00:00:00+00:00")
    assert Title.parse(first.line()) == first
    assert Title.parse("# rla 0.4.0 speed run-1 2026-01-01") is None
    lines = [first.line(), "samples    3", closing_line("x"),
             second.line(), "samples    3 (1 done, resuming)", closing_line("y")]
    assert runlog.titles(lines) == [first, second]
    assert runlog.last_session(lines) == lines[3:]
    assert runlog.is_closed(lines) and not runlog.is_closed(lines[:-1])
    assert not runlog.is_closed([])


def test_header_fields_round_trip():
    values = {
        "command": "rla bench mmlu --endpoint http://127.0.0.1:8080",
        "benchmark": runlog.benchmark_value("mmlu", "ab" * 32),
        "rig": "llama.cpp-b1 cpu-epyc",
        "data": runlog.data_value("cais/mmlu", "hub", "cd" * 32, pinned=False),
        "samples": runlog.samples_value(14042, 12),
    }
    lines = [runlog.field_line(name, value) for name, value in values.items()]
    assert lines[1] == f"benchmark  mmlu (spec sha256 {'ab' * 6})"
    assert lines[4] == "samples    14042 (12 done, resuming)"
    assert runlog.fields(lines, values) == values
    assert runlog.fields(lines, ("rig",)) == {"rig": values["rig"]}
    assert runlog.parse_benchmark(values["benchmark"]) == ("mmlu", "ab" * 6)
    assert runlog.parse_data_sha256(values["data"]) == "cd" * 6
    assert values["data"].endswith(" UNPINNED")
    assert runlog.parse_samples(values["samples"]) == 14042
    speed = runlog.speed_benchmark_value("speed", "pp512", "ef" * 32)
    assert runlog.parse_speed_benchmark(speed) == ("speed", "pp512", "ef" * 6)
    assert runlog.parse_benchmark(speed) is None


def test_progress_lines_round_trip():
    final = ProgressLine(done=12, total=14, elapsed_s=3.25, rate=3.7, errors=1, final=True)
    assert final.line() == "progress 12/14 (86%) elapsed 3.2s rate 3.70/s errors 1 (final)"
    assert ProgressLine.parse_final(final.line()) == (12, 14)
    assert ProgressLine.parse_final(replace(final, final=False).line()) is None
    assert ProgressLine.parse_final(ProgressLine.start(0, 14)) is None


@pytest.mark.parametrize("partial", [False, True])
def test_scored_headline_round_trips(partial):
    head = ScoredHeadline(slug="humaneval-plus", metric="pass@1", score_pct=41.46,
                          stderr_pct=3.85, n=164, partial=partial)
    assert ScoredHeadline.parse(head.line()) == head
    assert ScoredHeadline.parse("progress 1/2 (50%) elapsed 1.0s") is None


def test_speed_lines_round_trip():
    counted = SpeedRunLine("run-1", 41.0, "engine", 150.25, 88.0, 128, counted=True)
    warm = SpeedRunLine("warmup-1", None, None, None, None, None, counted=False)
    assert SpeedRunLine.parse(counted.line()) == SpeedRunLine("run-1", 41.0, "engine")
    assert SpeedRunLine.parse(warm.line()) == SpeedRunLine("warmup-1", None, "-")
    assert warm.line().endswith("(warm-up, discarded)")
    head = SpeedHeadline("standard", 40.0, 0.025, True, "high")
    assert head.line() == ("speed (standard)  decode 40.0 tok/s  spread 2.5%  reproduced true,"
                           " confidence high")
    assert SpeedHeadline.parse(head.line()) == SpeedHeadline("standard", 40.0)
    line = runlog.logs_sha_line("0123456789ab", ["runs/run-1.log", "runs/run-2.log"])
    assert runlog.parse_logs_sha(line) == "0123456789ab"


def test_a_speed_runs_own_logs_are_the_only_other_paths():
    assert runlog.is_speed_run_log("runs/run-1.log")
    assert runlog.is_speed_run_log("runs/warmup-1.log")
    for name in ("run.log", "runs/../record.json", "runs/-1.log", "runs/Run-1.log",
                 "other/run-1.log", "runs/run-1.log.txt"):
        assert not runlog.is_speed_run_log(name)


def test_logs_written_by_the_previous_version_still_verify():
    """run.log and record.json of a scored and a speed run as rla wrote them before the format
    moved into runlog.py (tests/fixtures/runlog/)."""
    scored = FIXTURES / "scored"
    record = load_record(scored / "record.json")
    assert isinstance(record.body, Scored)
    assert check_log((scored / "run.log").read_text(), record, record.body) == []
    speed = FIXTURES / "speed"
    record = load_record(speed / "record.json")
    assert isinstance(record.body, Speed)
    section = record.body.speed
    assert check_speed_run_log((speed / "run.log").read_text(), record, section) == []
    entries = [*section.warmup, *section.runs]
    for i, entry in enumerate(entries):
        text = (speed / entry.log).read_text()
        assert check_run_log(text, entry, f"speed.runs[{i}]") == []


def test_a_printed_object_the_bounded_reader_refuses_is_no_printed_object():
    deep = "[" * 100_000 + "]" * 100_000
    assert runlog.last_json_object(["{", f'"score": {deep}', "}"], "score") is None
    assert runlog.last_json_object(["{", '"score": NaN', "}"], "score") is None
    assert runlog.last_json_object(["{", '"score": 0.5', "}"], "score") == {"score": 0.5}
