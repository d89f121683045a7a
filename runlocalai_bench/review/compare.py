"""Two scored runs side by side. Pure functions over results blocks and samples.jsonl lines.
(Two speed rows' figures are compared in speed.py.)

A scored run, as paired data (both runs score the same items): the headline and every subtask
in percentage points, the items that flipped, and each sample whose output differs. The verdict
is the headline's alone (REFERENCE §1: the tolerance is on the score, ±2 points by default): the
headline has moved when it differs by more than the tolerance or exists in one run only.
Subtasks are diagnostics: each shows its delta, its items lost (score down) and gained (score
up), and the exact two-sided McNemar p on those flips (`stats.mcnemar_exact`), highlighted
below 0.05; at n = 100 three flips move a subject three points, so a subtask's delta never
decides by itself. The headline also carries a paired bootstrap interval on its delta over the
items both runs scored, and every score a Wilson interval. A sample disagrees when its reply
text, extracted answer, score or status differs, or when only one run has it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runlocalai_bench.errors import RecordError, RunDirError
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import Results, Scored
from runlocalai_bench.review.paired import Flip, SampleDiff, compare_samples, pair
from runlocalai_bench.review.scores import results_block
from runlocalai_bench.stats import SIGNIFICANCE, mcnemar_exact, paired_bootstrap, wilson_interval

DEFAULT_TOLERANCE_PP = 2.0
TEST_NAME = "McNemar exact, two-sided"
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
    lost: int = 0  # items both runs scored whose score went down in b
    gained: int = 0  # … and up

    @property
    def delta_pp(self) -> float | None:
        if self.a is None or self.b is None:
            return None
        return (self.b - self.a) * 100.0

    @property
    def moved(self) -> bool:
        """Beyond the tolerance, or in one run only: the verdict for the headline, a note for a
        subtask."""
        delta = self.delta_pp
        # a small epsilon: 0.1 + 0.2 style noise must not push an exact 2.0 pp over the band
        return delta is None or abs(delta) > self.tolerance_pp + 1e-9

    @property
    def p(self) -> float:
        """The exact two-sided McNemar p of the flips (1 with none)."""
        return mcnemar_exact(self.lost, self.gained)

    @property
    def significant(self) -> bool:
        return self.p < SIGNIFICANCE

    def interval(self, side: str) -> tuple[float, float] | None:
        """The 95% Wilson interval of run `side`'s ("a" or "b") score."""
        score, n = (self.a, self.n_a) if side == "a" else (self.b, self.n_b)
        return None if score is None or n <= 0 else wilson_interval(score * n, n)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "n_a": self.n_a, "n_b": self.n_b, "a": self.a, "b": self.b,
                "a_interval": _pair(self.interval("a")), "b_interval": _pair(self.interval("b")),
                "delta_pp": self.delta_pp, "moved": self.moved, "lost": self.lost,
                "gained": self.gained, "p": self.p, "significant": self.significant}


def _pair(values: tuple[float, float] | None) -> list[float] | None:
    return None if values is None else list(values)


@dataclass(frozen=True)
class RunComparison:
    headline: ScoreDelta
    subtasks: tuple[ScoreDelta, ...]
    compared: int  # samples present in both runs
    agreeing: int  # of those, samples whose output is identical
    disagreements: tuple[SampleDiff, ...]
    flips: tuple[Flip, ...] = ()
    # the paired bootstrap interval of the headline's delta in points, over the items both
    # runs scored; None when they share none
    delta_interval_pp: tuple[float, float] | None = None
    prompts_differ: tuple[str, ...] = ()  # ids of shared items asked with other prompts
    prompts_sha256: tuple[str, str] = ("", "")  # each run's prompt set (review/paired.py)

    @property
    def comparable(self) -> bool:
        """Both runs asked every shared item with the same prompt: paired data."""
        return not self.prompts_differ

    def not_comparable(self) -> str:
        """Why the two runs cannot be compared item by item ("" when they can)."""
        if self.comparable:
            return ""
        a, b = self.prompts_sha256
        return (f"not comparable: {len(self.prompts_differ)} of {self.compared} shared items "
                f"were asked with different prompts (prompts sha256 {a[:12]} ≠ {b[:12]}; "
                f"first {self.prompts_differ[0]})")

    @property
    def moved(self) -> tuple[ScoreDelta, ...]:
        """The headline and the subtasks beyond the tolerance (only the headline decides)."""
        return tuple(d for d in (self.headline, *self.subtasks) if d.moved)

    @property
    def significant(self) -> tuple[ScoreDelta, ...]:
        """The subtasks whose flips are significant (McNemar exact p < 0.05)."""
        return tuple(d for d in self.subtasks if d.significant)

    @property
    def identical_samples(self) -> bool:
        return not self.disagreements

    def method(self) -> str:
        """The tolerance and the test, as every report names them."""
        return (f"verdict: the headline within ±{self.headline.tolerance_pp:g} pp; subtasks "
                f"are diagnostics: flips lost/gained, {TEST_NAME} p (significant below "
                f"{SIGNIFICANCE:g}); headline Δ interval: paired bootstrap, 95%")

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        if not self.comparable:
            return Text(self.not_comparable(), style="bold")
        scores = Table(title=Text(self.method()), title_justify="left")
        for column, justify in (("subtask", "left"), ("n a", "right"), ("n b", "right"),
                                ("a % [95%]", "right"), ("b % [95%]", "right"),
                                ("Δ pp", "right"), ("lost", "right"), ("gained", "right"),
                                ("p", "right"), ("", "left")):
            scores.add_column(column, justify=justify)  # type: ignore[arg-type]
        for i, d in enumerate((self.headline, *self.subtasks)):
            delta = "" if d.delta_pp is None else f"{d.delta_pp:+.2f}"
            if i == 0 and self.delta_interval_pp is not None:
                low, high = self.delta_interval_pp
                delta += f" [{low:+.2f}, {high:+.2f}]"
            note = ("moved" if d.moved else "within") if i == 0 else \
                ("significant" if d.significant else "")
            scores.add_row(Text(d.name), str(d.n_a), str(d.n_b), _shown(d, "a"),
                           _shown(d, "b"), delta, str(d.lost), str(d.gained), f"{d.p:.3g}",
                           Text(note, style="bold" if note in ("moved", "significant")
                                else ""), end_section=i == 0)
        parts: list[Any] = [scores, Text(
            f"samples: {self.agreeing} of {self.compared} identical, "
            f"{len(self.disagreements)} differ, {len(self.flips)} flipped")]
        if self.flips:
            table = Table(title=Text("items that flipped"), title_justify="left")
            table.add_column("id", no_wrap=True)
            for column in ("subtask", "", "a", "b"):
                table.add_column(column)
            for f in self.flips[:SHOWN_SAMPLES]:
                table.add_row(Text(f.id), Text(f.subtask), f.direction, Text(_brief(f.a)),
                              Text(_brief(f.b)))
            parts.append(table)
            if len(self.flips) > SHOWN_SAMPLES:
                parts.append(Text(f"… {len(self.flips) - SHOWN_SAMPLES} more flipped"))
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
        return {
            "comparable": self.comparable,
            "prompts_sha256": list(self.prompts_sha256),
            "prompts_differ": list(self.prompts_differ),
            "tolerance_pp": self.headline.tolerance_pp,
            "test": TEST_NAME,
            "significance": SIGNIFICANCE,
            "headline": self.headline.to_json(),
            "delta_interval_pp": _pair(self.delta_interval_pp),
            "subtasks": [d.to_json() for d in self.subtasks],
            "moved": [d.name for d in self.moved],
            "significant": [d.name for d in self.significant],
            "samples": {"compared": self.compared, "agreeing": self.agreeing,
                        "disagreeing": len(self.disagreements), "flipped": len(self.flips)},
            "flips": [{"id": f.id, "subtask": f.subtask, "direction": f.direction,
                       "a": dict(f.a), "b": dict(f.b)} for f in self.flips],
            "disagreements": [{"id": s.id, "subtask": s.subtask, "fields": list(s.fields),
                               "a": s.a, "b": s.b} for s in self.disagreements],
        }


def _shown(d: ScoreDelta, side: str) -> str:
    score = d.a if side == "a" else d.b
    interval = d.interval(side)
    if score is None:
        return "absent"
    if interval is None:
        return f"{score * 100:.2f}"
    return f"{score * 100:.2f} [{interval[0] * 100:.1f}, {interval[1] * 100:.1f}]"


def _brief(view: Mapping[str, Any] | None) -> str:
    if view is None:
        return "absent"
    reply = str(view.get("response"))
    reply = reply if len(reply) <= 30 else reply[:29] + "…"
    return f"{view.get('extracted')!r} {view.get('score')} {view.get('status')} {reply!r}"


def compare_runs(results_a: Results | Mapping[str, Any], results_b: Results | Mapping[str, Any],
                 samples_a: Sequence[Mapping[str, Any]], samples_b: Sequence[Mapping[str, Any]],
                 *, tolerance_pp: float = DEFAULT_TOLERANCE_PP) -> RunComparison:
    """`results_*` are records' results (typed or as JSON) or results.json contents."""
    ra, rb = results_block(results_a), results_block(results_b)
    paired = pair(samples_a, samples_b)

    def counted(name: str | None) -> dict[str, int]:
        lost, gained = paired.counts(name)
        return {"lost": lost, "gained": gained}

    headline = ScoreDelta(HEADLINE, int(ra.get("n") or 0), int(rb.get("n") or 0),
                          ra.get("score"), rb.get("score"), tolerance_pp, **counted(None))
    rows: list[ScoreDelta] = []
    subs_a, subs_b = ra["subtasks"], rb["subtasks"]
    for name in sorted(set(subs_a) | set(subs_b)):
        sa, sb = subs_a.get(name) or {}, subs_b.get(name) or {}
        rows.append(ScoreDelta(name, int(sa.get("n") or 0), int(sb.get("n") or 0),
                               sa.get("score"), sb.get("score"), tolerance_pp,
                               **counted(name)))
    compared, agreeing, diffs = compare_samples(samples_a, samples_b)
    interval = None
    if paired.scores_a:
        low, high = paired_bootstrap(paired.scores_a, paired.scores_b)
        interval = (low * 100.0, high * 100.0)
    return RunComparison(headline=headline, subtasks=tuple(rows), compared=compared,
                         agreeing=agreeing, disagreements=diffs, flips=paired.flips,
                         delta_interval_pp=interval, prompts_differ=paired.prompts_differ,
                         prompts_sha256=paired.prompts_sha256)


def read_run(path: Path, record: Path | None = None
             ) -> tuple[Results | Mapping[str, Any], list[dict[str, Any]]]:
    """A run directory's scores (`record`'s, else its record.json's, else results.json's) and
    its samples."""
    run = rundir.RunDir(path)
    record = record or run.record
    if record.is_file():
        body = load_record(record).body
        results: Results | Mapping[str, Any] = body.results if isinstance(body, Scored) else {}
    elif run.results.is_file():
        results = rundir.read_json(run.results)
        if not isinstance(results, Mapping):
            raise RecordError(f"{run.results} is not the JSON object of a run's results",
                              hint="the file was edited; compare runs rla wrote")
    else:
        raise RunDirError(f"{path} has no {rundir.RECORD} or {rundir.RESULTS}",
                          hint="compare finished runs; finish this one with --resume")
    return results, rundir.read_samples(run.samples)
