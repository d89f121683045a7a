"""Two runs side by side: the headline and every subtask in percentage points, and each sample
whose output differs. Pure functions over results blocks and samples.jsonl lines.

A subtask has moved when its score differs by more than the tolerance (±2 pp by default, the
leaderboard's verification band) or when it exists in only one run. A sample disagrees when its
reply text, extracted answer, score or status differs, or when only one run has it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runlocalai_bench.errors import RunDirError
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.review.scores import results_block

DEFAULT_TOLERANCE_PP = 2.0
SAMPLE_FIELDS = ("response", "extracted", "score", "status")
HEADLINE = "headline"
SHOWN_SAMPLES = 20


@dataclass(frozen=True)
class ScoreDelta:
    name: str
    n_a: int
    n_b: int
    a: float | None  # None: the subtask is absent from that run
    b: float | None
    tolerance_pp: float

    @property
    def delta_pp(self) -> float | None:
        if self.a is None or self.b is None:
            return None
        return (self.b - self.a) * 100.0

    @property
    def moved(self) -> bool:
        delta = self.delta_pp
        # a small epsilon: 0.1 + 0.2 style noise must not push an exact 2.0 pp over the band
        return delta is None or abs(delta) > self.tolerance_pp + 1e-9


@dataclass(frozen=True)
class SampleDiff:
    id: str
    subtask: str
    fields: tuple[str, ...]  # which of SAMPLE_FIELDS differ; ("missing",) when one run lacks it
    a: Mapping[str, Any] | None
    b: Mapping[str, Any] | None


@dataclass(frozen=True)
class RunComparison:
    headline: ScoreDelta
    subtasks: tuple[ScoreDelta, ...]
    compared: int  # samples present in both runs
    agreeing: int  # of those, samples whose output is identical
    disagreements: tuple[SampleDiff, ...]

    @property
    def moved(self) -> tuple[ScoreDelta, ...]:
        return tuple(d for d in (self.headline, *self.subtasks) if d.moved)

    @property
    def identical_samples(self) -> bool:
        return not self.disagreements

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        def pct(v: float | None) -> str:
            return "absent" if v is None else f"{v * 100:.2f}"

        tol = self.headline.tolerance_pp
        scores = Table(title=Text(f"per subtask (±{tol:g} pp)"), title_justify="left")
        for column, justify in (("subtask", "left"), ("n a", "right"), ("n b", "right"),
                                ("a %", "right"), ("b %", "right"), ("Δ pp", "right"),
                                ("", "left")):
            scores.add_column(column, justify=justify)  # type: ignore[arg-type]
        for i, d in enumerate((self.headline, *self.subtasks)):
            delta = "" if d.delta_pp is None else f"{d.delta_pp:+.2f}"
            scores.add_row(Text(d.name), str(d.n_a), str(d.n_b), pct(d.a), pct(d.b), delta,
                           "moved" if d.moved else "", end_section=i == 0)
        parts: list[Any] = [scores, Text(
            f"samples: {self.agreeing} of {self.compared} identical, "
            f"{len(self.disagreements)} differ")]
        if self.disagreements:
            table = Table(title=Text("samples that differ"), title_justify="left")
            table.add_column("id", no_wrap=True)
            for column in ("differs in", "a", "b"):
                table.add_column(column)
            for s in self.disagreements[:SHOWN_SAMPLES]:
                table.add_row(Text(s.id), Text(", ".join(s.fields)), Text(_brief(s.a)),
                              Text(_brief(s.b)))
            parts.append(table)
            if len(self.disagreements) > SHOWN_SAMPLES:
                parts.append(Text(f"… {len(self.disagreements) - SHOWN_SAMPLES} more"))
        return Group(*parts)

    def to_json(self) -> dict[str, Any]:
        def delta(d: ScoreDelta) -> dict[str, Any]:
            return {"name": d.name, "n_a": d.n_a, "n_b": d.n_b, "a": d.a, "b": d.b,
                    "delta_pp": d.delta_pp, "moved": d.moved}

        return {
            "tolerance_pp": self.headline.tolerance_pp,
            "headline": delta(self.headline),
            "subtasks": [delta(d) for d in self.subtasks],
            "moved": [d.name for d in self.moved],
            "samples": {"compared": self.compared, "agreeing": self.agreeing,
                        "disagreeing": len(self.disagreements)},
            "disagreements": [{"id": s.id, "subtask": s.subtask, "fields": list(s.fields),
                               "a": s.a, "b": s.b} for s in self.disagreements],
        }


def _brief(view: Mapping[str, Any] | None) -> str:
    if view is None:
        return "absent"
    reply = str(view.get("response"))
    reply = reply if len(reply) <= 30 else reply[:29] + "…"
    return f"{view.get('extracted')!r} {view.get('score')} {view.get('status')} {reply!r}"


def _view(line: Mapping[str, Any]) -> dict[str, Any]:
    return {f: line.get(f) for f in SAMPLE_FIELDS}


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
            diffs.append(SampleDiff(sample_id, str(la.get("subtask")), ("missing",), _view(la),
                                    None))
            continue
        compared += 1
        fields = tuple(f for f in SAMPLE_FIELDS if la.get(f) != lb.get(f))
        if fields:
            diffs.append(SampleDiff(sample_id, str(la.get("subtask")), fields, _view(la),
                                    _view(lb)))
        else:
            agreeing += 1
    for sample_id, lb in by_b.items():
        if sample_id not in by_a:
            diffs.append(SampleDiff(sample_id, str(lb.get("subtask")), ("missing",), None,
                                    _view(lb)))
    return compared, agreeing, tuple(diffs)


def compare_runs(results_a: Mapping[str, Any], results_b: Mapping[str, Any],
                 samples_a: Sequence[Mapping[str, Any]], samples_b: Sequence[Mapping[str, Any]],
                 *, tolerance_pp: float = DEFAULT_TOLERANCE_PP) -> RunComparison:
    """`results_*` are record.json `results` blocks or results.json contents."""
    ra, rb = results_block(results_a), results_block(results_b)
    headline = ScoreDelta(HEADLINE, int(ra.get("n") or 0), int(rb.get("n") or 0),
                          ra.get("score"), rb.get("score"), tolerance_pp)
    rows: list[ScoreDelta] = []
    subs_a, subs_b = ra["subtasks"], rb["subtasks"]
    for name in sorted(set(subs_a) | set(subs_b)):
        sa, sb = subs_a.get(name) or {}, subs_b.get(name) or {}
        rows.append(ScoreDelta(name, int(sa.get("n") or 0), int(sb.get("n") or 0),
                               sa.get("score"), sb.get("score"), tolerance_pp))
    compared, agreeing, diffs = compare_samples(samples_a, samples_b)
    return RunComparison(headline=headline, subtasks=tuple(rows), compared=compared,
                         agreeing=agreeing, disagreements=diffs)


def read_run(path: Path) -> tuple[Mapping[str, Any], list[dict[str, Any]]]:
    """A run directory's scores (record.json's, else results.json's) and its samples."""
    run = rundir.RunDir(path)
    if run.record.is_file():
        results = load_record(run.record).to_json().get("results") or {}
    elif run.results.is_file():
        results = rundir.read_json(run.results)
    else:
        raise RunDirError(f"{path} has no {rundir.RECORD} or {rundir.RESULTS}",
                          hint="compare finished runs; finish this one with --resume")
    return results, rundir.read_samples(run.samples)
