"""Where the tests find the benchmarks' real data: $RLA_TEST_DATA, else the shared copy this
project is developed against; a test that needs a missing file is skipped, saying where."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def humanevalplus_dir() -> Path:
    path = Path(os.environ.get("RLA_TEST_DATA", "/work/shared/data")) / "humanevalplus"
    if not (path / "HumanEvalPlus-v0.1.10.jsonl.gz").is_file():
        pytest.skip(f"HumanEval+ data not found at {path} (set RLA_TEST_DATA)")
    return path
