"""Where tests find the benchmark data the repository does not ship (the full MMLU,
TurkishMMLU and HumanEval+ copies described in the data folder's README.md).

`RLA_TEST_DATA` names the folder (relative paths from the repository root); without it, the
default is `../shared/data` beside the checkout. Where the data is absent the test is skipped
with a one-line reason, so a fresh clone's test run passes; with `RLA_REQUIRE_TEST_DATA=1` (as
`.ci/run` sets) the same absence is a failure, so CI cannot pass by skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


def data_root() -> Path:
    return REPOSITORY / os.environ.get("RLA_TEST_DATA", "../shared/data")


def benchmark_data(*needed: str) -> Path:
    """The data folder, once each of `needed` (paths inside it) exists; else skip or fail."""
    root = data_root()
    for part in needed:
        if not (root / part).exists():
            unavailable(f"benchmark data not found: {root / part} (set RLA_TEST_DATA to the"
                        " data folder)")
    return root


def unavailable(reason: str) -> NoReturn:
    """Skip the test for `reason`; fail it instead under RLA_REQUIRE_TEST_DATA=1, where what
    the full suite needs (the data, the Slurm packages) is mandatory."""
    if os.environ.get("RLA_REQUIRE_TEST_DATA") == "1":
        pytest.fail(f"{reason}; RLA_REQUIRE_TEST_DATA=1 makes it mandatory", pytrace=False)
    pytest.skip(reason)


def humanevalplus_dir() -> Path:
    """The HumanEval+ release's folder (its v0.1.10 file present), or skip or fail as above."""
    return benchmark_data("humanevalplus/HumanEvalPlus-v0.1.10.jsonl.gz") / "humanevalplus"
