"""shards.py: the partition (deterministic, balanced, complete) and the shard a run is asked for
(--shard i/N, or auto from a Slurm array, a Kubernetes Indexed Job, RLA_SHARD_INDEX)."""

from __future__ import annotations

import random

import pytest

from runlocalai_bench.errors import ConfigError
from runlocalai_bench.shards import (
    Shard,
    item_cost,
    parse_shard,
    partition,
    select_shard,
    shard_from_env,
)
from runlocalai_bench.types import CodeItem, MCItem


def mc(n: int) -> list[MCItem]:
    return [MCItem(id=f"mmlu/test/q{i:05d}", subtask=f"s{i % 7}", question="?",
                   choices=("a", "b", "c", "d"), answer="A") for i in range(n)]


def code(inputs: list[int]) -> list[CodeItem]:
    return [CodeItem(id=f"HumanEval/{i}", subtask="humaneval", prompt="", entry_point="f",
                     canonical_solution="", base_input=((1,),) * 5, plus_input=((2,),) * k)
            for i, k in enumerate(inputs)]


def test_every_item_in_exactly_one_shard_in_its_own_order():
    items = mc(1000)
    parts = partition(items, 7)
    ids = [i.id for part in parts for i in part]
    assert sorted(ids) == sorted(i.id for i in items)
    assert len(ids) == len(set(ids))
    for part in parts:
        assert [i.id for i in part] == sorted(i.id for i in part)  # items came sorted
    assert sorted(len(p) for p in parts) == [142] * 1 + [143] * 6


def test_partition_depends_on_the_ids_not_their_order():
    items = mc(500)
    shuffled = list(items)
    random.Random(4).shuffle(shuffled)
    for count in (1, 2, 3, 16):
        assert ([sorted(i.id for i in p) for p in partition(items, count)]
                == [sorted(i.id for i in p) for p in partition(shuffled, count)])


def test_partition_is_pinned():
    """lpt-v1 as documented in docs/sharding.md: a change here is a new partition name."""
    parts = partition(mc(10), 3)
    assert [[i.id[-2:] for i in p] for p in parts] == [
        ["00", "03", "06", "09"], ["01", "04", "07"], ["02", "05", "08"]]
    heavy = partition(code([1200, 10, 10, 10, 600, 600]), 2)
    # costs 13, 1, 1, 1, 7, 7: 0 → shard 0, 4 and 5 → shard 1 (14), 1 and 2 → shard 0 (15),
    # 3 → shard 1 (15)
    assert [[i.id for i in p] for p in heavy] == [
        ["HumanEval/0", "HumanEval/1", "HumanEval/2"],
        ["HumanEval/3", "HumanEval/4", "HumanEval/5"]]


def test_code_tasks_balance_by_their_inputs():
    rng = random.Random(7)
    items = code([rng.choice([10, 50, 300, 900, 1100]) for _ in range(164)])
    loads = [sum(map(item_cost, p)) for p in partition(items, 4)]
    assert max(loads) - min(loads) <= max(map(item_cost, items))
    assert item_cost(items[0]) == 1 + (5 + len(items[0].plus_input)) // 100
    assert item_cost(mc(1)[0]) == 1


def test_more_shards_than_items_leaves_some_empty():
    parts = partition(mc(2), 4)
    assert [len(p) for p in parts] == [1, 1, 0, 0]
    assert select_shard(mc(3), None) == mc(3)


@pytest.mark.parametrize("text", ["5/4", "4/4", "0/0", "-1/4", "1", "a/4", "1/b", "1/4/2", "",
                                  "0/100000"])
def test_hostile_shard_flags(text):
    with pytest.raises(ConfigError) as info:
        parse_shard(text)
    assert info.value.hint


def test_explicit_shard():
    assert shard_from_env(None, {"SLURM_ARRAY_TASK_ID": "3"}) is None
    assert shard_from_env("2/5", {}) == Shard(2, 5, "flag")
    assert str(parse_shard(" 0/1 ")) == "0/1"


SLURM = {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1",
         "SLURM_ARRAY_TASK_STEP": "1", "SLURM_ARRAY_TASK_COUNT": "4"}


@pytest.mark.parametrize(("env", "flag", "expected"), [
    (SLURM, "auto", Shard(2, 4, "slurm")),  # --array=1-4: task 3 is the third
    ({**SLURM, "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_ID": "0"}, "auto",
     Shard(0, 4, "slurm")),
    ({"SLURM_ARRAY_TASK_ID": "14", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_STEP": "2",
      "SLURM_ARRAY_TASK_MAX": "14", "SLURM_ARRAY_TASK_COUNT": "3"}, "auto",
     Shard(2, 3, "slurm")),  # --array=10-14:2
    (SLURM, "2/4", Shard(2, 4, "flag")),  # the flag agrees with the engine
    ({"JOB_COMPLETION_INDEX": "1", "RLA_SHARD_COUNT": "3"}, "auto", Shard(1, 3, "kubernetes")),
    ({"JOB_COMPLETION_INDEX": "1"}, "auto/3", Shard(1, 3, "kubernetes")),
    ({"RLA_SHARD_INDEX": "0", "RLA_SHARD_COUNT": "2"}, "auto", Shard(0, 2, "rla")),
    ({**SLURM, "RLA_SHARD_COUNT": "4"}, "auto", Shard(2, 4, "slurm")),
])
def test_shard_from_the_engines_environment(env, flag, expected):
    assert shard_from_env(flag, env) == expected


@pytest.mark.parametrize(("env", "flag", "needle"), [
    ({}, "auto", "no shard index in the environment"),
    (SLURM, "0/4", "index is 0 by --shard but 2 by slurm"),
    (SLURM, "2/8", "count is 8 by --shard but 4 by slurm"),
    ({**SLURM, "JOB_COMPLETION_INDEX": "0"}, "auto", "index is 2 by slurm but 0 by kubernetes"),
    ({**SLURM, "RLA_SHARD_COUNT": "2"}, "auto", "count is 4 by slurm but 2 by RLA_SHARD_COUNT"),
    ({"JOB_COMPLETION_INDEX": "1"}, "auto", "not the number of shards"),
    ({"JOB_COMPLETION_INDEX": "1", "RLA_SHARD_COUNT": "3"}, "auto/4", "count is 3"),
    ({"JOB_COMPLETION_INDEX": "5", "RLA_SHARD_COUNT": "3"}, "auto", "from 0 to 2"),
    ({"JOB_COMPLETION_INDEX": "x", "RLA_SHARD_COUNT": "3"}, "auto", "'x' is not a whole"),
    ({**SLURM, "SLURM_ARRAY_TASK_STEP": "2", "SLURM_ARRAY_TASK_ID": "2"}, "auto",
     "not on the array's range"),
    ({"SLURM_ARRAY_TASK_ID": "1"}, "auto", "slurm gives the shard index but not the number"),
    # --array=1,5,9 as Slurm states it: task 5 would be shard 4 of 3, task 9 shard 8
    ({"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "9",
      "SLURM_ARRAY_TASK_STEP": "1", "SLURM_ARRAY_TASK_COUNT": "3"}, "auto", "not a range"),
    # --array=0,1,3: task 1 fits a range, but shard 2 would never run
    ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "3",
      "SLURM_ARRAY_TASK_STEP": "1", "SLURM_ARRAY_TASK_COUNT": "3"}, "auto", "not a range"),
    ({"RLA_SHARD_COUNT": "0", "RLA_SHARD_INDEX": "0"}, "auto", "must be 1 to"),
    ({"JOB_COMPLETION_INDEX": "0"}, "auto/0", "must be 1 to"),
])
def test_conflicting_or_missing_sources_are_refused(env, flag, needle):
    with pytest.raises(ConfigError) as info:
        shard_from_env(flag, env)
    assert needle in info.value.message
    assert info.value.hint
