"""A hostile record.json under `rla verify`: each is one failed schema finding that says what is
wrong, and the process fails as a user error (error + hint, exit 1), never with a traceback."""

from __future__ import annotations

import json

import pytest

from tests.review.conftest import failing_verify_in_a_process
from tests.support.cli import rla

HOSTILE = {
    "deep": ("[" * 100_000 + "]" * 100_000, "nests 100,000 levels deep, over the 64 rla reads",
             None),
    "infinity": ('{"record_version": 2, "results": {"score": Infinity}}',
                 "holds Infinity, which is not a JSON number", None),
    "overflow": ('{"record_version": 2, "timings": {"wall_s": 1e999}}',
                 "holds the number 1e999, which overflows to infinity", None),
    "huge-int": ('{"record_version": 2, "results": {"n": ' + "9" * 5000 + "}}",
                 "holds an integer of 5,000 digits", None),
    "top-level-array": ("[2]", "is record version None, this rla reads versions 2 and 3", None),
    "wrong-section": ('{"record_version": 2, "benchmark": "mmlu", "files": [],'
                      ' "results": {"subtasks": {"a": {"score": "1.0"}}}}',
                      "cannot be read: $.benchmark: expected object, got string",
                      "benchmark"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_record_fails_verify_with_a_finding(case, original):
    text, message, field = HOSTILE[case]
    original.record.write_text(text, encoding="utf-8")

    where = "record.json" + (f":{field}" if field else "")
    assert ("failed", "schema", where) in failing_verify_in_a_process(original.path)
    code, out, err = rla("verify", str(original.path), "--json")
    assert code == 1 and err.startswith("error: verification failed")
    (finding,) = json.loads(out)["findings"]
    assert (finding["check"], finding["status"], finding["file"], finding["field"]) == (
        "schema", "failed", "record.json", field)
    assert message in finding["message"] and finding["hint"]
