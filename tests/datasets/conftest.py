"""The real benchmark data, in its original layouts (see the data folder's README.md).

$RLA_TEST_DATA points at it; the default is the shared copy this project is developed against.
Tests that need it are skipped, with the reason shown, where it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = Path(os.environ.get("RLA_TEST_DATA", "/work/shared/data"))
    if not (path / "mmlu").is_dir() or not (path / "turkishmmlu").is_dir():
        pytest.skip(f"benchmark data not found at {path} (set RLA_TEST_DATA)")
    return path
