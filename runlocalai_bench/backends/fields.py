"""The request fields beyond the OpenAI schema that each engine gets: one table for generate
and stream alike, and the neutral value of every sampler each engine exposes.

A server applies its own defaults (llama-server's `--repeat-penalty`, an Ollama Modelfile's
PARAMETER lines, a vLLM model's generation_config, an LM Studio preset) to every field a request
leaves out, and several of them change greedy output: repetition penalties, DRY, min_p,
typical_p, XTC, mirostat. So rla sends each one explicitly neutral (`NEUTRAL`), records it as
sent, and the trust gate (runtime/greedy.py) refuses a server default it did not override.

`top_k` and llama-server's `cache_prompt` make decoding greedy and repeatable; `ignore_eos` lets a
speed run generate its full length. Servers not listed get only standard fields (strict servers
reject unknown ones). Ollama's native API takes its options from `NEUTRAL["ollama"]`
(backends/ollama.py); llama-cpp-python in process passes the same neutral values as arguments
(backends/llama_cpp.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ENGINE_FIELDS: Mapping[str, tuple[str, ...]] = {
    "llama.cpp": ("top_k", "cache_prompt", "ignore_eos"),
    "vllm": ("top_k", "ignore_eos"),
    "lmstudio": ("top_k",),
}

# The OpenAI schema's own penalties: every OpenAI-speaking server takes them.
_OPENAI_NEUTRAL: Mapping[str, Any] = {"presence_penalty": 0.0, "frequency_penalty": 0.0}

# engine → every sampler field it accepts that can change greedy output, at its neutral value
# (the value that switches it off). Field names are the engine's own request fields; for
# llama-server and Ollama they are also the names its defaults are reported under (/props
# default_generation_settings.params, /api/show parameters).
NEUTRAL: Mapping[str, Mapping[str, Any]] = {
    # tools/server/server-schema.cpp: each "(0 = disabled)" / "(1.0 = disabled)" field.
    "llama.cpp": {
        **_OPENAI_NEUTRAL, "repeat_penalty": 1.0, "dry_multiplier": 0.0, "min_p": 0.0,
        "typical_p": 1.0, "xtc_probability": 0.0, "top_n_sigma": -1.0, "dynatemp_range": 0.0,
        "mirostat": 0,
    },
    # vLLM's SamplingParams; a model's generation_config.json sets defaults for any of them.
    "vllm": {**_OPENAI_NEUTRAL, "repetition_penalty": 1.0, "min_p": 0.0},
    # LM Studio's OpenAI-compatible fields beyond the schema (its presets fill the rest).
    "lmstudio": {**_OPENAI_NEUTRAL, "repeat_penalty": 1.0},
    # Ollama's native options (a Modelfile's PARAMETER lines set their defaults).
    "ollama": {
        **_OPENAI_NEUTRAL, "repeat_penalty": 1.0, "min_p": 0.0, "typical_p": 1.0,
        "mirostat": 0,
    },
    "openai-compatible": _OPENAI_NEUTRAL,
}

# The greedy fields every engine gets in its standard form (temperature, top_p, top_k): what
# rla sends for them comes from SamplingParams; a server default for them is overridden alike.
GREEDY: Mapping[str, Any] = {"temperature": 0.0, "top_p": 1.0, "top_k": 1}


def neutral_samplers(engine: str) -> dict[str, Any]:
    """The sampler fields `engine` gets at their neutral values, in wire order."""
    return dict(NEUTRAL.get(engine, _OPENAI_NEUTRAL))


def engine_fields(engine: str, *, top_k: int, cache_prompt: bool,
                  ignore_eos: bool = False) -> dict[str, Any]:
    """The extra fields `engine` understands, in wire order: its greedy and cache fields, every
    sampler neutral, then `ignore_eos` only when asked."""
    fields = ENGINE_FIELDS.get(engine, ())
    out: dict[str, Any] = {}
    if "top_k" in fields:
        out["top_k"] = top_k
    if "cache_prompt" in fields:
        out["cache_prompt"] = cache_prompt
    out.update(neutral_samplers(engine))
    if "ignore_eos" in fields and ignore_eos:
        out["ignore_eos"] = True
    return out
