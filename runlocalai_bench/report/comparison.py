"""Two runs of one benchmark side by side: what differs in their cards, the paired comparison of
their scores (review/compare.py: deltas, McNemar exact on each subject's flips, the headline's
paired bootstrap interval, whether the prompts were the same), and each flipped item with both
answers; for code, a unified diff of the two programs."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from runlocalai_bench.errors import ConfigError
from runlocalai_bench.report.load import LoadedRun
from runlocalai_bench.report.model import CODE, RunView
from runlocalai_bench.results.recordtypes import Scored
from runlocalai_bench.review.compare import RunComparison, compare_runs


@dataclass(frozen=True)
class CardRow:
    key: str
    label: str
    a: str
    b: str

    @property
    def differs(self) -> bool:
        return self.a != self.b


@dataclass(frozen=True)
class FlipView:
    id: str
    subject: str
    bucket: str  # a-only: A right, B wrong; b-only: A wrong, B right
    diff: str | None  # the two extracted programs, for code


@dataclass(frozen=True)
class Comparison:
    card: tuple[CardRow, ...]
    scores: RunComparison | None  # None: speed runs, or a run without samples
    flips: tuple[FlipView, ...]
    notices: tuple[str, ...]


def check_comparable(runs: list[LoadedRun]) -> None:
    """Runs of different benchmarks never share one comparison."""
    slugs = list(dict.fromkeys(run.record.benchmark.slug for run in runs))
    if len(slugs) > 1:
        raise ConfigError(f"cannot compare runs of different benchmarks: {', '.join(slugs)}",
                          hint="compare runs of one benchmark; report each other run on its "
                          "own with `rla report RUN -o FILE`")
    if len(runs) > 2:
        raise ConfigError(f"a report compares two runs, {len(runs)} were given",
                          hint="compare two runs at a time: rla report A B -o FILE")


def card_diff(a: RunView, b: RunView) -> tuple[CardRow, ...]:
    values_b = {f.key: f.value for f in b.card}
    rows = [CardRow(f.key, f.label, f.value, values_b.pop(f.key, "—")) for f in a.card]
    labels = {f.key: f.label for f in b.card}
    rows += [CardRow(key, labels[key], "—", value) for key, value in values_b.items()]
    return tuple(rows)


def _program_diff(a: str | None, b: str | None, label_a: str, label_b: str) -> str:
    return "".join(difflib.unified_diff((a or "").splitlines(keepends=True),
                                        (b or "").splitlines(keepends=True),
                                        fromfile=label_a, tofile=label_b))


def build_comparison(runs: list[LoadedRun], views: list[RunView]) -> Comparison:
    a, b = runs
    va, vb = views
    card = card_diff(va, vb)
    if not (isinstance(a.record.body, Scored) and isinstance(b.record.body, Scored)):
        return Comparison(card, None, (), ("Speed rows have no paired test: their measured "
                                           "runs are shown side by side.",))
    if a.samples is None or b.samples is None:
        return Comparison(card, None, (), ("Without both runs' samples there is no paired "
                                           "test and no flips: only the two records' scores "
                                           "are shown.",))
    lines_a = [line.to_json() for line in a.samples]
    lines_b = [line.to_json() for line in b.samples]
    scores = compare_runs(a.record.body.results, b.record.body.results, lines_a, lines_b)
    if not scores.comparable:  # flips and paired figures of other prompts mean nothing
        return Comparison(card, scores, (), (scores.not_comparable(),))
    code = a.record.benchmark.kind == CODE
    flips = tuple(FlipView(f.id, f.subtask, "a-only" if f.direction == "lost" else "b-only",
                           _program_diff(f.a.get("extracted"), f.b.get("extracted"),
                                         va.label, vb.label) if code else None)
                  for f in scores.flips)
    return Comparison(card, scores, flips, ())
