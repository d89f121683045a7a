"""A previous run's recorded generation, read back from its samples.jsonl line (rla rescore)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runlocalai_bench.types import Generation, TokenLogprob


def generation_from_line(line: Mapping[str, Any]) -> Generation:
    gen = line.get("generation") or {}
    cands = gen.get("candidate_logprobs")
    return Generation(
        text=gen.get("text", line.get("response", "")),
        top_logprobs=tuple(TokenLogprob(t, float(lp)) for t, lp in gen.get("top_logprobs", [])),
        candidate_logprobs=None if cands is None else
        tuple(TokenLogprob(t, float(lp)) for t, lp in cands),
        finish_reason=gen.get("finish_reason"),
        prompt_tokens=gen.get("prompt_tokens"),
        completion_tokens=gen.get("completion_tokens"),
        latency_ms=float(line.get("latency_ms") or 0.0),
        server_timings=line.get("server_timings"),
    )
