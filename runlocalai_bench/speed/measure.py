"""One run's speed, from two independent sources, as pure functions of what was observed.

Engine timings are the engine's own clock:

    llama.cpp llama-server   `timings`: prompt_n, prompt_ms, prompt_per_second, predicted_n,
                             predicted_ms, predicted_per_second (its last streamed event)
    Ollama                   prompt_eval_count, prompt_eval_duration, eval_count, eval_duration
                             (durations in nanoseconds; the final NDJSON object of /api/generate)
    llama-cpp-python         llama.cpp's perf counters: n_p_eval, t_p_eval_ms, n_eval, t_eval_ms

Stream timings are ours: the time each token-bearing event arrived, counted from the moment the
request was sent. TTFT is the first arrival; the stream decode rate is the tokens after the
first over the time between the first and the last arrival.

A split run (llama-bench's way) carries a separate prefill request in `RawRun.prefill`: the
prompt for one token. Prefill tok/s, TTFT and prompt tokens then come from it, decode from the
main request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

LLAMA_CPP = "llama.cpp"
OLLAMA = "ollama"
LLAMA_CPP_PERF = "llama.cpp-perf"
ENGINE_FORMATS = (LLAMA_CPP, OLLAMA, LLAMA_CPP_PERF)


@dataclass(frozen=True)
class RawRun:
    """What one streamed generation returned, as observed. `engine` is the engine's timing
    object exactly as it sent it; `arrivals_ms` are ms from sending the request to each event
    that carried generated text."""

    text: str
    arrivals_ms: tuple[float, ...]
    total_ms: float
    engine: Mapping[str, Any] | None = None
    engine_format: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    request: Mapping[str, Any] = field(default_factory=dict)
    prefill: RawRun | None = None  # the separate prefill request of a split run


@dataclass(frozen=True)
class EngineTiming:
    prompt_n: int | None
    prompt_ms: float | None
    predicted_n: int | None
    predicted_ms: float | None
    prefill_tps: float | None
    decode_tps: float | None


@dataclass(frozen=True)
class StreamTiming:
    ttft_ms: float | None
    events: int
    decode_ms: float | None  # first arrival → last arrival
    decode_tps: float | None


@dataclass(frozen=True)
class Measurement:
    """One run's figures. The headline decode and prefill rates are the engine's where it
    reported them, else the stream's; `*_source` says which."""

    decode_tps: float | None
    decode_source: str | None  # engine | stream
    prefill_tps: float | None
    prefill_source: str | None  # engine | stream
    ttft_ms: float | None
    prompt_tokens: int | None
    generated_tokens: int | None
    engine: EngineTiming | None
    stream: StreamTiming
    finish_reason: str | None = None
    prefill_run: Measurement | None = None  # the prefill request of a split run


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _count(value: Any) -> int | None:
    number = _num(value)
    return int(number) if number is not None else None


def _rate(n: int | None, ms: float | None) -> float | None:
    if not n or not ms or ms <= 0:
        return None
    return n * 1000.0 / ms


def _positive(value: float | None) -> float | None:
    return value if value is not None and value > 0 else None


def engine_timing(raw: Mapping[str, Any] | None, fmt: str | None) -> EngineTiming | None:
    """Normalise an engine's timing object. A rate the engine states itself (llama-server's
    `*_per_second`) is taken as stated; otherwise it is count / time."""
    if not isinstance(raw, Mapping) or fmt is None:
        return None
    if fmt == LLAMA_CPP:
        prompt_n, prompt_ms = _count(raw.get("prompt_n")), _num(raw.get("prompt_ms"))
        predicted_n, predicted_ms = _count(raw.get("predicted_n")), _num(raw.get("predicted_ms"))
        prefill = _positive(_num(raw.get("prompt_per_second"))) or _rate(prompt_n, prompt_ms)
        # One generated token involves no decode step (it comes from the prompt's logits).
        decode = _positive(_num(raw.get("predicted_per_second"))) or (
            _rate(predicted_n, predicted_ms) if (predicted_n or 0) > 1 else None)
    elif fmt == OLLAMA:
        prompt_n, predicted_n = _count(raw.get("prompt_eval_count")), _count(
            raw.get("eval_count"))
        prompt_ns, eval_ns = _num(raw.get("prompt_eval_duration")), _num(
            raw.get("eval_duration"))
        prompt_ms = prompt_ns / 1e6 if prompt_ns is not None else None
        predicted_ms = eval_ns / 1e6 if eval_ns is not None else None
        prefill, decode = _rate(prompt_n, prompt_ms), _rate(predicted_n, predicted_ms)
    elif fmt == LLAMA_CPP_PERF:
        prompt_n, prompt_ms = _count(raw.get("n_p_eval")), _num(raw.get("t_p_eval_ms"))
        predicted_n, predicted_ms = _count(raw.get("n_eval")), _num(raw.get("t_eval_ms"))
        prefill, decode = _rate(prompt_n, prompt_ms), _rate(predicted_n, predicted_ms)
    else:
        return None
    if prompt_n is None and predicted_n is None:
        return None
    return EngineTiming(prompt_n=prompt_n, prompt_ms=prompt_ms, predicted_n=predicted_n,
                        predicted_ms=predicted_ms, prefill_tps=prefill, decode_tps=decode)


def stream_timing(arrivals_ms: Sequence[float], tokens: int | None = None) -> StreamTiming:
    """TTFT and decode rate from arrival times. `tokens` is the generated-token count when the
    engine states it (an event may carry more than one token); else one token per event."""
    if not arrivals_ms:
        return StreamTiming(ttft_ms=None, events=0, decode_ms=None, decode_tps=None)
    first, last = arrivals_ms[0], arrivals_ms[-1]
    n = tokens if tokens is not None and tokens >= len(arrivals_ms) else len(arrivals_ms)
    span = last - first
    rate = (n - 1) * 1000.0 / span if n > 1 and span > 0 else None
    return StreamTiming(ttft_ms=first, events=len(arrivals_ms),
                        decode_ms=span if len(arrivals_ms) > 1 else None, decode_tps=rate)


def measure(run: RawRun) -> Measurement:
    if run.prefill is not None:
        return _split(measure(replace(run, prefill=None)), measure(run.prefill))
    engine = engine_timing(run.engine, run.engine_format)
    generated = run.completion_tokens
    if engine is not None and engine.predicted_n is not None and run.engine_format != \
            LLAMA_CPP_PERF:
        generated = engine.predicted_n
    if generated is None:
        generated = len(run.arrivals_ms) or None
    prompt_tokens = engine.prompt_n if engine and engine.prompt_n is not None else \
        run.prompt_tokens
    stream = stream_timing(run.arrivals_ms, generated)
    decode, decode_src = (engine.decode_tps, "engine") if engine and engine.decode_tps else \
        (stream.decode_tps, "stream" if stream.decode_tps else None)
    if engine and engine.prefill_tps:
        prefill, prefill_src = engine.prefill_tps, "engine"
    elif prompt_tokens and stream.ttft_ms:
        # Without engine timings the first arrival bounds prefill (it includes one decode step
        # and the transport): a lower bound on the prefill rate.
        prefill, prefill_src = prompt_tokens * 1000.0 / stream.ttft_ms, "stream"
    else:
        prefill, prefill_src = None, None
    return Measurement(
        decode_tps=decode, decode_source=decode_src, prefill_tps=prefill,
        prefill_source=prefill_src, ttft_ms=stream.ttft_ms, prompt_tokens=prompt_tokens,
        generated_tokens=generated, engine=engine, stream=stream,
        finish_reason=run.finish_reason,
    )


def _split(decode: Measurement, prefill: Measurement) -> Measurement:
    """A split run: decode figures from the decode request, prefill, TTFT and the prompt's
    length from the prefill request."""
    return replace(decode, prefill_tps=prefill.prefill_tps, prefill_source=prefill.prefill_source,
                   ttft_ms=prefill.ttft_ms, prompt_tokens=prefill.prompt_tokens,
                   prefill_run=prefill)
