"""Two runs' samples as paired data: the items both scored, in the first run's order, the items
whose score flipped (both answers side by side), whether both runs asked the same prompts, and
each sample whose output differs (its reply text, extracted answer, score or status, or it is in
one run only).

Two runs are comparable item by item only when each shared item's prompt is the same text: the
prompts' sha256 is compared, and a run's prompt set is summarised by one sha256 over its items'
ids and prompt hashes in id order. Pure functions over samples.jsonl lines.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SAMPLE_FIELDS = ("response", "extracted", "score", "status")


def view(line: Mapping[str, Any]) -> dict[str, Any]:
    """What a report shows of a sample: its reply, extracted answer, score and status."""
    return {f: line.get(f) for f in SAMPLE_FIELDS}


@dataclass(frozen=True)
class SampleDiff:
    id: str
    subtask: str
    fields: tuple[str, ...]  # which of SAMPLE_FIELDS differ; ("missing",) when one run lacks it
    a: Mapping[str, Any] | None
    b: Mapping[str, Any] | None


@dataclass(frozen=True)
class Flip:
    """An item both runs scored whose score differs: both answers side by side."""

    id: str
    subtask: str
    a: Mapping[str, Any]
    b: Mapping[str, Any]

    @property
    def direction(self) -> str:
        return "lost" if float(self.b.get("score") or 0) < float(self.a.get("score") or 0) \
            else "gained"


@dataclass(frozen=True)
class Paired:
    scores_a: tuple[float, ...]  # the items both runs scored, in the first run's order
    scores_b: tuple[float, ...]
    flips: tuple[Flip, ...]
    prompts_differ: tuple[str, ...]  # ids of shared items whose prompts are not the same
    prompts_sha256: tuple[str, str]  # each run's prompt set

    @property
    def comparable(self) -> bool:
        return not self.prompts_differ

    def counts(self, subtask: str | None = None) -> tuple[int, int]:
        """(lost, gained) flips, of one subtask or all."""
        mine = [f for f in self.flips if subtask is None or f.subtask == subtask]
        lost = sum(1 for f in mine if f.direction == "lost")
        return lost, len(mine) - lost


def prompt_sha256(prompt: Any) -> str:
    return hashlib.sha256(str(prompt).encode("utf-8")).hexdigest()


def prompts_sha256(lines: Sequence[Mapping[str, Any]]) -> str:
    """One sha256 over a run's items: `id<TAB>sha256(prompt)` lines in id order."""
    rows = sorted(f"{line.get('id')}\t{prompt_sha256(line.get('prompt'))}\n" for line in lines)
    return hashlib.sha256("".join(rows).encode("utf-8")).hexdigest()


def pair(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> Paired:
    by_b = {str(line.get("id")): line for line in b}
    scores_a: list[float] = []
    scores_b: list[float] = []
    flips: list[Flip] = []
    differ: list[str] = []
    for la in a:
        item = str(la.get("id"))
        lb = by_b.get(item)
        if lb is None:
            continue
        if prompt_sha256(la.get("prompt")) != prompt_sha256(lb.get("prompt")):
            differ.append(item)
        sa, sb = float(la.get("score") or 0.0), float(lb.get("score") or 0.0)
        scores_a.append(sa)
        scores_b.append(sb)
        if sa != sb:
            flips.append(Flip(item, str(la.get("subtask")), view(la), view(lb)))
    return Paired(tuple(scores_a), tuple(scores_b), tuple(flips), tuple(differ),
                  (prompts_sha256(a), prompts_sha256(b)))


def compare_samples(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]
                    ) -> tuple[int, int, tuple[SampleDiff, ...]]:
    """(compared, agreeing, disagreements), in the first run's order, then the second's extras."""
    by_a = {str(line.get("id")): line for line in a}
    by_b = {str(line.get("id")): line for line in b}
    diffs: list[SampleDiff] = []
    compared = agreeing = 0
    for sample_id, la in by_a.items():
        lb = by_b.get(sample_id)
        if lb is None:
            diffs.append(SampleDiff(sample_id, str(la.get("subtask")), ("missing",), view(la),
                                    None))
            continue
        compared += 1
        fields = tuple(f for f in SAMPLE_FIELDS if la.get(f) != lb.get(f))
        if fields:
            diffs.append(SampleDiff(sample_id, str(la.get("subtask")), fields, view(la),
                                    view(lb)))
        else:
            agreeing += 1
    for sample_id, lb in by_b.items():
        if sample_id not in by_a:
            diffs.append(SampleDiff(sample_id, str(lb.get("subtask")), ("missing",), None,
                                    view(lb)))
    return compared, agreeing, tuple(diffs)
