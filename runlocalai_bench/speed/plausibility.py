"""Is a speed result physically possible, and do its own numbers agree with each other?

Decode reads every active weight once per token, so decode tok/s cannot beat

    memory bandwidth (bytes/s) / bytes read per token  × ceiling factor (1.15)

with bytes read per token ≈ the model file's size (dense models) or its active-expert share
(mixture of experts: size × experts used / experts, a generous bound). The bandwidth is the
rig's: NVML's measured bus width × memory clock, or the hardware catalog; summed over GPUs, as
`rig.bandwidth_ceiling` does. A CPU-only rig's memory configuration cannot be read without root,
so its bandwidth is bounded by the fastest memory system of its CPU class (hardware/cpu.toml):
generous, but it refuses the impossible.

Consistency: the engine's prefill time cannot exceed the time the first token took to arrive
(prefill tok/s × TTFT ≥ prompt tokens); the engine's decode rate cannot far exceed the rate its
tokens actually arrived at; a rate the engine states must follow from its counts and times.

`speed_gate(record)` re-derives all of this from a record's raw per-run observations (not from
its summary, which it checks against them) and returns the reasons to refuse it; [] passes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runlocalai_bench.rig.catalog import cpu_bandwidth_bound
from runlocalai_bench.speed.measure import (
    LLAMA_CPP,
    EngineTiming,
    Measurement,
    RawRun,
    measure,
)
from runlocalai_bench.speed.protocol import summarize
from runlocalai_bench.speed.spec import Consistency

SPEED_SCHEMA = 1
REFUSE = "refuse"
NOTE = "note"
# Summary figures re-derived by the gate must match the recorded ones this closely (rounding).
_REL_TOL = 1e-3


@dataclass(frozen=True)
class Ceiling:
    """The decode-rate bound of a rig and model; `limit_tps` already includes the factor."""

    bandwidth_gbps: float | None
    bandwidth_source: str | None
    model_bytes: int | None
    bytes_per_token: float | None
    factor: float
    tps: float | None
    limit_tps: float | None
    basis: str  # how it was derived, or why it could not be


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    severity: str  # refuse | note
    detail: str


# -- the ceiling ---------------------------------------------------------------------------


def bytes_per_token(model_bytes: int, expert_count: int | None = None,
                    expert_used_count: int | None = None) -> tuple[float, str]:
    """Bytes a decode step reads at least: the whole file for dense models; for mixture of
    experts the used experts' share of it (as if every weight were an expert: a lower bound on
    the bytes, so the ceiling stays generous)."""
    if expert_count and expert_used_count and 0 < expert_used_count < expert_count:
        share = expert_used_count / expert_count
        return model_bytes * share, (f"mixture of experts: file size × {expert_used_count}/"
                                     f"{expert_count} experts")
    return float(model_bytes), "dense: file size"


def rig_bandwidth(gpus: Sequence[Mapping[str, Any]]) -> tuple[float | None, str | None]:
    """Summed peak bandwidth of a record's GPUs (identified ones), and where it came from."""
    accelerators = [g for g in gpus if g.get("slug")]
    if not accelerators or any(not _positive(g.get("bandwidth_gbps")) for g in accelerators):
        return None, None
    total = round(sum(float(g["bandwidth_gbps"]) for g in accelerators), 1)
    sources = sorted({str(g.get("bandwidth_source") or "unknown") for g in accelerators})
    return total, "+".join(sources)


def ceiling(bandwidth_gbps: float | None, bandwidth_source: str | None, model_bytes: int | None,
            *, factor: float, expert_count: int | None = None,
            expert_used_count: int | None = None, hw_class: str | None = None,
            cpu_family: str | None = None) -> Ceiling:
    if bandwidth_gbps is None and hw_class == "CPU_ONLY":
        bound = cpu_bandwidth_bound(cpu_family)
        if bound is not None:
            bandwidth_gbps, bandwidth_source = bound
    if bandwidth_gbps is None:
        why = ("no memory-bandwidth figure for a CPU-only rig" if hw_class == "CPU_ONLY"
               else "the GPU's memory bandwidth is unknown (not in the catalog, NVML silent)")
        return Ceiling(None, None, model_bytes, None, factor, None, None, why)
    if not model_bytes:
        return Ceiling(bandwidth_gbps, bandwidth_source, None, None, factor, None, None,
                       "the model's size is unknown")
    per_token, how = bytes_per_token(model_bytes, expert_count, expert_used_count)
    tps = bandwidth_gbps * 1e9 / per_token
    basis = (f"{bandwidth_gbps:g} GB/s ({bandwidth_source}) ÷ {per_token / 1e9:.3f} GB per token"
             f" ({how}) = {tps:.1f} tok/s, × {factor:g}")
    return Ceiling(bandwidth_gbps, bandwidth_source, model_bytes, per_token, factor, tps,
                   tps * factor, basis)


# -- per-run checks ------------------------------------------------------------------------


def check_run(n: str, m: Measurement, cap: Ceiling, rules: Consistency) -> list[Check]:
    """The plausibility and consistency checks of one measured run (`n` names it). The ceiling
    applies to the headline decode rate, the one a row would show: a stream that arrives in
    bursts (a buffering proxy) must not condemn an engine whose own timings are plausible, and
    an engine rate far above the arrival rate is refused by the engine-vs-stream check."""
    out: list[Check] = []
    if cap.limit_tps is not None and m.decode_tps is not None:
        ok = m.decode_tps <= cap.limit_tps
        out.append(Check(
            "ceiling", ok, REFUSE,
            f"{n}: decode {m.decode_tps:.1f} tok/s ({m.decode_source}) "
            + ("within" if ok else "exceeds") + " the memory-bandwidth ceiling"
            f" {cap.limit_tps:.1f} tok/s ({cap.basis})"))
    if m.engine is not None:
        out.extend(_engine_checks(n, m, m.engine, rules))
    p = m.prefill_run
    if p is not None and p.engine is not None:
        out.extend(_engine_checks(f"{n} prefill", p, p.engine, rules))
    return out


def generation_check(n: str, m: Measurement, n_predict: int) -> Check | None:
    """A run that stopped before `n_predict` tokens (an engine that cannot ignore end of text)
    decodes fewer tokens than the profile says; noted, not refused."""
    if m.generated_tokens is None or m.generated_tokens >= n_predict:
        return None
    return Check("short-generation", False, NOTE,
                 f"{n}: generated {m.generated_tokens} of {n_predict} tokens"
                 f" (finish reason {m.finish_reason})")


def _engine_checks(n: str, m: Measurement, e: EngineTiming, rules: Consistency) -> list[Check]:
    out: list[Check] = []
    ttft = m.stream.ttft_ms  # this request's own first token (a split run has two)
    if e.prompt_ms is not None and ttft is not None:
        allowed = ttft * (1 + rules.prefill_vs_ttft_slack) + rules.prefill_vs_ttft_slack_ms
        ok = e.prompt_ms <= allowed
        prompt = e.prompt_n if e.prompt_n is not None else m.prompt_tokens
        out.append(Check(
            "prefill-vs-ttft", ok, REFUSE,
            f"{n}: engine prefill {e.prompt_ms:.1f} ms for {prompt} prompt tokens"
            + (" fits within" if ok else " is longer than")
            + f" the first token's arrival after {ttft:.1f} ms"
            + ("" if ok else " (prefill tok/s × TTFT < prompt tokens: the engine's prefill"
               " figure is too slow for what was observed, or TTFT too fast)")))
        if ok and e.decode_tps:
            overhead = ttft - e.prompt_ms - 1000.0 / e.decode_tps
            if overhead > rules.ttft_overhead_note_ms:
                out.append(Check(
                    "ttft-overhead", False, NOTE,
                    f"{n}: TTFT {ttft:.0f} ms is {overhead:.0f} ms beyond prefill plus one"
                    " decode step (queueing, transport or a busy machine)"))
    if e.decode_tps and m.stream.decode_tps:
        ratio = e.decode_tps / m.stream.decode_tps
        ok = ratio <= rules.engine_vs_stream_max_ratio
        out.append(Check(
            "engine-vs-stream", ok, REFUSE,
            f"{n}: engine decode {e.decode_tps:.1f} tok/s vs tokens arriving at"
            f" {m.stream.decode_tps:.1f} tok/s (×{ratio:.2f}, at most"
            f" ×{rules.engine_vs_stream_max_ratio:g})"))
    return out


def stated_rate_check(n: str, raw: Mapping[str, Any] | None, fmt: str | None) -> Check | None:
    """llama-server states its rates; they must follow from its counts and times (n or n - 1
    decode steps, depending on the build)."""
    if fmt != LLAMA_CPP or not isinstance(raw, Mapping):
        return None
    pairs = (("predicted_per_second", "predicted_n", "predicted_ms"),
             ("prompt_per_second", "prompt_n", "prompt_ms"))
    for rate_key, n_key, ms_key in pairs:
        rate, count, ms = (_positive(raw.get(rate_key)), _positive(raw.get(n_key)),
                           _positive(raw.get(ms_key)))
        if rate is None or count is None or ms is None:
            continue
        candidates = [count * 1000.0 / ms, (count - 1) * 1000.0 / ms]
        if not any(math.isclose(rate, c, rel_tol=0.02) for c in candidates if c > 0):
            return Check("stated-rate", False, REFUSE,
                         f"{n}: the engine states {rate_key} {rate:.1f}, but {count:.0f}"
                         f" tokens in {ms:.1f} ms is {candidates[0]:.1f}")
    return None


# -- the gate ------------------------------------------------------------------------------


def speed_gate(record: Mapping[str, Any]) -> list[str]:
    """Reasons a speed record must not be submitted; an empty list means it may be.

    Pure: reads only the record. Re-derives every run's figures from its raw observations
    (engine timing object, arrival times), the summary from the counted runs, and the ceiling
    from the record's hardware and model, then applies the checks above."""
    reasons: list[str] = []
    speed = record.get("speed")
    if not isinstance(speed, Mapping):
        return ["the record has no speed section (not a `rla bench speed` run)"]
    if speed.get("schema") != SPEED_SCHEMA:
        return [f"unknown speed schema {speed.get('schema')!r} (this rla reads {SPEED_SCHEMA})"]
    protocol = _map(speed.get("protocol"))
    # The protocol's own tolerances, never a record's: a record cannot loosen its checks.
    rules = Consistency()
    counted = [r for r in speed.get("runs") or () if isinstance(r, Mapping) and r.get("counted")]
    required = int(protocol.get("measured_runs") or 3)
    if len(counted) < max(required, 3):
        reasons.append(f"{len(counted)} counted runs; the protocol needs {max(required, 3)}")

    measured: list[tuple[str, Measurement]] = []
    for i, run in enumerate(counted, 1):
        label = str(run.get("label") or f"run {i}")
        try:
            raw = _raw_run(run)
        except (TypeError, ValueError, KeyError) as exc:
            reasons.append(f"{label}: its raw observations are unreadable ({exc})")
            continue
        m = measure(raw)
        measured.append((label, m))
        if not m.decode_tps:
            reasons.append(f"{label}: no decode rate can be derived from its observations")
        recorded_decode = _map(run.get("metrics")).get("decode_tps")
        if not _close(recorded_decode, m.decode_tps):
            reasons.append(f"{label}: recorded decode tok/s {recorded_decode} does not follow"
                           f" from its observations ({_fmt(m.decode_tps)})")
        if not re.fullmatch(r"[0-9a-f]{64}", str(run.get("log_sha256") or "")):
            reasons.append(f"{label}: its log's sha256 is missing")
        for part, observed in ((label, raw), (f"{label} prefill", raw.prefill)):
            if observed is not None:
                stated = stated_rate_check(part, observed.engine, observed.engine_format)
                if stated is not None:
                    reasons.append(stated.detail)

    if not re.fullmatch(r"[0-9a-f]{64}", str(speed.get("logs_sha256") or "")):
        reasons.append("the sha256 of the concatenated run logs is missing")

    if measured:
        summary = summarize([m for _, m in measured])
        recorded = _map(_map(speed.get("summary")).get("decode_tps"))
        if not _close(recorded.get("median"), summary.decode_tps.median):
            reasons.append(f"summary decode tok/s {recorded.get('median')} does not follow from"
                           f" the counted runs (median {_fmt(summary.decode_tps.median)})")

    cap = ceiling_of(record)
    if cap.limit_tps is None and cap.bandwidth_gbps is not None:
        reasons.append(f"{cap.basis}, so decode speed cannot be checked against the"
                       " memory-bandwidth ceiling")
    for label, m in measured:
        for check in check_run(label, m, cap, rules):
            if not check.ok and check.severity == REFUSE:
                reasons.append(check.detail)

    reasons.extend(missing_environment(record))
    return reasons


def ceiling_of(record: Mapping[str, Any]) -> Ceiling:
    """The ceiling of a record, from its hardware section and its model's size."""
    hardware = _map(record.get("hardware"))
    gpus = [g for g in hardware.get("gpus") or () if isinstance(g, Mapping)]
    bandwidth, source = rig_bandwidth(gpus)
    speed = _map(record.get("speed"))
    experts = _map(_map(speed.get("plausibility")).get("experts"))
    factor = _positive(_map(speed.get("protocol")).get("ceiling_factor")) or 1.15
    size = _positive(_map(record.get("model")).get("size_bytes"))
    return ceiling(bandwidth, source, int(size) if size else None,
                   factor=min(float(factor), 1.15), expert_count=_int(experts.get("count")),
                   expert_used_count=_int(experts.get("used")),
                   hw_class=hardware.get("hw_class"),
                   cpu_family=_map(hardware.get("cpu")).get("family"))


def missing_environment(record: Mapping[str, Any]) -> list[str]:
    """The protocol makes driver, runtime and OS mandatory; a blank one is a rejection reason."""
    out = []
    runtime = _map(record.get("runtime"))
    if not runtime.get("version"):
        out.append("the runtime version is unknown")
    hardware = _map(record.get("hardware"))
    os_info = _map(hardware.get("os"))
    if not os_info.get("system") or not os_info.get("release"):
        out.append("the operating system is not recorded")
    for gpu in hardware.get("gpus") or ():
        if isinstance(gpu, Mapping) and gpu.get("vendor") in ("nvidia", "amd") and \
                not gpu.get("driver"):
            out.append(f"the driver version of {gpu.get('name') or 'a GPU'} is not recorded")
    return out


# -- helpers -------------------------------------------------------------------------------


def raw_run_dict(raw: RawRun) -> dict[str, Any]:
    """A RawRun as the record stores it (the gate reads it back with `_raw_run`)."""
    out = {
        "engine": dict(raw.engine) if raw.engine is not None else None,
        "engine_format": raw.engine_format,
        "arrivals_ms": [round(t, 3) for t in raw.arrivals_ms],
        "total_ms": round(raw.total_ms, 3),
        "prompt_tokens": raw.prompt_tokens,
        "completion_tokens": raw.completion_tokens,
        "finish_reason": raw.finish_reason,
    }
    if raw.prefill is not None:
        out["prefill"] = raw_run_dict(raw.prefill)
    return out


def _raw_run(run: Mapping[str, Any]) -> RawRun:
    raw = run["raw"]
    prefill = raw.get("prefill")
    return RawRun(
        text="",
        arrivals_ms=tuple(float(t) for t in raw.get("arrivals_ms") or ()),
        total_ms=float(raw.get("total_ms") or 0.0),
        engine=raw.get("engine"),
        engine_format=raw.get("engine_format"),
        prompt_tokens=_int(raw.get("prompt_tokens")),
        completion_tokens=_int(raw.get("completion_tokens")),
        finish_reason=raw.get("finish_reason"),
        prefill=_raw_run({"raw": prefill}) if isinstance(prefill, Mapping) else None,
    )


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _positive(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return None
    return float(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _close(recorded: Any, derived: float | None) -> bool:
    if derived is None:
        return recorded is None
    if isinstance(recorded, bool) or not isinstance(recorded, int | float):
        return False
    return math.isclose(float(recorded), derived, rel_tol=_REL_TOL, abs_tol=1e-6)


def _fmt(value: float | None) -> str:
    return "none" if value is None else f"{value:.3f}"
