"""`rla reproduce`: re-run a record's exact configuration here and judge the result by policy.

One flow for every kind of run; each kind (scored.py, speed.py) contributes its part through
`Kind`:

    the original → refused before anything runs where the kind cannot copy it (another
                   methodology; a non-deterministic scored run)
                 → verify it (verify.py); a failure ends here: invalid
                 → the kind re-runs its configuration on this machine's model and server,
                   signed when this operator has a key
                 → the four dimensions (dimensions.py), the configuration the re-run did not
                   share, and the kind's figures: a scored run's headline (±2 pp), every
                   subtask as a diagnostic (flips, McNemar exact p) and each sample, a speed
                   row's median decode tok/s (±10%)
                 → a verdict, written as reproduction.json and reproduction.md (report.py)

Verdicts, first that applies: invalid (the original failed verification, or the re-run did not
use its configuration), related benchmark (a dimension differs or cannot be shown to match;
for a scored row, the hardware differing alone is the editor's own rig), not reproduced (the
kind's figures moved past its tolerance), verified on the editor's rig (a scored row within
tolerance when the hardware alone differs: the VERIFIED tier's own-rig re-run), reproduced.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from runlocalai_bench import signing
from runlocalai_bench.report import refresh_run_report
from runlocalai_bench.results import rundir
from runlocalai_bench.results.jsontypes import encode
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import Record
from runlocalai_bench.review.compare import RunComparison
from runlocalai_bench.review.dimensions import DimensionMatch, compare_dimensions, setup_of
from runlocalai_bench.review.source import Source
from runlocalai_bench.review.verify import VerifyReport, verify_source

Verdict = Literal["reproduced", "verified on the editor's rig", "not reproduced",
                  "related benchmark", "invalid"]
REPORT_JSON = "reproduction.json"
REPORT_MD = "reproduction.md"


class Figures(Protocol):
    """A kind's comparison of the two runs' figures, shown in the terminal and in the report:
    a scored run's RunComparison (compare.py), a speed row's SpeedComparison (speed.py)."""

    def __rich__(self) -> Any: ...

    def to_json(self) -> dict[str, Any]: ...


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
    env: Mapping[str, str] | None = None  # the settings a re-run's config reads
    argv: tuple[str, ...] = ()  # the command that asked for the re-run, as it records it


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
    speed: Figures | None = None  # a speed row's figures (speed.SpeedComparison)

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


# What a re-run of any kind must share first: the benchmark and its methodology (the spec's
# sha256). Each kind's configuration starts with these; getters take the record and its section.
METHODOLOGY: tuple[tuple[str, Callable[[Record, Any], Any]], ...] = (
    ("benchmark.slug", lambda r, _: r.benchmark.slug),
    ("benchmark.spec_sha256", lambda r, _: r.benchmark.spec_sha256))


def fields_not_shared(fields: Iterable[tuple[str, Any, Any]]) -> list[str]:
    """`a.b: <original's> → <re-run's>` for each (field, original's value, re-run's value) that
    differ, the values as record.json holds them. Each kind names its own fields."""
    out = []
    for name, a, b in fields:
        a, b = encode(a), encode(b)
        if a != b:
            out.append(f"{name}: {a!r} → {b!r}")
    return out


# -- the verdict -----------------------------------------------------------------------------


def failed_verification(integrity: VerifyReport) -> tuple[str, ...]:
    return tuple(f"the original failed verification: {f.where()} {f.message}"
                 for f in integrity.failures)


def own_rig(dimensions: Sequence[DimensionMatch]) -> bool:
    """Model, quantization and runtime match and the hardware alone differs: a quality row
    re-run on the editor's own rig (REFERENCE §1's VERIFIED tier)."""
    return [(d.name, d.status) for d in dimensions if d.status != "match"] == [("hardware",
                                                                              "differs")]


def verdict_before_figures(integrity: VerifyReport, configuration: Sequence[str],
                           dimensions: Sequence[DimensionMatch], *, compared: bool,
                           other_hardware: bool = False
                           ) -> tuple[Verdict, tuple[str, ...]] | None:
    """The verdicts a scored and a speed row reach alike, before their figures are looked at;
    first that applies: invalid (the original failed verification, the re-run's configuration
    differs, nothing was re-run to compare), related benchmark (a dimension differs or cannot
    be shown to match; with `other_hardware`, a quality row's, the hardware may differ alone).
    None: the figures decide."""
    if not integrity.ok:
        return "invalid", failed_verification(integrity)
    if configuration:
        return "invalid", tuple(f"the re-run's configuration differs: {c}"
                                for c in configuration)
    if not compared:
        return "invalid", ("nothing was re-run to compare",)
    off = [d for d in dimensions if d.status != "match"]
    if off and not (other_hardware and own_rig(dimensions)):
        matched = len(dimensions) - len(off)
        return "related benchmark", (
            f"{matched} of {len(dimensions)} dimensions match",
            *(f"{d.name} {'differs' if d.status == 'differs' else 'cannot be matched'}: "
              f"{d.reason}" for d in off))
    return None


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
    if signature is not None:
        refresh_run_report(run.path)
    return {"run_id": run.id, "path": str(run.path), "rig": record.get("rig"),
            "signer": signature.key_id if signature else None, **headline}


class Kind(Protocol):
    """What a kind of run (scored.py, speed.py) contributes to the flow: its refusals before
    anything runs, its headline figure, the re-run of its configuration, what of the
    configuration the re-run did not share, and the verdict on its figures."""

    def refuse(self, record: Record) -> None: ...

    def headline(self, record: Record) -> dict[str, Any]: ...

    def rerun(self, record: Record, target: Target) -> tuple[rundir.RunDir, Record]: ...

    def configuration(self, original: Record, rerun: Record, original_run: rundir.RunDir,
                      rerun_run: rundir.RunDir) -> list[str]: ...

    def judge(self, original: Record, rerun: Record, integrity: VerifyReport,
              configuration: Sequence[str], dimensions: Sequence[DimensionMatch],
              original_run: rundir.RunDir, rerun_run: rundir.RunDir
              ) -> tuple[Verdict, tuple[str, ...], Figures]: ...


def reproduce(kind: Kind, source: Source, target: Target, *,
                   keys_dir: Path | None = None) -> Reproduction:
    """The flow every kind of run goes through: verify the original (invalid ends it), re-run
    its configuration, sign the re-run, compare the four dimensions and the configuration,
    and let the kind judge its figures."""
    record = load_record(source.record_path)
    kind.refuse(record)
    integrity = verify_source(source, data_dir=target.data_dir, cache_dir=target.cache_dir)
    original = original_side(record.to_json(), source, integrity, **kind.headline(record))
    if not integrity.ok:  # an invalid submission is not worth a re-run
        return Reproduction("invalid", failed_verification(integrity), original, None, None,
                            integrity)

    run, rerun = kind.rerun(record, target)
    reproduction = signed_rerun_side(run, rerun.to_json(), keys_dir, **kind.headline(rerun))
    dimensions = compare_dimensions(setup_of(record), setup_of(rerun))
    configuration = kind.configuration(record, rerun, source.run, run)
    verdict, reasons, comparison = kind.judge(record, rerun, integrity, configuration,
                                              dimensions, source.run, run)
    return Reproduction(
        verdict, reasons, original, reproduction,
        independence(integrity.signer, reproduction["signer"]), integrity, dimensions,
        tuple(configuration),
        comparison=comparison if isinstance(comparison, RunComparison) else None,
        speed=None if isinstance(comparison, RunComparison) else comparison)


def report_dir(reproduction: Reproduction, fallback: Path) -> Path:
    """The re-run's directory, or (no re-run) `fallback`/reproduce-<original run id>."""
    if reproduction.reproduction is not None:
        return Path(reproduction.reproduction["path"])
    name = str(reproduction.original.get("run_id") or "unknown").replace("/", "_")
    return fallback / f"reproduce-{name}"


def dumps(reproduction: Reproduction) -> str:
    return json.dumps(reproduction.to_json(), indent=2, ensure_ascii=False)
