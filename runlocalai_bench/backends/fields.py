"""The request fields beyond the OpenAI schema that each engine gets: one table for generate
and stream alike.

They make decoding greedy and repeatable (`top_k`, llama-server's `cache_prompt`) and let a
speed run generate its full length (`ignore_eos`). Servers not listed get only standard fields
(strict servers reject unknown ones). Ollama's native API and llama-cpp-python take their own
option sets (backends/ollama.py, backends/llama_cpp.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ENGINE_FIELDS: Mapping[str, tuple[str, ...]] = {
    "llama.cpp": ("top_k", "cache_prompt", "ignore_eos"),
    "vllm": ("top_k", "ignore_eos"),
    "lmstudio": ("top_k",),
}


def engine_fields(engine: str, *, top_k: int, cache_prompt: bool,
                  ignore_eos: bool = False) -> dict[str, Any]:
    """The extra fields `engine` understands, in wire order; `ignore_eos` only when asked."""
    fields = ENGINE_FIELDS.get(engine, ())
    out: dict[str, Any] = {}
    if "top_k" in fields:
        out["top_k"] = top_k
    if "cache_prompt" in fields:
        out["cache_prompt"] = cache_prompt
    if "ignore_eos" in fields and ignore_eos:
        out["ignore_eos"] = True
    return out
