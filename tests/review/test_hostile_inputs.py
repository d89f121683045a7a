"""Hostile inputs to `rla verify` beyond record.json (tests/review/test_hostile_record.py):
results.json and a samples.jsonl line nested 100,000 deep, Infinity stated alike in record.json
and results.json, and a Gist API answer nested 100,000 deep. Each is a user error naming what
is wrong (exit 1, error + hint), never 'internal error' (exit 70)."""

from __future__ import annotations

import json

import pytest

from runlocalai_bench.errors import RecordError
from runlocalai_bench.results import rundir
from runlocalai_bench.review.compare import read_run
from tests.review.conftest import failing_verify_in_a_process
from tests.support.cli import rla
from tests.support.servers import Reply, serve

DEEP = "[" * 100_000 + "]" * 100_000


def findings(path) -> list[dict]:
    code, out, err = rla("verify", str(path), "--json")
    assert code == 1 and err.startswith("error: verification failed"), err
    assert "hint: " in err and "Traceback" not in err
    return json.loads(out)["findings"]


def test_results_json_nested_100000_deep(original):
    original.results.write_text(DEEP, encoding="utf-8")
    assert ("failed", "results", "results.json") in failing_verify_in_a_process(original.path)
    (finding,) = [f for f in findings(original.path) if f["check"] == "results"]
    assert finding["status"] == "failed"
    assert "nests 100,000 levels deep, over the 64 rla reads" in finding["message"]


def test_a_samples_line_nested_100000_deep(original):
    lines = original.samples.read_text(encoding="utf-8").splitlines()
    lines[3] = DEEP
    original.samples.write_text("\n".join(lines) + "\n", encoding="utf-8")
    failing_verify_in_a_process(original.path)
    failed = [f for f in findings(original.path) if f["status"] == "failed"]
    assert any(f["check"] == "files" and f["file"] == "samples.jsonl" for f in failed)
    messages = " ".join(f["message"] for f in failed if f["check"] == "samples")
    assert "nests 100,000 levels deep" in messages, failed


def test_infinity_agreed_between_record_and_results(original):
    record = json.loads(original.record.read_text(encoding="utf-8"))
    results = json.loads(original.results.read_text(encoding="utf-8"))
    record["results"]["score"] = results["score"] = "INFINITY"
    for path, data in ((original.record, record), (original.results, results)):
        path.write_text(json.dumps(data).replace('"INFINITY"', "Infinity"), encoding="utf-8")
    assert ("failed", "schema", "record.json") in failing_verify_in_a_process(original.path)
    failed = [f for f in findings(original.path) if f["status"] == "failed"]
    assert any("holds Infinity, which is not a JSON number" in f["message"] for f in failed)


def test_a_gist_api_answer_nested_100000_deep():
    with serve(lambda seen: Reply(200, DEEP.encode(), {"Content-Type": "application/json"})) \
            as api:
        code, out, err = rla("verify", "https://gist.github.com/u/" + "ab" * 16,
                             "--github-api-url", api.url)
    assert code == 1 and "Traceback" not in err
    first, hint = err.strip().splitlines()[:2]
    assert first.startswith("error: GitHub's answer for Gist") and "nests 100,000 levels" in first
    assert hint.startswith("hint: ")
    assert rundir.RECORD not in out


def test_results_json_of_the_wrong_top_level_type(original):
    original.results.write_text("[1]", encoding="utf-8")
    (finding,) = [f for f in findings(original.path) if f["check"] == "results"]
    assert finding["status"] == "failed" and finding["file"] == "results.json"
    assert finding["message"] == "results.json holds an array, not the object of a run's results"


def test_runs_compared_read_a_results_json_of_the_wrong_type_as_a_user_error(tmp_path):
    run = rundir.RunDir(tmp_path / "run")
    run.path.mkdir()
    run.results.write_text("[1]", encoding="utf-8")
    with pytest.raises(RecordError, match="is not the JSON object of a run's results"):
        read_run(run.path)
