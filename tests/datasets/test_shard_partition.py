"""The lpt-v1 partition of the real pinned data, pinned: a shard runs the same items on every
machine and every rla version that writes lpt-v1 (docs/sharding.md). A change here is a new
partition name, never an edit of these hashes."""

from __future__ import annotations

import hashlib

import pytest

from runlocalai_bench.evals import load_eval
from runlocalai_bench.shards import item_cost, partition
from runlocalai_bench.types import DataSource
from tests.support.data import benchmark_data


@pytest.mark.parametrize(("slug", "folder", "sizes", "costs", "hashes"), [
    ("mmlu", "mmlu", [3511, 3511, 3510, 3510], [3511, 3511, 3510, 3510],
     ["82f63b6cc4da2cf0", "3a3d7f7d72dd2dbf", "6e740172d39f750a", "db745be3139f771c"]),
    # HumanEval+ tasks cost 1 + inputs // 100: 41 tasks each, balanced by their tests
    ("humaneval-plus", "humanevalplus", [41, 41, 41, 41], [336, 336, 336, 335],
     ["556f81d66586ebf8", "9d7a4eafdd11f138", "a12586a809e5480a", "4afd8a56639cce7c"]),
])
def test_four_shards_of_the_pinned_data(slug, folder, sizes, costs, hashes):
    data = benchmark_data(folder) / folder
    eval_ = load_eval(slug)
    try:
        dataset = eval_.load(DataSource(kind="dir", path=str(data)))
    finally:
        eval_.close()
    assert dataset.pin.pinned
    parts = partition(dataset.items, 4)
    assert [len(p) for p in parts] == sizes
    assert [sum(map(item_cost, p)) for p in parts] == costs
    assert [hashlib.sha256("".join(f"{i.id}\n" for i in p).encode()).hexdigest()[:16]
            for p in parts] == hashes
