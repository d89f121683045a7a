"""Whether a run was greedy and repeatable, judged from what its record says the server reported
and what rla sent. Pure functions over plain values: the trust gate (publish/trust.py) lists
their reasons, `rla reproduce` refuses an original they object to.

    sampler_reasons        a server default that changes greedy output (REFERENCE §3: /props
                           default_generation_settings, /api/show parameters) and that the
                           requests did not override with the neutral value
    request_reasons        requested settings that make greedy output depend on the run: more
                           than one request in flight, the prompt cache on
    server_reasons         a server with several slots (or a llama-server whose slots are
                           unknown)
    batching               what the record states about batching (record.batching, version
                           4): the server's slots, the requests in flight per endpoint and in
                           all, and whether requests could share a batch
    batching_reasons       the gate's line for a run that says it was batched: an exploration or
                           CI run against llama-server --parallel N or vLLM, never a row
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runlocalai_bench.backends.fields import GREEDY, NEUTRAL

LEADERBOARD_HINT = "rerun with --config leaderboard"


def sent_fields(sent: Mapping[str, Any]) -> Mapping[str, Any]:
    """The fields a request carried, Ollama's nested `options` beside the top-level ones."""
    options = sent.get("options")
    return {**sent, **options} if isinstance(options, Mapping) else dict(sent)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(float(a) - float(b)) < 1e-6  # servers report float32 values
    return bool(a == b)


def sampler_reasons(engine: str, defaults: Mapping[str, Any],
                    sent: Mapping[str, Any]) -> list[str]:
    """One line per sampler the server defaults to a non-neutral value that the requests left
    to that default (or sent non-neutral themselves)."""
    checked = {**GREEDY, **NEUTRAL.get(engine, {})}
    fields = sent_fields(sent)
    out = []
    for key, neutral in checked.items():
        if key not in defaults or _same(defaults[key], neutral):
            continue
        if key in fields and _same(fields[key], neutral):
            continue  # overridden on every request
        what = f"sent {fields[key]!r}" if key in fields else "not overridden"
        out.append(f"the server's default {key} {defaults[key]!r} changes greedy output and was"
                   f" {what} (neutral: {neutral!r}): restart the server without it, or use an"
                   " rla that sends it")
    return out


def request_reasons(*, concurrency: int, cache_prompt: bool) -> list[str]:
    """One line per requested setting that makes greedy output depend on the run (REFERENCE
    §3): several requests batched together, a cached prefix reused. `rla reproduce` would copy
    these, so it refuses them."""
    out = []
    if concurrency != 1:
        out.append(f"{concurrency} requests were in flight at once (--concurrency"
                   f" {concurrency}): batching changes results; {LEADERBOARD_HINT}")
    if cache_prompt:
        out.append("the server's prompt cache was on (--cache-prompt): cached prefixes change"
                   f" logits; {LEADERBOARD_HINT}")
    return out


def server_reasons(*, engine: str, slots: int | None) -> list[str]:
    """A server with several slots batches requests together; llama-server reports its slots,
    and a row from one must have them recorded."""
    if slots is not None and slots > 1:
        return [f"the server has {slots} slots (llama-server --parallel {slots}): requests"
                " share batches and results change; restart it with --parallel 1"]
    if slots is None and engine == "llama.cpp":
        return ["the server's slot count (/props total_slots) was not recorded: restart"
                " llama-server with --parallel 1 and run again"]
    return []


def batching(*, slots: int | None, concurrency: int, endpoints: int) -> dict[str, Any]:
    """record.batching: a run batched when a server has several slots (llama-server
    --parallel N) or one endpoint had several requests in flight (vLLM batches whatever
    arrives together; its slots are not reported)."""
    return {"batched": concurrency > 1 or (slots or 1) > 1, "slots": slots,
            "concurrency": concurrency, "in_flight": concurrency * max(endpoints, 1)}


def batching_reasons(*, batched: bool, slots: int | None, concurrency: int) -> list[str]:
    """The record says its requests could share batches: results depend on what ran beside
    them, so the row is refused whatever else it says."""
    if not batched:
        return []
    server = f"{slots} server slots, " if slots else ""
    return [f"the record states a batched run ({server}{concurrency} request(s) in flight per"
            " endpoint): a batching server is for exploration and CI runs, not leaderboard rows;"
            f" {LEADERBOARD_HINT} against a server with one slot"]
