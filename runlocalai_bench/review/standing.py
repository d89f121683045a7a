"""`rla ladder`: a row's original and its reproductions, already run, read and judged: each
reproduction's signature checked and its verdict against the original computed as `rla
reproduce` would (the four dimensions, the configuration, the figures: scored.decide or
speed.decide), then the trust ladder (runlocalai_bench/ladder.py) over them.

The original is verified in full (verify.py); a reproduction only for its signature: its
figures are what is judged, and a damaged reproduction simply fails to count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runlocalai_bench import signing
from runlocalai_bench.ladder import Keyring, Kind, LadderState, Rerun, Signed, ladder_state
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import Record, Scored, Speed
from runlocalai_bench.review import scored, speed
from runlocalai_bench.review.compare import compare_runs
from runlocalai_bench.review.dimensions import compare_dimensions, setup_of
from runlocalai_bench.review.source import Source
from runlocalai_bench.review.verify import VerifyReport, check_signature_file, verify_source


@dataclass(frozen=True)
class Standing:
    original: Signed
    state: LadderState

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        s = self.state
        head = f"{s.state}" + (f" (confidence {s.confidence})" if s.confidence else "")
        parts: list[Any] = [Text(f"{self.original.label}: {head}", style="bold")]
        parts += [Text(f"  - {reason}") for reason in s.reasons]
        if s.judged:
            table = Table(title=Text("reproductions"), title_justify="left")
            for column in ("reproduction", "signer", "operator", "hardware", "verdict",
                           "counts", "why"):
                table.add_column(column)
            for j in s.judged:
                r = j.rerun.record
                table.add_row(Text(r.label), Text(r.signer or "unsigned"),
                              Text(j.operator or ""), Text(r.hardware or "?"),
                              Text(j.rerun.verdict), "yes" if j.counts else "no",
                              Text(j.reason))
            parts.append(table)
        return Group(*parts)

    def to_json(self) -> dict[str, Any]:
        s = self.state
        return {"original": self.original.label, "kind": s.kind, "state": s.state,
                "reasons": list(s.reasons), "confidence": s.confidence,
                "reproductions": [
                    {"label": j.rerun.record.label, "signer": j.rerun.record.signer,
                     "operator": j.operator, "hardware": j.rerun.record.hardware,
                     "verdict": j.rerun.verdict, "summary": j.rerun.summary,
                     "counts": j.counts, "reason": j.reason} for j in s.judged]}


def signed_of(source: Source, record: Record) -> Signed:
    """Who signed the record (a valid signature's key id and signed handle) and its hardware.
    The record's own `submitter` is not signed, so it never names the signer."""
    findings, signer = check_signature_file(source, record.to_json())
    problem = next((f.message for f in findings if f.status == "failed"), None)
    handle = None
    if signer is not None:
        signature = signing.read_signature(source.run.path / signing.SIGNATURE)
        handle = signature.handle if signature is not None else None
    return Signed(label=source.origin, signer=signer, hardware=record.hardware.hardware_slug,
                  handle=handle, signature_problem=problem)


def judge(original: Record, original_run: rundir.RunDir, rerun: Record,
          rerun_run: rundir.RunDir, integrity: VerifyReport) -> tuple[str, str]:
    """(verdict, summary) of an existing re-run against the original."""
    dimensions = compare_dimensions(setup_of(original), setup_of(rerun))
    a, b = original.body, rerun.body
    if isinstance(a, Speed) and isinstance(b, Speed):
        comparison = speed.compare_speed(a.speed.summary, b.speed.summary)
        verdict, reasons = speed.decide(integrity, speed.configuration_differences(
            original, rerun), dimensions, comparison, b.speed)
        return verdict, comparison.decode.describe()
    if isinstance(a, Scored) and isinstance(b, Scored):
        samples_a, samples_b = (rundir.read_samples(r.samples) for r in (original_run,
                                                                          rerun_run))
        configuration = scored.configuration_differences(
            original, rerun, [str(s.get("id")) for s in samples_a],
            [str(s.get("id")) for s in samples_b])
        run_comparison = compare_runs(a.results, b.results, samples_a, samples_b)
        verdict, reasons = scored.decide(integrity, configuration, dimensions, run_comparison)
        delta = run_comparison.headline.delta_pp
        return verdict, reasons[0] if delta is None else f"headline {delta:+.1f} pp"
    return "invalid", "a speed row and a scored run cannot reproduce one another"


def standing(original: Source, reruns: Sequence[Source], keyring: Keyring, *,
             data_dir: Path | None = None, cache_dir: Path | None = None) -> Standing:
    record = load_record(original.record_path)
    integrity = verify_source(original, data_dir=data_dir, cache_dir=cache_dir)
    judged: list[Rerun] = []
    for source in reruns:
        other = load_record(source.record_path)
        verdict, summary = judge(record, original.run, other, source.run, integrity)
        judged.append(Rerun(signed_of(source, other), verdict, summary))
    problems = tuple(f"{f.where()} {f.message}".strip() for f in integrity.failures
                     if f.check != "signature")
    kind: Kind = "speed" if isinstance(record.body, Speed) else "quality"
    original_signed = signed_of(original, record)
    return Standing(original_signed, ladder_state(kind, original_signed, judged, keyring,
                                                  original_problems=problems))
