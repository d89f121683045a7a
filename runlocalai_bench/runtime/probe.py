"""Identify the inference server behind an endpoint and what it is serving.

`probe_endpoint` asks the server the questions each runtime answers (the facts live in
`runners/*.toml`: which path and keys recognise it, where its version is) and returns a
RuntimeInfo: engine, version and build, the runtime slug the leaderboard shows
(`llama.cpp-b6500`, `ollama-0.24.0`), the model's parameters, quantization and context, slots,
sampler defaults and the chat template's sha256.

    llama.cpp llama-server   GET /props, GET /v1/models (meta), GET /health
    Ollama                   GET /api/version, POST /api/show
    vLLM                     GET /version, GET /v1/models (max_model_len)
    LM Studio                GET /api/v0/models
    llama-cpp-python server  GET /openapi.json
    anything else            GET /v1/models

The probe's HTTP is replies.py's (over backends/http.py's clients), each engine's reader its own
module (read_llama_cpp.py, read_ollama.py, read_openai.py), the recognition facts runners.py's.

Every failure a user can cause is an EndpointError with a hint: nothing listening, a name
that does not resolve, a server still loading its model, a server that wants an API key, and
a server that answers but does not speak the OpenAI API.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from runlocalai_bench.backends import http as engine_http
from runlocalai_bench.backends.http import normalise_endpoint
from runlocalai_bench.runtime.read_llama_cpp import read_llama_cpp
from runlocalai_bench.runtime.read_ollama import read_ollama
from runlocalai_bench.runtime.read_openai import read_lmstudio, read_openai_compatible, read_vllm
from runlocalai_bench.runtime.replies import MISSING, ProbeHttp, dig, not_openai
from runlocalai_bench.runtime.runners import RunnerSpec, runner_specs
from runlocalai_bench.types import RuntimeInfo

_READERS: Mapping[str, Callable[[ProbeHttp, RunnerSpec, str | None], RuntimeInfo]] = {
    "llama.cpp": read_llama_cpp,
    "ollama": read_ollama,
    "vllm": read_vllm,
    "lmstudio": read_lmstudio,
}


def probe_endpoint(
    url: str,
    *,
    model: str | None = None,
    timeout: float = 5.0,
    api_key: str | None = None,
) -> RuntimeInfo:
    """Identify the server at `url` and describe the runtime and model it serves.

    `model` is the name requests will use; servers that serve several models (Ollama, vLLM,
    LM Studio) are asked about that one and an unknown name is an error."""
    base = normalise_endpoint(url)
    with engine_http.client(timeout=timeout, api_key=api_key) as session:
        http = ProbeHttp(session, base, timeout)
        spec = _identify(http)
        reader = _READERS.get(spec.engine, read_openai_compatible)
        return reader(http, spec, model)


def _identify(http: ProbeHttp) -> RunnerSpec:
    for spec in runner_specs():
        reply = http.get(spec.identify_path)
        if reply.ok and isinstance(reply.json, Mapping) and _matches(reply.json, spec):
            return spec
    raise not_openai(http)


def _matches(body: Mapping[str, Any], spec: RunnerSpec) -> bool:
    if not all(dig(body, key) is not MISSING for key in spec.identify_keys):
        return False
    if not all(dig(body, key) == value for key, value in spec.identify_values.items()):
        return False
    return spec.identify_entries is None or _entries_match(dig(body, spec.identify_entries), spec)


def _entries_match(entries: Any, spec: RunnerSpec) -> bool:
    """A listing in the runtime's own shape (LM Studio's entries carry arch, state …), not
    whatever list a server answers on the path: at least one entry, each an object with every
    identify_entry_keys key and one of identify_entry_any_of."""
    if not isinstance(entries, list) or not entries:
        return False
    any_of = spec.identify_entry_any_of
    return all(
        isinstance(entry, Mapping)
        and all(key in entry for key in spec.identify_entry_keys)
        and (not any_of or any(key in entry for key in any_of))
        for entry in entries
    )
