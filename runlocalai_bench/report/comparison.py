"""Runs of one benchmark side by side, the first (A) against each other (B, C, …): what differs
in their cards, and for each pair the paired comparison of their scores (review/compare.py:
deltas, McNemar exact on each subject's flips, the headline's paired bootstrap interval,
whether the prompts were the same) and each flipped item; for code, a unified diff of the two
programs. The sample browser's flip filter is A against B."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from string import ascii_uppercase

from runlocalai_bench.errors import ConfigError
from runlocalai_bench.report.load import LoadedRun
from runlocalai_bench.report.model import CODE, RunView
from runlocalai_bench.results.recordtypes import Scored
from runlocalai_bench.review.compare import RunComparison, compare_runs


@dataclass(frozen=True)
class CardRow:
    key: str
    label: str
    values: tuple[str, ...]  # one per run, in order

    @property
    def differs(self) -> bool:
        return len(set(self.values)) > 1


@dataclass(frozen=True)
class FlipView:
    id: str
    subject: str
    bucket: str  # a-only: A right, the other wrong; b-only: A wrong, the other right
    diff: str | None  # the two extracted programs, for code


@dataclass(frozen=True)
class Pair:
    """A against one other run."""

    label: str  # the other run's: B, C, …
    scores: RunComparison | None  # None: speed runs, or a run without samples
    flips: tuple[FlipView, ...]
    notices: tuple[str, ...]

    @property
    def comparable(self) -> bool:
        return self.scores is None or self.scores.comparable


@dataclass(frozen=True)
class Comparison:
    card: tuple[CardRow, ...]
    pairs: tuple[Pair, ...]  # A and B first

    @property
    def flips(self) -> tuple[FlipView, ...]:
        """A against B: what the sample browser's flip filter selects."""
        return self.pairs[0].flips


MAX_RUNS = len(ascii_uppercase)


def labels(n: int) -> list[str]:
    return list(ascii_uppercase[:n])


def check_comparable(runs: list[LoadedRun]) -> None:
    """Runs of different benchmarks never share one comparison."""
    slugs = list(dict.fromkeys(run.record.benchmark.slug for run in runs))
    if len(slugs) > 1:
        raise ConfigError(f"cannot compare runs of different benchmarks: {', '.join(slugs)}",
                          hint="compare runs of one benchmark; report each other run on its "
                          "own with `rla report RUN -o FILE`")
    if len(runs) > MAX_RUNS:
        raise ConfigError(f"a report compares at most {MAX_RUNS} runs, {len(runs)} were given",
                          hint="compare fewer runs at a time")


def card_diff(views: list[RunView]) -> tuple[CardRow, ...]:
    keys = list(dict.fromkeys(f.key for view in views for f in view.card))
    label_of = {f.key: f.label for view in reversed(views) for f in view.card}
    values = [{f.key: f.value for f in view.card} for view in views]
    return tuple(CardRow(key, label_of[key], tuple(v.get(key, "—") for v in values))
                 for key in keys)


def _program_diff(a: str | None, b: str | None, label_a: str, label_b: str) -> str:
    return "".join(difflib.unified_diff((a or "").splitlines(keepends=True),
                                        (b or "").splitlines(keepends=True),
                                        fromfile=label_a, tofile=label_b))


def _speed_note(va: RunView, vb: RunView) -> str:
    note = "Speed rows have no paired test: their measured runs are shown side by side"
    ma = va.speed.median_decode if va.speed else None
    mb = vb.speed.median_decode if vb.speed else None
    if ma and mb is not None:
        note += (f"; median decode {vb.label} against {va.label}: {(mb / ma - 1) * 100:+.1f}% "
                 "(a reproduction lands within ±10%)")
    return note + "."


def build_pair(a: LoadedRun, b: LoadedRun, va: RunView, vb: RunView) -> Pair:
    if not (isinstance(a.record.body, Scored) and isinstance(b.record.body, Scored)):
        return Pair(vb.label, None, (), (_speed_note(va, vb),))
    if a.samples is None or b.samples is None:
        return Pair(vb.label, None, (), (f"Without the samples of both {va.label} and "
                                         f"{vb.label} there is no paired test and no flips: "
                                         "only the records' scores are shown.",))
    lines_a = [line.to_json() for line in a.samples]
    lines_b = [line.to_json() for line in b.samples]
    scores = compare_runs(a.record.body.results, b.record.body.results, lines_a, lines_b)
    if not scores.comparable:  # flips and paired figures of other prompts mean nothing
        return Pair(vb.label, scores, (), (f"{va.label} vs {vb.label}: "
                                           f"{scores.not_comparable()}",))
    code = a.record.benchmark.kind == CODE
    flips = tuple(FlipView(f.id, f.subtask, "a-only" if f.direction == "lost" else "b-only",
                           _program_diff(f.a.get("extracted"), f.b.get("extracted"),
                                         va.label, vb.label) if code else None)
                  for f in scores.flips)
    return Pair(vb.label, scores, flips, ())


def build_comparison(runs: list[LoadedRun], views: list[RunView]) -> Comparison:
    pairs = tuple(build_pair(runs[0], run, views[0], view)
                  for run, view in zip(runs[1:], views[1:], strict=True))
    return Comparison(card_diff(views), pairs)
