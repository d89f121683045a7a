"""A scored run's part of `rla reproduce` (reproduce.py runs the flow): re-run its exact
configuration here and judge the figures.

    its configuration: the slug and spec, the data pin, the prompt style, the sampling
    settings from the record; limit, limit per subtask, concurrency and n_ctx from
    record.request (a version 2 record has none: from its reproduction command,
    results/command.py); the model and server are this machine's
    → run_benchmark
    → the headline (±2 pp), every subtask as a diagnostic (flips, McNemar exact p), each
      sample

A run whose settings made its greedy output depend on the run (several requests in flight, the
prompt cache) is not copied, and another methodology (the spec's sha256) is refused, both
before anything runs. The figures' verdict: not reproduced (the headline moved past the
tolerance), verified on the editor's rig (within, and model, quantization and runtime match
while the hardware alone differs), else reproduced. A subtask never decides: one whose flips
are significant is named among the reasons as a diagnostic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from runlocalai_bench.backends.base import Backend
from runlocalai_bench.config import RunConfig, build_config
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.evals import KINDS
from runlocalai_bench.pipeline import RunUI, run_benchmark
from runlocalai_bench.results import rundir
from runlocalai_bench.results.command import requested
from runlocalai_bench.results.recordtypes import Record, Scored
from runlocalai_bench.review.compare import (
    DEFAULT_TOLERANCE_PP,
    TEST_NAME,
    RunComparison,
    compare_runs,
)
from runlocalai_bench.review.dimensions import DimensionMatch
from runlocalai_bench.review.reproduce import (
    METHODOLOGY,
    Target,
    Verdict,
    fields_not_shared,
    own_rig,
    verdict_before_figures,
)
from runlocalai_bench.review.rescore import data_source_for, eval_for
from runlocalai_bench.review.verify import VerifyReport
from runlocalai_bench.runtime import greedy
from runlocalai_bench.shards import PARTITION
from runlocalai_bench.types import RigInfo

# What decides what a scored run computes, as the record states it: the re-run must share each.
CONFIGURATION: tuple[tuple[str, Callable[[Record, Scored], Any]], ...] = (
    *METHODOLOGY,
    ("benchmark.prompt_style", lambda r, s: r.benchmark.prompt_style),
    ("dataset.content_sha256", lambda r, s: s.dataset.content_sha256),
    ("sampling.settings", lambda r, s: r.sampling.settings),
    ("results.expected_n", lambda r, s: s.results.expected_n))


# -- the configuration of the original -------------------------------------------------------


def rerun_flags(record: Record, target: Target) -> tuple[str, dict[str, Any]]:
    """The slug and `build_config` flags that re-run the record's configuration on `target`."""
    scored = record.body
    assert isinstance(scored, Scored)  # ScoredPart.refuse let only scored runs in
    slug, flags = requested(record)
    if slug != record.benchmark.slug:
        raise ConfigError(f"command.reproduce runs {slug}, the record is of "
                          f"{record.benchmark.slug}", hint="the record is inconsistent; verify it")
    source = data_source_for(scored.dataset, target.data_dir)
    settings = record.sampling.settings
    in_process = target.endpoint is None
    flags.update({
        "endpoint": target.endpoint, "model": target.model, "model_path": target.model_path,
        "output_dir": target.output_dir, "timeout": target.timeout,
        "prompt_style": record.benchmark.prompt_style,
        "seed": settings.seed, "cache_prompt": settings.cache_prompt,
        "sample": True if source.kind == "bundled" else None,
        "data_dir": source.path if source.kind == "dir" else None,
        "allow_unpinned": True if source.allow_unpinned else None,
    })
    if in_process:
        flags["concurrency"] = None  # in-process runs are sequential
    if scored.shard is not None:  # a shard (record version 4) reruns its own part
        if scored.shard.partition != PARTITION:
            raise ConfigError(f"{record.run_id} is a shard of partition"
                              f" {scored.shard.partition!r}; this rla partitions by {PARTITION}",
                              hint="reproduce it with the rla version that ran it, or"
                              " reproduce the merged run")
        flags["shard"] = f"{scored.shard.index}/{scored.shard.count}"
    return slug, flags


def configuration_differences(original: Record, rerun: Record,
                              ids_a: Sequence[str], ids_b: Sequence[str]) -> list[str]:
    """Result-deciding settings the re-run did not share with the original."""
    a, b = original.body, rerun.body
    assert isinstance(a, Scored) and isinstance(b, Scored)  # refuse() let only scored runs in
    out = fields_not_shared((name, get(original, a), get(rerun, b))
                            for name, get in CONFIGURATION)
    if set(ids_a) != set(ids_b):
        out.append(f"the questions differ: {len(set(ids_a) - set(ids_b))} only in the original,"
                   f" {len(set(ids_b) - set(ids_a))} only in the re-run")
    return out


# -- the verdict -----------------------------------------------------------------------------


def _pp(value: float | None) -> str:
    return "absent" if value is None else f"{value * 100:.1f}%"


def decide(integrity: VerifyReport, configuration: Sequence[str],
           dimensions: Sequence[DimensionMatch],
           comparison: RunComparison | None) -> tuple[Verdict, tuple[str, ...]]:
    """A quality row's verdict: the headline within the tolerance reproduces it (on the
    editor's rig when the hardware alone differs); subtasks are named, never decide."""
    before = verdict_before_figures(integrity, configuration, dimensions,
                                    compared=comparison is not None, other_hardware=True)
    if before is not None:
        return before
    assert comparison is not None  # verdict_before_figures said "invalid" without one
    head, tol = comparison.headline, comparison.headline.tolerance_pp
    diagnostics = _diagnostics(comparison)
    if head.moved:
        moved = (f"headline moved {head.delta_pp:+.1f} pp ({_pp(head.a)} → {_pp(head.b)}), "
                 f"beyond ±{tol:g} pp" if head.delta_pp is not None else
                 f"headline exists in only one run ({_pp(head.a)} → {_pp(head.b)})")
        return "not reproduced", (moved, *diagnostics)
    same = ("identical outputs on all" if comparison.identical_samples
            else f"{comparison.agreeing} of {comparison.compared} samples identical,")
    reasons = (f"headline within ±{tol:g} pp ({head.delta_pp:+.1f} pp, {_pp(head.a)} → "
               f"{_pp(head.b)}); {same} {comparison.compared} samples", *diagnostics)
    hardware = next((d for d in dimensions if d.name == "hardware"), None)
    if own_rig(dimensions) and hardware is not None:
        return "verified on the editor's rig", (
            *reasons, f"only the hardware differs: original {hardware.original}, "
            f"re-run {hardware.local}")
    return "reproduced", reasons


def _diagnostics(comparison: RunComparison) -> tuple[str, ...]:
    """Subtasks whose flips are significant, named as diagnostics of the verdict."""
    return tuple(f"diagnostic, not the verdict: {d.name} {d.delta_pp or 0:+.1f} pp, "
                 f"{d.lost} lost / {d.gained} gained, {TEST_NAME} p = {d.p:.3g}"
                 for d in comparison.significant)


def refuse_nondeterministic(record: Record) -> None:
    """A run whose settings made its greedy output depend on the run is not copied: a re-run
    with the same settings could not confirm or refute its score."""
    reasons = greedy.request_reasons(concurrency=record.runtime.concurrency,
                                     cache_prompt=record.sampling.settings.cache_prompt)
    if reasons:
        why = " and ".join(r.split(";")[0] for r in reasons)
        raise ConfigError(f"{record.run_id} is not reproduced: {why}",
                          hint="a leaderboard row runs with --config leaderboard: ask its"
                          " submitter to rerun it so")


# -- the run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoredPart:
    """A scored run's part of the reproduction flow (reproduce.Kind)."""

    ui: RunUI
    open_backend: Callable[[RunConfig], Backend]
    detect_rig: Callable[[], RigInfo]
    tolerance_pp: float = DEFAULT_TOLERANCE_PP

    def refuse(self, record: Record) -> None:
        if record.benchmark.kind not in KINDS:
            raise ConfigError(f"{record.run_id} is not a scored benchmark run",
                              hint="speed rows are reproduced by review.speed")
        eval_for(record).close()  # refuse another methodology before anything runs
        refuse_nondeterministic(record)

    def headline(self, record: Record) -> dict[str, Any]:
        assert isinstance(record.body, Scored)  # refuse() let only scored runs through
        return {"score": record.body.results.score}

    def rerun(self, record: Record, target: Target) -> tuple[rundir.RunDir, Record]:
        slug, flags = rerun_flags(record, target)
        config = build_config(slug, flags, env=target.env, argv=target.argv)
        outcome = run_benchmark(config, self.ui, open_backend=self.open_backend,
                                detect_rig=self.detect_rig)
        return outcome.run, Record.from_json(outcome.record, "the re-run's record")

    def configuration(self, original: Record, rerun: Record, original_run: rundir.RunDir,
                      rerun_run: rundir.RunDir) -> list[str]:
        return configuration_differences(
            original, rerun,
            [str(s.get("id")) for s in rundir.read_samples(original_run.samples)],
            [str(s.get("id")) for s in rundir.read_samples(rerun_run.samples)])

    def judge(self, original: Record, rerun: Record, integrity: VerifyReport,
              configuration: Sequence[str], dimensions: Sequence[DimensionMatch],
              original_run: rundir.RunDir, rerun_run: rundir.RunDir
              ) -> tuple[Verdict, tuple[str, ...], RunComparison]:
        assert isinstance(original.body, Scored) and isinstance(rerun.body, Scored)
        comparison = compare_runs(original.body.results, rerun.body.results,
                                  rundir.read_samples(original_run.samples),
                                  rundir.read_samples(rerun_run.samples),
                                  tolerance_pp=self.tolerance_pp)
        verdict, reasons = decide(integrity, configuration, dimensions, comparison)
        return verdict, reasons, comparison

