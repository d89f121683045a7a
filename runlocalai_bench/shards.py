"""Shards: a deterministic part of a benchmark's items, so that several machines (or several
tasks of an engine people already run: a Slurm array, a Kubernetes Indexed Job, a GitHub Actions
matrix) each run one part and `rla merge` joins them into one row.

Two pure functions, both documented in docs/sharding.md:

- `partition(items, count)`: which shard each item belongs to. Longest-processing-time greedy
  bin packing ("lpt-v1"): items sorted by expected cost, largest first, ties by item id (code
  point order); each goes to the shard with the least cost so far, ties to the lowest index.
  The cost is a function of the item alone (`item_cost`): a multiple-choice question costs 1, a
  HumanEval+ task 1 + its number of base and plus inputs / `INPUTS_PER_UNIT`. The same items give
  the same shards on every machine and every rla version that writes "lpt-v1"; a different
  algorithm or cost would be a new name, recorded in each shard's record.
- `shard_from_env(flag, env)`: the shard a run is asked for, from `--shard i/N`, or with
  `--shard auto` from the launching engine's environment (`ENGINE_VARIABLES`). Sources that
  disagree are refused, naming both.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from runlocalai_bench.errors import ConfigError
from runlocalai_bench.types import CodeItem, Item

PARTITION = "lpt-v1"
# A HumanEval+ task's generation counts as one unit; its tests add a unit per this many inputs
# (the plus inputs dominate: 122,683 over 164 tasks, from 8 to ~1,100 a task).
INPUTS_PER_UNIT = 100
MAX_SHARDS = 10_000

# What `--shard auto` reads, engine by engine (docs/sharding.md shows each engine's script).
ENGINE_VARIABLES = {
    "slurm": ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_STEP",
              "SLURM_ARRAY_TASK_COUNT"),
    "kubernetes": ("JOB_COMPLETION_INDEX", "RLA_SHARD_COUNT"),
    "rla": ("RLA_SHARD_INDEX", "RLA_SHARD_COUNT"),  # a GitHub Actions matrix sets these
}

T = TypeVar("T", bound=Item)


@dataclass(frozen=True)
class Shard:
    """Shard `index` (0-based) of `count`; written `index/count`."""

    index: int
    count: int
    source: str = "flag"  # where the index came from: flag, slurm, kubernetes, rla

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def item_cost(item: Item) -> int:
    """The expected cost of one item in whole units, from the pinned data alone."""
    if isinstance(item, CodeItem):
        return 1 + (len(item.base_input) + len(item.plus_input)) // INPUTS_PER_UNIT
    return 1


def partition(items: Sequence[T], count: int) -> list[list[T]]:
    """The items of each of `count` shards, each shard in the items' own order (lpt-v1)."""
    if count < 1:
        raise ValueError("a partition needs at least one shard")
    order = sorted(range(len(items)), key=lambda i: (-item_cost(items[i]), items[i].id))
    loads = [(0, shard) for shard in range(count)]  # a heap: least cost, then lowest index
    owner = [0] * len(items)
    for i in order:
        load, shard = heapq.heappop(loads)
        owner[i] = shard
        heapq.heappush(loads, (load + item_cost(items[i]), shard))
    out: list[list[T]] = [[] for _ in range(count)]
    for i, item in enumerate(items):
        out[owner[i]].append(item)
    return out


def select_shard(items: Sequence[T], shard: Shard | None) -> list[T]:
    return list(items) if shard is None else partition(items, shard.count)[shard.index]


def parse_shard(text: str, source: str = "flag") -> Shard:
    """`i/N` with 0 ≤ i < N, as --shard or RLA_SHARD_INDEX/RLA_SHARD_COUNT give it."""
    index, sep, count = text.strip().partition("/")
    if not sep:
        raise _bad(text, "it is not i/N")
    i, n = _int(index, text), _int(count, text)
    return _checked(i, n, source, text)


def shard_from_env(flag: str | None, env: Mapping[str, str]) -> Shard | None:
    """The shard a run is asked for: None without --shard; `--shard i/N` as given; `--shard
    auto` (or `auto/N`: the count, for engines that state only an index) from the launching
    engine's environment. An explicit i/N that the engine's environment contradicts, or two
    engines that disagree, are refused naming both."""
    if flag is None:
        return None
    found = _engine_shards(env)
    text = flag.strip()
    if text == "auto" or text.startswith("auto/"):
        count = _int(text.partition("/")[2], flag) if "/" in text else None
        return _agree([*found, *([("--shard auto/N", None, count)] if count is not None else [])],
                      flag)
    shard = parse_shard(text)
    return _agree([("--shard", shard.index, shard.count), *found], flag)


def _engine_shards(env: Mapping[str, str]) -> list[tuple[str, int | None, int | None]]:
    """(engine, index, count or None) for every engine whose variables are set."""
    out: list[tuple[str, int | None, int | None]] = []
    count = env.get("RLA_SHARD_COUNT")
    rla_count = _int(count, f"RLA_SHARD_COUNT={count}") if count is not None else None
    if env.get("SLURM_ARRAY_TASK_ID") is not None:
        out.append(("slurm", *_slurm(env)))
    if env.get("JOB_COMPLETION_INDEX") is not None:
        text = env["JOB_COMPLETION_INDEX"]
        out.append(("kubernetes", _int(text, f"JOB_COMPLETION_INDEX={text}"), rla_count))
    if env.get("RLA_SHARD_INDEX") is not None:
        text = env["RLA_SHARD_INDEX"]
        out.append(("rla", _int(text, f"RLA_SHARD_INDEX={text}"), rla_count))
    if rla_count is not None and not any(name != "slurm" for name, _, _ in out):
        # beside a Slurm array (or alone) it is a count of its own, checked against the rest
        out.append(("RLA_SHARD_COUNT", None, rla_count))
    return out


def _slurm(env: Mapping[str, str]) -> tuple[int, int | None]:
    """A Slurm array task's position: (ID - MIN) / STEP of SLURM_ARRAY_TASK_COUNT tasks, so
    `--array=1-4` gives shards 0..3 of 4. A list (`--array=1,5,9`) states MIN, MAX and COUNT but
    STEP 1, so its tasks have no such position: it is refused by MAX, which a range's COUNT fits."""
    values = {}
    for name, default in (("SLURM_ARRAY_TASK_ID", None), ("SLURM_ARRAY_TASK_MIN", "0"),
                          ("SLURM_ARRAY_TASK_STEP", "1"), ("SLURM_ARRAY_TASK_COUNT", None),
                          ("SLURM_ARRAY_TASK_MAX", None)):
        text = env.get(name, default)
        values[name] = None if text is None else _int(text, f"{name}={text}")
    task, low, step = (values["SLURM_ARRAY_TASK_ID"], values["SLURM_ARRAY_TASK_MIN"],
                       values["SLURM_ARRAY_TASK_STEP"])
    assert task is not None and low is not None and step is not None
    if step < 1 or (task - low) % step:
        raise ConfigError(f"Slurm array task {task} is not on the array's range (min {low},"
                          f" step {step})", hint="submit the array as a range: --array=0-N")
    high, count = values["SLURM_ARRAY_TASK_MAX"], values["SLURM_ARRAY_TASK_COUNT"]
    if high is not None and count is not None and (high - low) // step + 1 != count:
        raise ConfigError(f"the Slurm array is not a range: {count} tasks from {low} to {high}"
                          f" (step {step})",
                          hint="submit the array as a range, --array=0-N or --array=A-B:STEP,"
                          " not a list of task ids")
    return (task - low) // step, count


def _agree(sources: Sequence[tuple[str, int | None, int | None]], flag: str) -> Shard:
    """The one shard every source states, (name, index or None, count or None) each."""
    indexed = [(name, i) for name, i, _ in sources if i is not None]
    counted = [(name, n) for name, _, n in sources if n is not None]
    for values, what in ((indexed, "index"), (counted, "count")):
        first = values[0] if values else None
        clash = next(((n, v) for n, v in values if first and v != first[1]), None)
        if first and clash:
            raise ConfigError(f"the shard {what} is {first[1]} by {first[0]} but {clash[1]} by"
                              f" {clash[0]}",
                              hint="give one source: --shard auto inside an engine's job,"
                              " --shard i/N outside one (docs/sharding.md)")
    if not indexed:
        raise ConfigError(f"--shard {flag}: no shard index in the environment",
                          hint="inside a Slurm array, a Kubernetes Indexed Job or with"
                          " RLA_SHARD_INDEX set; elsewhere --shard i/N (docs/sharding.md)")
    if not counted:
        raise ConfigError(f"--shard {flag}: {indexed[0][0]} gives the shard index but not the"
                          " number of shards",
                          hint="set RLA_SHARD_COUNT, or pass --shard auto/N")
    name = indexed[0][0]
    return _checked(indexed[0][1], counted[0][1], "flag" if name == "--shard" else name, flag)


def _checked(index: int, count: int, source: str, text: str) -> Shard:
    if not 1 <= count <= MAX_SHARDS:
        raise _bad(text, f"the number of shards must be 1 to {MAX_SHARDS}")
    if not 0 <= index < count:
        raise _bad(text, f"shard indexes run from 0 to {count - 1}")
    return Shard(index=index, count=count, source=source)


def _int(text: str, whole: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise _bad(whole, f"{text.strip()!r} is not a whole number") from None


def _bad(text: str, why: str) -> ConfigError:
    return ConfigError(f"--shard {text}: {why}",
                       hint="--shard i/N runs part i of N, counted from 0: --shard 0/4 … 3/4;"
                       " or --shard auto inside a Slurm array or Kubernetes Indexed Job")
