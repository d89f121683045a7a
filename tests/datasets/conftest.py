"""The real benchmark data, in its original layouts (see the data folder's README.md).

tests/support/data.py finds it ($RLA_TEST_DATA, default ../shared/data beside the checkout);
tests that need it are skipped, with the reason shown, where it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.data import benchmark_data


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return benchmark_data("mmlu", "turkishmmlu")
