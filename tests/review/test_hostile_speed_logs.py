"""A speed run's own logs and run.log under `rla verify`, made hostile: JSON nested 100,000
deep where the engine's timings, the token arrival times or a printed results object go. Each
is a finding that names the log and the field, never 'internal error' (exit 70)."""

from __future__ import annotations

import re

import pytest

from tests.review.conftest import failed, verify
from tests.review.test_speed_editor import speed_run  # noqa: F401 (fixture)

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("fact,replace", [
    ("engine_timings", lambda line: re.sub(r"\{.*\}$", "{\"t\": " + DEEP + "}", line)),
    ("arrivals_ms", lambda line: "arrivals_ms " + DEEP),
])
def test_a_run_log_fact_nested_100000_deep_is_a_finding(speed_run, fact, replace):  # noqa: F811
    log = speed_run.path / "runs" / "run-2.log"
    lines = log.read_text(encoding="utf-8").splitlines()
    lines = [replace(line) if line.startswith(fact + " ") else line for line in lines]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")

    found = failed(verify(speed_run))
    assert ("files", "runs/run-2.log", "files.runs/run-2.log") in found
    assert any(check == "log" and file == "runs/run-2.log" and field and
               field.startswith("speed.runs[1]") for check, file, field in found), found
