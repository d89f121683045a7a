"""The capture protocol's arithmetic: spread, the re-run rule, the summary and the verdict."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from runlocalai_bench.speed.measure import Measurement

HIGH = "high"
LOW = "low"


def spread(values: Sequence[float]) -> float | None:
    """(max - min) / median: 0 for identical runs; None when there is nothing to compare."""
    if len(values) < 2:
        return None
    middle = statistics.median(values)
    if middle <= 0:
        return None
    return (max(values) - min(values)) / middle


def needs_rerun(decode_rates: Sequence[float | None], threshold: float) -> bool:
    """A set re-runs when any run lacks a decode rate or the spread reaches the threshold."""
    if any(r is None for r in decode_rates):
        return True
    s = spread([r for r in decode_rates if r is not None])
    return s is None or s >= threshold


@dataclass(frozen=True)
class Stat:
    median: float | None
    minimum: float | None
    maximum: float | None


def stat(values: Sequence[float | None]) -> Stat:
    present = [v for v in values if v is not None]
    if not present:
        return Stat(None, None, None)
    return Stat(statistics.median(present), min(present), max(present))


@dataclass(frozen=True)
class Summary:
    runs: int
    decode_tps: Stat
    prefill_tps: Stat
    ttft_ms: Stat
    generated_tokens: Stat
    prompt_tokens: int | None
    spread: float | None
    decode_source: str | None
    prefill_source: str | None


def summarize(runs: Sequence[Measurement]) -> Summary:
    decode = [r.decode_tps for r in runs]
    prompts = {r.prompt_tokens for r in runs if r.prompt_tokens is not None}
    sources = {r.decode_source for r in runs}
    prefill_sources = {r.prefill_source for r in runs}
    return Summary(
        runs=len(runs),
        decode_tps=stat(decode),
        prefill_tps=stat([r.prefill_tps for r in runs]),
        ttft_ms=stat([r.ttft_ms for r in runs]),
        generated_tokens=stat([None if r.generated_tokens is None else float(r.generated_tokens)
                               for r in runs]),
        prompt_tokens=prompts.pop() if len(prompts) == 1 else None,
        spread=spread([d for d in decode if d is not None]) if None not in decode else None,
        decode_source=sources.pop() if len(sources) == 1 else "mixed",
        prefill_source=prefill_sources.pop() if len(prefill_sources) == 1 else "mixed",
    )


@dataclass(frozen=True)
class Verdict:
    reproduced: bool
    confidence: str
    reason: str


def verdict(summary: Summary, *, required_runs: int, threshold: float) -> Verdict:
    """≥ `required_runs` runs whose spread is under the threshold: reproduced, confidence high."""
    if summary.runs < required_runs:
        return Verdict(False, LOW, f"{summary.runs} measured runs, {required_runs} required")
    if summary.spread is None:
        return Verdict(False, LOW, "a run has no decode rate")
    if summary.spread >= threshold:
        return Verdict(False, LOW, f"spread {summary.spread:.1%} ≥ {threshold:.0%}")
    return Verdict(True, HIGH, f"spread {summary.spread:.1%} < {threshold:.0%}"
                               f" over {summary.runs} runs")
