"""Two runs side by side, a part for each kind. Pure functions over results blocks,
samples.jsonl lines and record `speed` summaries.

A scored run: the headline and every subtask in percentage points, and each sample whose output
differs. A subtask has moved when its score differs by more than the tolerance (±2 pp by
default, the leaderboard's verification band) or when it exists in only one run. A sample
disagrees when its reply text, extracted answer, score or status differs, or when only one run
has it.

A speed run: the median decode tok/s decides, prefill tok/s and TTFT are shown for information.
The policy is REFERENCE §1: "Tok/s reproductions land within about 10% of the original", so a
re-run reproduces a speed row when its median decode tok/s is within ±10% of the original's.
Prefill and TTFT depend more on the prompt path and the transport than decode does; they are
reported, never judged.
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
from runlocalai_bench.speed.protocol import Stat, Summary

DEFAULT_TOLERANCE_PP = 2.0
# REFERENCE §1: "Tok/s reproductions land within about 10% of the original". A fraction of the
# original's median decode tok/s, either way. Not in tasks/speed.toml: that spec's sha256 is
# pinned in every record, and the band is the editor's policy, not the run's methodology.
SPEED_TOLERANCE = 0.10
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


# -- two speed runs ------------------------------------------------------------------------


FIGURES = (("decode", "decode_tps", "tok/s"), ("prefill", "prefill_tps", "tok/s"),
           ("TTFT", "ttft_ms", "ms"))


@dataclass(frozen=True)
class FigureDelta:
    name: str  # decode | prefill | TTFT
    unit: str
    a: float | None  # the original's median; None when the record has none
    b: float | None  # the re-run's

    @property
    def ratio(self) -> float | None:
        if self.a is None or self.b is None or self.a <= 0:
            return None
        return self.b / self.a

    @property
    def change(self) -> float | None:
        """(b - a) / a: +0.05 is 5% higher."""
        ratio = self.ratio
        return None if ratio is None else ratio - 1.0

    def describe(self) -> str:
        if self.a is None or self.b is None:
            return f"{self.name} {_num(self.a)} → {_num(self.b)} {self.unit}"
        change = self.change
        shown = "" if change is None else f" (×{self.ratio:.2f}, {change * 100:+.1f}%)"
        return f"{self.name} {self.a:.1f} → {self.b:.1f} {self.unit}{shown}"


@dataclass(frozen=True)
class SpeedComparison:
    decode: FigureDelta
    prefill: FigureDelta
    ttft: FigureDelta
    tolerance: float = SPEED_TOLERANCE

    @property
    def within(self) -> bool:
        """The re-run's median decode tok/s is within ±tolerance of the original's."""
        change = self.decode.change
        # an epsilon: 440 / 400 is 1.1000000000000001, which must not fall outside ±10%
        return change is not None and abs(change) <= self.tolerance + 1e-9

    def __rich__(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=Text(f"speed (median of the counted runs; decode within "
                                 f"±{self.tolerance:.0%})"), title_justify="left")
        for column, justify in (("", "left"), ("original", "right"), ("re-run", "right"),
                                ("ratio", "right"), ("change", "right"), ("", "left")):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for d in (self.decode, self.prefill, self.ttft):
            judged = d is self.decode
            verdict = ("within" if self.within else "moved") if judged else "informational"
            table.add_row(f"{d.name} {d.unit}", _num(d.a), _num(d.b),
                          "" if d.ratio is None else f"×{d.ratio:.2f}",
                          "" if d.change is None else f"{d.change * 100:+.1f}%", verdict)
        return table

    def to_json(self) -> dict[str, Any]:
        def figure(d: FigureDelta) -> dict[str, Any]:
            return {"unit": d.unit, "original": d.a, "reproduction": d.b, "ratio": d.ratio,
                    "change": d.change}

        return {"tolerance": self.tolerance, "within": self.within,
                "decode_tps": figure(self.decode), "prefill_tps": figure(self.prefill),
                "ttft_ms": figure(self.ttft)}


def _num(value: float | None) -> str:
    return "absent" if value is None else f"{value:.1f}"


def median_of(summary: Summary, key: str) -> float | None:
    """The median of one figure of the counted runs (decode_tps, prefill_tps, ttft_ms)."""
    stat: Stat = getattr(summary, key)
    return None if stat.median is None else float(stat.median)


def compare_speed(original: Summary, rerun: Summary, *,
                  tolerance: float = SPEED_TOLERANCE) -> SpeedComparison:
    """`original` and `rerun` are the records' speed summaries."""
    decode, prefill, ttft = (FigureDelta(name, unit, median_of(original, key),
                                         median_of(rerun, key)) for name, key, unit in FIGURES)
    return SpeedComparison(decode, prefill, ttft, tolerance)
