"""`rla reproduce`: re-run a record's exact configuration here and judge the result by policy.

    the original → verify it (hashes, schema, rescore, log, signature); a failure ends here:
                   invalid
                 → its configuration: the slug and spec, the data pin, the prompt style, the
                   sampling settings from the record; limit, limit per subtask, concurrency
                   and n_ctx from record.request (a version 2 record has none: from its
                   reproduction command, results/command.py); the model and
                   server are this machine's
                 → run_benchmark, signed when this operator has a key
                 → the four dimensions, the configuration actually used, the headline and
                   every subtask (±2 pp), each sample
                 → a verdict, written as reproduction.json and reproduction.md

Verdicts, first that applies: invalid (the original failed verification, or the re-run did not
use its configuration), related benchmark (a dimension differs or cannot be shown to match),
not reproduced (the headline or a subtask moved past the tolerance), reproduced.

A speed row (benchmark.kind "speed") is reproduced by review/speedreproduce.py into the same
Reproduction, its tok/s figures under `speed`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from runlocalai_bench import signing
from runlocalai_bench.backends.base import Backend
from runlocalai_bench.config import RunConfig, build_config
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.evals import KINDS
from runlocalai_bench.pipeline import RunUI, run_benchmark
from runlocalai_bench.results import rundir
from runlocalai_bench.results.command import requested
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import Record
from runlocalai_bench.review.compare import DEFAULT_TOLERANCE_PP, RunComparison, compare_runs
from runlocalai_bench.review.dimensions import DimensionMatch, compare_dimensions, setup_of
from runlocalai_bench.review.logcheck import field_of
from runlocalai_bench.review.rescore import data_source_for, eval_for
from runlocalai_bench.review.source import Source
from runlocalai_bench.review.verify import VerifyReport, verify_source
from runlocalai_bench.runtime import greedy
from runlocalai_bench.types import RigInfo

if TYPE_CHECKING:
    from runlocalai_bench.review.compare import SpeedComparison

Verdict = Literal["reproduced", "not reproduced", "related benchmark", "invalid"]
REPORT_JSON = "reproduction.json"
REPORT_MD = "reproduction.md"
# What decides what a scored run computes, as the record states it: the re-run must share each.
CONFIGURATION = (("benchmark", "slug"), ("benchmark", "spec_sha256"),
                 ("benchmark", "prompt_style"), ("dataset", "content_sha256"),
                 ("sampling", "settings"), ("results", "expected_n"))


@dataclass(frozen=True)
class Target:
    """What to reproduce on: a server, a GGUF in process, or (neither) the embedded model."""

    endpoint: str | None = None
    model: str | None = None
    model_path: Path | None = None
    data_dir: Path | None = None
    output_dir: Path | None = None
    timeout: float | None = None
    cache_dir: Path | None = None  # reference outputs for rescoring the original


@dataclass(frozen=True)
class Reproduction:
    verdict: Verdict
    reasons: tuple[str, ...]
    original: Mapping[str, Any]  # run_id, origin, rig, signer
    reproduction: Mapping[str, Any] | None  # run_id, path, rig, signer
    independent: bool | None  # signed by two different keys; None when a side is unsigned
    integrity: VerifyReport
    dimensions: tuple[DimensionMatch, ...] = ()
    configuration: tuple[str, ...] = ()  # settings the re-run did not share with the original
    comparison: RunComparison | None = None
    speed: SpeedComparison | None = None  # a speed row's figures (review/speedreproduce.py)

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        parts: list[Any] = [Text(f"verdict: {self.verdict}", style="bold")]
        parts += [Text(f"  - {reason}") for reason in self.reasons]
        if self.reproduction is not None:
            shown = {True: "yes", False: "no (same key)", None: "unknown (unsigned)"}
            parts.append(Text(f"independent: {shown[self.independent]}"))
        if self.dimensions:
            table = Table(title=Text("dimensions"), title_justify="left")
            for column in ("dimension", "original", "re-run", "", "why"):
                table.add_column(column)
            for d in self.dimensions:
                table.add_row(d.name, Text(d.original), Text(d.local), d.status, Text(d.reason))
            parts.append(table)
        if self.comparison is not None:
            parts.append(self.comparison)
        if self.speed is not None:
            parts.append(self.speed)
        if not self.integrity.ok:
            parts.append(self.integrity)
        return Group(*parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict, "reasons": list(self.reasons),
            "original": dict(self.original),
            "reproduction": None if self.reproduction is None else dict(self.reproduction),
            "independent": self.independent,
            "dimensions": [{"name": d.name, "status": d.status, "original": d.original,
                            "local": d.local, "reason": d.reason} for d in self.dimensions],
            "configuration_differences": list(self.configuration),
            "comparison": None if self.comparison is None else self.comparison.to_json(),
            "speed": None if self.speed is None else self.speed.to_json(),
            "integrity": self.integrity.to_json(),
        }


# -- the configuration of the original -------------------------------------------------------


def rerun_flags(typed: Record, target: Target) -> tuple[str, dict[str, Any]]:
    """The slug and `build_config` flags that re-run the record's configuration on `target`."""
    record = typed.to_json()
    bench = record.get("benchmark") or {}
    slug, flags = requested(typed)
    if slug != bench.get("slug"):
        raise ConfigError(f"command.reproduce runs {slug}, the record is of {bench.get('slug')}",
                          hint="the record is inconsistent; verify it")
    source = data_source_for(record, target.data_dir)
    settings = (record.get("sampling") or {}).get("settings") or {}
    in_process = target.endpoint is None
    flags.update({
        "endpoint": target.endpoint, "model": target.model, "model_path": target.model_path,
        "output_dir": target.output_dir, "timeout": target.timeout,
        "prompt_style": bench.get("prompt_style"),
        "seed": settings.get("seed"), "cache_prompt": settings.get("cache_prompt"),
        "sample": True if source.kind == "bundled" else None,
        "data_dir": source.path if source.kind == "dir" else None,
        "allow_unpinned": True if source.allow_unpinned else None,
    })
    if in_process:
        flags["concurrency"] = None  # in-process runs are sequential
    return slug, flags


def fields_not_shared(original: Mapping[str, Any], rerun: Mapping[str, Any],
                      paths: Iterable[tuple[str, ...]]) -> list[str]:
    """`a.b: <original's> → <re-run's>` for each field at `paths` the two records differ in.
    Shared with the speed rows' configuration (speedreproduce.py)."""
    out = []
    for path in paths:
        a, b = field_of(original, *path), field_of(rerun, *path)
        if a != b:
            out.append(f"{'.'.join(path)}: {a!r} → {b!r}")
    return out


def configuration_differences(original: Mapping[str, Any], rerun: Mapping[str, Any],
                              ids_a: Sequence[str], ids_b: Sequence[str]) -> list[str]:
    """Result-deciding settings the re-run did not share with the original."""
    out = fields_not_shared(original, rerun, CONFIGURATION)
    if set(ids_a) != set(ids_b):
        out.append(f"the questions differ: {len(set(ids_a) - set(ids_b))} only in the original,"
                   f" {len(set(ids_b) - set(ids_a))} only in the re-run")
    return out


# -- the verdict -----------------------------------------------------------------------------


def _pp(value: float | None) -> str:
    return "absent" if value is None else f"{value * 100:.1f}%"


def verdict_before_figures(integrity: VerifyReport, configuration: Sequence[str],
                           dimensions: Sequence[DimensionMatch], *, compared: bool
                           ) -> tuple[Verdict, tuple[str, ...]] | None:
    """The verdicts a scored and a speed row reach alike, before their figures are looked at;
    first that applies: invalid (the original failed verification, the re-run's configuration
    differs, nothing was re-run to compare), related benchmark (a dimension differs or cannot
    be shown to match). None: the figures decide."""
    if not integrity.ok:
        return "invalid", tuple(f"the original failed verification: {f.where()} {f.message}"
                                for f in integrity.failures)
    if configuration:
        return "invalid", tuple(f"the re-run's configuration differs: {c}"
                                for c in configuration)
    if not compared:
        return "invalid", ("nothing was re-run to compare",)
    off = [d for d in dimensions if d.status != "match"]
    if off:
        matched = len(dimensions) - len(off)
        return "related benchmark", (
            f"{matched} of {len(dimensions)} dimensions match",
            *(f"{d.name} {'differs' if d.status == 'differs' else 'cannot be matched'}: "
              f"{d.reason}" for d in off))
    return None


def decide(integrity: VerifyReport, configuration: Sequence[str],
           dimensions: Sequence[DimensionMatch],
           comparison: RunComparison | None) -> tuple[Verdict, tuple[str, ...]]:
    before = verdict_before_figures(integrity, configuration, dimensions,
                                    compared=comparison is not None)
    if before is not None:
        return before
    assert comparison is not None  # verdict_before_figures said "invalid" without one
    moved = comparison.moved
    if moved:
        return "not reproduced", tuple(
            f"{d.name} moved {d.delta_pp:+.1f} pp ({_pp(d.a)} → {_pp(d.b)})"
            if d.delta_pp is not None else f"{d.name} exists in only one run ({_pp(d.a)} → "
            f"{_pp(d.b)})" for d in moved)
    tol = comparison.headline.tolerance_pp
    same = ("identical outputs on all" if comparison.identical_samples
            else f"{comparison.agreeing} of {comparison.compared} samples identical,")
    return "reproduced", (f"headline and all {len(comparison.subtasks)} subtasks within "
                          f"±{tol:g} pp; {same} {comparison.compared} samples",)


def independence(original: str | None, reproduction: str | None) -> bool | None:
    if original is None or reproduction is None:
        return None
    return original != reproduction


# -- the run ---------------------------------------------------------------------------------


def original_side(record: Mapping[str, Any], source: Source, integrity: VerifyReport,
                  **headline: Any) -> dict[str, Any]:
    """Reproduction.original: run id, origin, rig and signer, then `headline` (a scored row's
    score, a speed row's median decode tok/s)."""
    return {"run_id": record.get("run_id"), "origin": source.origin, "rig": record.get("rig"),
            "signer": integrity.signer, **headline}


def signed_rerun_side(run: rundir.RunDir, record: Mapping[str, Any], keys_dir: Path | None,
                      **headline: Any) -> dict[str, Any]:
    """Sign the re-run when this operator has a key; Reproduction.reproduction: run id, path,
    rig and signer, then `headline`."""
    signature = signing.sign_run_if_keyed(run.path, keys_dir)
    return {"run_id": run.id, "path": str(run.path), "rig": record.get("rig"),
            "signer": signature.key_id if signature else None, **headline}


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


def reproduce(
    source: Source,
    target: Target,
    ui: RunUI,
    *,
    open_backend: Callable[[RunConfig], Backend],
    detect_rig: Callable[[], RigInfo],
    tolerance_pp: float = DEFAULT_TOLERANCE_PP,
    keys_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    argv: tuple[str, ...] = (),
) -> Reproduction:
    typed = load_record(source.record_path)
    record = typed.to_json()
    if (record.get("benchmark") or {}).get("kind") not in KINDS:
        raise ConfigError(f"{record.get('run_id')} is not a scored benchmark run",
                          hint="speed rows are reproduced by review.speedreproduce")
    eval_for(record).close()  # refuse another methodology before anything runs
    refuse_nondeterministic(typed)
    integrity = verify_source(source, data_dir=target.data_dir, cache_dir=target.cache_dir)
    original = original_side(record, source, integrity,
                             score=(record.get("results") or {}).get("score"))
    if not integrity.ok:  # an invalid submission is not worth a re-run
        verdict, reasons = decide(integrity, (), (), None)
        return Reproduction(verdict, reasons, original, None, None, integrity)

    slug, flags = rerun_flags(typed, target)
    config = build_config(slug, flags, env=env, argv=argv)
    outcome = run_benchmark(config, ui, open_backend=open_backend, detect_rig=detect_rig)
    new_record = outcome.record
    reproduction = signed_rerun_side(outcome.run, new_record, keys_dir, score=outcome.results.score)
    samples_a = rundir.read_samples(source.run.samples)
    samples_b = rundir.read_samples(outcome.run.samples)
    dimensions = compare_dimensions(setup_of(record), setup_of(new_record))
    configuration = configuration_differences(
        record, new_record, [str(s.get("id")) for s in samples_a],
        [str(s.get("id")) for s in samples_b])
    comparison = compare_runs(record.get("results") or {}, new_record.get("results") or {},
                              samples_a, samples_b, tolerance_pp=tolerance_pp)
    verdict, reasons = decide(integrity, configuration, dimensions, comparison)
    return Reproduction(verdict, reasons, original, reproduction,
                        independence(integrity.signer, reproduction["signer"]), integrity,
                        dimensions, tuple(configuration), comparison)


def write_report(reproduction: Reproduction, directory: Path) -> tuple[Path, Path]:
    from runlocalai_bench.review.report import render_markdown

    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / REPORT_JSON, directory / REPORT_MD
    rundir.write_json_atomic(json_path, reproduction.to_json())
    md_path.write_text(render_markdown(reproduction), encoding="utf-8")
    return json_path, md_path


def report_dir(reproduction: Reproduction, fallback: Path) -> Path:
    """The re-run's directory, or (no re-run) `fallback`/reproduce-<original run id>."""
    if reproduction.reproduction is not None:
        return Path(reproduction.reproduction["path"])
    name = str(reproduction.original.get("run_id") or "unknown").replace("/", "_")
    return fallback / f"reproduce-{name}"


def dumps(reproduction: Reproduction) -> str:
    return json.dumps(reproduction.to_json(), indent=2, ensure_ascii=False)
