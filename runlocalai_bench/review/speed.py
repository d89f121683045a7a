"""A speed row's part of `rla reproduce` (reproduce.py runs the flow): re-run `rla bench speed`
as the record ran it, and judge.

    the original → verify it (schema, files, speed gate, logs, signature); a failure ends
                   here: invalid
                 → its configuration: the profile, n_predict and (when the record's prompt is
                   not the spec's) the prompt, from its `speed` section; the seed from its
                   sampling settings; --n-ctx from its reproduction command for in-process
                   runs; the model and server are this machine's
                 → run_speed (warm-up, measured runs, re-runs at a wide spread), signed when
                   this operator has a key
                 → the four dimensions, the configuration actually used, the median decode
                   tok/s (±10%, REFERENCE §1), prefill tok/s and TTFT for information
                 → a verdict, written as reproduction.json and reproduction.md

Verdicts, first that applies: invalid (the original failed verification, or the re-run did not
use its configuration), related benchmark (a dimension differs or cannot be shown to match),
not reproduced (the re-run fails its own speed gate or did not settle, or its median decode
tok/s is beyond ±10% of the original's), reproduced.

The figures: the median decode tok/s decides, prefill tok/s and TTFT are shown for information.
The policy is REFERENCE §1: "Tok/s reproductions land within about 10% of the original", so a
re-run reproduces a speed row when its median decode tok/s is within ±10% of the original's.
Prefill and TTFT depend more on the prompt path and the transport than decode does; they are
reported, never judged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from runlocalai_bench.backends.base import Streamer
from runlocalai_bench.config import RunConfig, build_config
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.results import rundir
from runlocalai_bench.results.command import requested
from runlocalai_bench.results.recordtypes import Record, Speed, SpeedSection
from runlocalai_bench.review.dimensions import DimensionMatch
from runlocalai_bench.review.reproduce import (
    METHODOLOGY,
    Target,
    Verdict,
    fields_not_shared,
    verdict_before_figures,
)
from runlocalai_bench.review.verify import VerifyReport
from runlocalai_bench.speed.protocol import Stat, Summary
from runlocalai_bench.speed.runner import SpeedUI, run_speed
from runlocalai_bench.speed.spec import SLUG, SpeedPlan, load_speed_plan
from runlocalai_bench.types import RigInfo

# What decides what a speed run measures, as the record states it: the re-run must share each.
CONFIGURATION: tuple[tuple[str, Callable[[Record, SpeedSection], Any]], ...] = (
    *METHODOLOGY,
    ("benchmark.scoring_method", lambda r, s: r.benchmark.scoring_method),
    ("speed.profile", lambda r, s: s.profile), ("speed.n_predict", lambda r, s: s.n_predict),
    ("speed.ignore_eos", lambda r, s: s.ignore_eos), ("speed.split", lambda r, s: s.split),
    # the prompt sent is a mapping the server's tokenizer filled in, kept as it came
    ("speed.prompt.text", lambda r, s: s.prompt.get("text")),
    ("speed.prompt.tokens", lambda r, s: s.prompt.get("tokens")),
    ("speed.prompt.exact", lambda r, s: s.prompt.get("exact")),
    ("speed.protocol", lambda r, s: s.protocol),
    ("sampling.settings", lambda r, s: r.sampling.settings))


# -- the configuration of the original -------------------------------------------------------


def plan_for(record: Record, speed: SpeedSection) -> SpeedPlan:
    """The speed plan the record ran: its profile, n_predict and prompt over this rla's spec,
    which must be the record's (same sha256)."""
    profile, n_predict, text = speed.profile, speed.n_predict, speed.prompt.get("text")
    if not isinstance(text, str):
        raise ConfigError(f"{record.run_id} does not say which prompt it ran",
                          hint="the record is damaged; verify it")
    default = load_speed_plan(profile)
    plan = load_speed_plan(profile, n_predict=n_predict,
                           prompt=None if text == default.prompt else text)
    spec = record.benchmark.spec_sha256
    if plan.spec_sha256 != spec:
        raise ConfigError(f"{record.run_id} was measured under another tasks/speed.toml "
                          f"(spec sha256 {spec[:12]}, this rla's {plan.spec_sha256[:12]})",
                          hint="reproduce with the rla version that made the record")
    return plan


def rerun_flags(typed: Record, target: Target) -> dict[str, Any]:
    """`build_config` flags that re-run the record's speed configuration on `target`."""
    slug, flags = requested(typed)
    if slug != SLUG:
        raise ConfigError(f"command.reproduce runs {slug}, the record is a speed run",
                          hint="the record is inconsistent; verify it")
    in_process = target.endpoint is None
    return {
        "endpoint": target.endpoint, "model": target.model, "model_path": target.model_path,
        "output_dir": target.output_dir, "timeout": target.timeout,
        "seed": typed.sampling.settings.seed,
        "n_ctx": flags.get("n_ctx") if in_process else None,
    }


def configuration_differences(original: Record, rerun: Record) -> list[str]:
    """What decides the measurement and the re-run did not share with the original."""
    a, b = original.body, rerun.body
    assert isinstance(a, Speed) and isinstance(b, Speed)  # refuse() let only speed runs in
    return fields_not_shared((name, get(original, a.speed), get(rerun, b.speed))
                             for name, get in CONFIGURATION)


# -- the two runs' figures ---------------------------------------------------------------------


# REFERENCE §1: "Tok/s reproductions land within about 10% of the original". A fraction of the
# original's median decode tok/s, either way. Not in tasks/speed.toml: that spec's sha256 is
# pinned in every record, and the band is the editor's policy, not the run's methodology.
SPEED_TOLERANCE = 0.10
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


# -- the verdict -----------------------------------------------------------------------------


def decide(integrity: VerifyReport, configuration: Sequence[str],
           dimensions: Sequence[DimensionMatch], comparison: SpeedComparison | None,
           rerun: SpeedSection | None) -> tuple[Verdict, tuple[str, ...]]:
    """`rerun` is the re-run record's `speed` section."""
    before = verdict_before_figures(integrity, configuration, dimensions,
                                    compared=comparison is not None and rerun is not None)
    if before is not None:
        return before
    assert comparison is not None and rerun is not None  # else verdict_before_figures: "invalid"
    band = f"±{comparison.tolerance:.0%} of the original (REFERENCE §1)"
    informational = tuple(f"{d.describe()} (informational)"
                          for d in (comparison.prefill, comparison.ttft))
    refusals = list(rerun.refusals)
    if refusals:
        return "not reproduced", (*(f"the re-run fails its own speed gate: {r}"
                                    for r in refusals), comparison.decode.describe())
    if not rerun.reproduced:
        return "not reproduced", (f"the re-run did not settle ({rerun.verdict}): run it "
                                  "again on a quiet machine", comparison.decode.describe())
    if not comparison.within:
        return "not reproduced", (f"{comparison.decode.describe()}: beyond {band}",
                                  *informational)
    return "reproduced", (f"{comparison.decode.describe()}: within {band}", *informational)


# -- the run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeedPart:
    """A speed row's part of the reproduction flow (reproduce.Kind)."""

    ui: SpeedUI
    open_streamer: Callable[[RunConfig], Streamer]
    detect_rig: Callable[[], RigInfo]
    tolerance: float = SPEED_TOLERANCE

    def refuse(self, record: Record) -> None:
        if not isinstance(record.body, Speed):
            raise ConfigError(f"{record.run_id} is not a speed run",
                              hint="scored runs are reproduced by review.scored")

    def headline(self, record: Record) -> dict[str, Any]:
        assert isinstance(record.body, Speed)  # refuse() let only speed runs through
        return {"decode_tps": median_of(record.body.speed.summary, "decode_tps")}

    def rerun(self, record: Record, target: Target) -> tuple[rundir.RunDir, Record]:
        assert isinstance(record.body, Speed)
        plan = plan_for(record, record.body.speed)  # another methodology: refused before a run
        config = build_config(SLUG, rerun_flags(record, target), env=target.env, argv=target.argv)
        outcome = run_speed(config, plan, self.ui, open_streamer=self.open_streamer,
                            detect_rig=self.detect_rig)
        return outcome.run, Record.from_json(outcome.record, "the re-run's record")

    def configuration(self, original: Record, rerun: Record, original_run: rundir.RunDir,
                      rerun_run: rundir.RunDir) -> list[str]:
        return configuration_differences(original, rerun)

    def judge(self, original: Record, rerun: Record, integrity: VerifyReport,
              configuration: Sequence[str], dimensions: Sequence[DimensionMatch],
              original_run: rundir.RunDir, rerun_run: rundir.RunDir
              ) -> tuple[Verdict, tuple[str, ...], SpeedComparison]:
        assert isinstance(original.body, Speed)
        assert isinstance(rerun.body, Speed)  # run_speed writes speed records
        comparison = compare_speed(original.body.speed.summary, rerun.body.speed.summary,
                                   tolerance=self.tolerance)
        verdict, reasons = decide(integrity, configuration, dimensions, comparison,
                                  rerun.body.speed)
        return verdict, reasons, comparison

