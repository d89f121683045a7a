"""Regenerate the multiple-choice samples bundled in runlocalai_bench/bundled/ and print their
canonical hashes (and those of the full sets) for the task specs.

    python scripts/make_bundled_samples.py DATA   # DATA holds mmlu/ and turkishmmlu/

- selfcheck.jsonl: 12 MMLU test questions, the 3 subjects per lm-eval category with the shortest
  five-shot prefix, one question each, gold letters cycling A, B, C, D over the subjects in
  name order (so a constant-letter answer scores exactly 25%), plus each subject's 5 dev shots.
- mmlu-sample.jsonl: the first 2 test questions of every subject plus its 5 dev shots.
- turkish-mmlu-sample.jsonl: the first 5 test questions of every subject plus its 5 dev shots.
The selection is deterministic, so rerunning on the same data rewrites identical files.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from runlocalai_bench.datasets import mmlu, turkishmmlu
from runlocalai_bench.datasets._common import (
    BUNDLED_DIR,
    DatasetConfig,
    canonical_sha256,
    write_bundled,
)
from runlocalai_bench.types import DataSource, MCItem

REPO = Path(__file__).resolve().parent.parent


def spec(slug: str) -> dict:
    with (REPO / "tasks" / f"{slug}.toml").open("rb") as fh:
        return tomllib.load(fh)


def prefix_size(pool: Sequence[MCItem]) -> int:
    return sum(len(s.question) + sum(map(len, s.choices)) for s in pool)


def selfcheck_items(items: Sequence[MCItem], fewshot: Mapping[str, Sequence[MCItem]],
                    categories: Mapping[str, str]) -> list[MCItem]:
    chosen: list[str] = []
    for category in sorted(set(categories.values())):
        members = [s for s in fewshot if categories[s] == category]
        chosen += sorted(members, key=lambda s: (prefix_size(fewshot[s]), s))[:3]
    picked = []
    for n, subject in enumerate(sorted(chosen)):
        letter = "ABCD"[n % 4]
        question = next(i for i in items if i.subtask == subject and i.answer == letter
                        and len(i.question) + sum(map(len, i.choices)) < 600)
        picked.append(question)
    return picked


def first_per_subject(items: Sequence[MCItem], n: int) -> list[MCItem]:
    counts: dict[str, int] = {}
    kept = []
    for item in items:
        if counts.get(item.subtask, 0) < n:
            counts[item.subtask] = counts.get(item.subtask, 0) + 1
            kept.append(item)
    return kept


def write(name: str, tests: Sequence[MCItem], fewshot: Mapping[str, Sequence[MCItem]]) -> None:
    subjects = sorted({t.subtask for t in tests})
    pools = {s: list(fewshot[s]) for s in subjects}
    write_bundled(BUNDLED_DIR / name, [*tests, *(shot for s in subjects for shot in pools[s])])
    size = (BUNDLED_DIR / name).stat().st_size
    print(f"{name}: {len(tests)} questions, {size} bytes, sha256 {canonical_sha256(tests, pools)}")


def main(data: Path) -> None:
    source = DataSource(kind="dir", path=str(data), allow_unpinned=True)
    mmlu_cfg = DatasetConfig.from_spec("mmlu", spec("mmlu")["dataset"])
    full = mmlu.load(mmlu_cfg, source)
    print(f"mmlu full: {len(full.items)} questions, sha256 {full.pin.content_sha256}")
    tests = [i for i in full.items if isinstance(i, MCItem)]
    pools = {k: [s for s in v if isinstance(s, MCItem)] for k, v in full.fewshot.items()}
    write("selfcheck.jsonl", selfcheck_items(tests, pools, spec("mmlu")["categories"]), pools)
    write("mmlu-sample.jsonl", first_per_subject(tests, 2), pools)

    tr_cfg = DatasetConfig.from_spec("turkish-mmlu", spec("turkish-mmlu")["dataset"])
    tr = turkishmmlu.load(tr_cfg, source)
    print(f"turkish-mmlu full: {len(tr.items)} questions, sha256 {tr.pin.content_sha256}")
    tr_tests = [i for i in tr.items if isinstance(i, MCItem)]
    tr_pools = {k: [s for s in v if isinstance(s, MCItem)] for k, v in tr.fewshot.items()}
    write("turkish-mmlu-sample.jsonl", first_per_subject(tr_tests, 5), tr_pools)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "."))
