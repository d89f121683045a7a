"""`rla reproduce` of a speed row: re-run `rla bench speed` as the record ran it, and judge.

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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from runlocalai_bench.backends.base import Streamer
from runlocalai_bench.config import RunConfig, build_config
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.results.command import requested
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import Record, Speed, SpeedSection
from runlocalai_bench.review.compare import (
    SPEED_TOLERANCE,
    SpeedComparison,
    compare_speed,
    median_of,
)
from runlocalai_bench.review.dimensions import DimensionMatch, compare_dimensions, setup_of
from runlocalai_bench.review.reproduce import (
    Reproduction,
    Target,
    Verdict,
    fields_not_shared,
    independence,
    original_side,
    signed_rerun_side,
    verdict_before_figures,
)
from runlocalai_bench.review.source import Source
from runlocalai_bench.review.verify import VerifyReport, verify_source
from runlocalai_bench.speed.runner import SpeedUI, run_speed
from runlocalai_bench.speed.spec import SLUG, SpeedPlan, load_speed_plan
from runlocalai_bench.types import RigInfo

# What decides what a speed run measures, as the record states it: the re-run must share each.
CONFIGURATION = (("benchmark", "slug"), ("benchmark", "spec_sha256"),
                 ("benchmark", "scoring_method"), ("speed", "profile"), ("speed", "n_predict"),
                 ("speed", "ignore_eos"), ("speed", "split"), ("speed", "prompt", "text"),
                 ("speed", "prompt", "tokens"), ("speed", "prompt", "exact"),
                 ("speed", "protocol"), ("sampling", "settings"))


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


def configuration_differences(original: Mapping[str, Any],
                              rerun: Mapping[str, Any]) -> list[str]:
    """What decides the measurement and the re-run did not share with the original."""
    return fields_not_shared(original, rerun, CONFIGURATION)


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


def reproduce_speed(
    source: Source,
    target: Target,
    ui: SpeedUI,
    *,
    open_streamer: Callable[[RunConfig], Streamer],
    detect_rig: Callable[[], RigInfo],
    tolerance: float = SPEED_TOLERANCE,
    keys_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    argv: tuple[str, ...] = (),
) -> Reproduction:
    typed = load_record(source.record_path)
    record = typed.to_json()
    if not isinstance(typed.body, Speed):
        raise ConfigError(f"{typed.run_id} is not a speed run",
                          hint="scored runs are reproduced by review.reproduce.reproduce")
    integrity = verify_source(source)
    original_speed = typed.body.speed
    original = original_side(record, source, integrity,
                             decode_tps=median_of(original_speed.summary, "decode_tps"))
    if not integrity.ok:  # an invalid submission is not worth a re-run
        verdict, reasons = decide(integrity, (), (), None, None)
        return Reproduction(verdict, reasons, original, None, None, integrity)

    plan = plan_for(typed, original_speed)  # another methodology is refused before any run
    config = build_config(SLUG, rerun_flags(typed, target), env=env, argv=argv)
    outcome = run_speed(config, plan, ui, open_streamer=open_streamer, detect_rig=detect_rig)
    new_record = outcome.record
    rerun = Record.from_json(new_record, "the re-run's record").body
    assert isinstance(rerun, Speed)  # run_speed writes speed records
    new_speed = rerun.speed
    reproduction = signed_rerun_side(outcome.run, new_record, keys_dir,
                                     decode_tps=median_of(new_speed.summary, "decode_tps"))
    dimensions = compare_dimensions(setup_of(record), setup_of(new_record))
    configuration = configuration_differences(record, new_record)
    comparison = compare_speed(original_speed.summary, new_speed.summary, tolerance=tolerance)
    verdict, reasons = decide(integrity, configuration, dimensions, comparison, new_speed)
    return Reproduction(verdict, reasons, original, reproduction,
                        independence(integrity.signer, reproduction["signer"]), integrity,
                        dimensions, tuple(configuration), speed=comparison)
