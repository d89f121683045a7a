"""Which items a full run of a benchmark scores: the id set of its pinned data.

A run covers its benchmark when its samples' ids are exactly the ids of the data the spec pins,
each once, whatever the record's counters (`partial`, `n`, `expected_n`) say: counters are the
submitter's word, the ids are the evidence. The id set is a function of the pinned content, so
it is stored once per content hash in `itemsets.json` beside this file (written by
`scripts/make_itemsets.py` from the full data, checked against it by
tests/datasets/test_coverage.py): the number of items, the items per subtask, and the sha256 of
the sorted ids, one a line. The trust gate reads it without the data; `rla verify --data-dir`
rebuilds the same set from the data itself.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ITEMSETS = Path(__file__).resolve().parent / "itemsets.json"


@dataclass(frozen=True)
class ItemSet:
    """The ids a full run scores, as counts and a hash (the ids themselves are in the data)."""

    dataset: str
    n: int
    ids_sha256: str
    subtasks: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "n": self.n, "ids_sha256": self.ids_sha256,
                "subtasks": dict(sorted(self.subtasks.items()))}


@dataclass(frozen=True)
class Sampled:
    """The id and subtask of one scored sample, as a run or a Gist states it."""

    id: str
    subtask: str


def ids_sha256(ids: Iterable[str]) -> str:
    """sha256 of the ids sorted, one a line: the same set hashes the same in any order."""
    return hashlib.sha256("".join(f"{i}\n" for i in sorted(ids)).encode("utf-8")).hexdigest()


def item_set(dataset: str, items: Sequence[Sampled]) -> ItemSet:
    return ItemSet(dataset=dataset, n=len(items), ids_sha256=ids_sha256(i.id for i in items),
                   subtasks=dict(Counter(i.subtask for i in items)))


def spec_pins(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """The content hashes a task spec pins for its full data: a multiple-choice spec's canonical
    content_sha256, HumanEval+'s release file gzipped and plain."""
    table = spec.get("dataset", {})
    keys = ("content_sha256",) if "content_sha256" in table else ("sha256", "plain_sha256")
    return tuple(str(table[key]) for key in keys if table.get(key))


@cache
def _itemsets() -> dict[str, ItemSet]:
    raw = json.loads(ITEMSETS.read_text(encoding="utf-8"))
    return {sha: ItemSet(dataset=row["dataset"], n=row["n"], ids_sha256=row["ids_sha256"],
                         subtasks=row["subtasks"]) for sha, row in raw.items()}


def pinned_item_set(spec: Mapping[str, Any], content_sha256: str | None) -> ItemSet | str:
    """The item set a run of `spec` on data hashing `content_sha256` must cover, or the reason
    there is none: the data is not what the spec pins, or rla knows no item set for it."""
    slug = spec.get("slug", "?")
    pins = spec_pins(spec)
    if content_sha256 not in pins:
        return (f"the dataset's content sha256 {str(content_sha256)[:12]} is not the one"
                f" tasks/{slug}.toml pins ({', '.join(p[:12] for p in pins) or 'none'}):"
                " a different revision or an edited copy")
    known = _itemsets().get(content_sha256)
    if known is None:
        return f"rla knows no item set for {slug}'s pinned data ({content_sha256[:12]})"
    return known


def coverage_reasons(samples: Sequence[Sampled], expected: ItemSet) -> list[str]:
    """Every way `samples` is not exactly the pinned item set, each naming what differs; empty
    when it is."""
    out = []
    counts = Counter(s.id for s in samples)
    repeated = sorted(i for i, c in counts.items() if c > 1)
    if repeated:
        out.append(f"{len(repeated)} sample id(s) appear more than once (e.g. {repeated[0]})")
    per_subtask = Counter(s.subtask for s in {s.id: s for s in samples}.values())
    unknown = sorted(set(per_subtask) - set(expected.subtasks))
    if unknown:
        out.append(f"samples of subtasks the dataset does not have: {', '.join(unknown[:5])}")
    short = [f"{name} {per_subtask.get(name, 0)}/{n}"
             for name, n in sorted(expected.subtasks.items()) if per_subtask.get(name, 0) != n]
    if short:
        more = f" and {len(short) - 5} more" if len(short) > 5 else ""
        out.append(f"the samples cover {len(counts)} of the pinned dataset's {expected.n} items"
                   f" (by subtask: {', '.join(short[:5])}{more})")
    if not out and ids_sha256(counts) != expected.ids_sha256:
        out.append(f"the sample ids are not the pinned dataset's {expected.n} item ids (same"
                   " counts, other ids)")
    return out
