"""The probe's readers for vLLM (GET /version, /v1/models max_model_len), LM Studio
(GET /api/v0/models) and any other OpenAI-compatible server (GET /v1/models)."""

from __future__ import annotations

from collections.abc import Mapping

from runlocalai_bench.runtime.gguf import normalise_quantization
from runlocalai_bench.runtime.replies import (
    ProbeHttp,
    as_int,
    as_map,
    as_str,
    openai_models,
    pick,
    version_of,
)
from runlocalai_bench.runtime.runners import RunnerSpec
from runlocalai_bench.types import ModelInfo, RuntimeInfo


def read_vllm(http: ProbeHttp, spec: RunnerSpec, model: str | None) -> RuntimeInfo:
    version = version_of(http, spec)
    entry = pick(openai_models(http, spec), model, spec, http)
    max_len = as_int(entry.get("max_model_len"))
    root = as_str(entry.get("root"))
    return RuntimeInfo(
        engine=spec.engine,
        version=version,
        slug=spec.slug(version),
        endpoint=http.base,
        build=version,
        model=ModelInfo(id=as_str(entry.get("id")) or model, path=root, context_length=max_len),
        n_ctx=max_len,
        settings={"root": root} if root else {},
    )


def read_lmstudio(http: ProbeHttp, spec: RunnerSpec, model: str | None) -> RuntimeInfo:
    openai_models(http, spec)
    listing = as_map(http.get(spec.identify_path).json).get("data")
    entries = [e for e in listing if isinstance(e, Mapping)] if isinstance(listing, list) else []
    entry = pick(entries, model, spec, http, prefer=lambda e: e.get("state") == "loaded")
    quant = as_str(entry.get("quantization"))
    loaded_ctx = as_int(entry.get("loaded_context_length"))
    extra = {k: entry.get(k) for k in ("state", "type", "publisher", "compatibility_type")}
    return RuntimeInfo(
        engine=spec.engine,
        version=None,
        slug=spec.slug(None),
        endpoint=http.base,
        model=ModelInfo(
            id=as_str(entry.get("id")) or model,
            architecture=as_str(entry.get("arch")),
            quantization=normalise_quantization(quant) if quant else None,
            context_length=as_int(entry.get("max_context_length")),
        ),
        n_ctx=loaded_ctx,
        settings={k: v for k, v in extra.items() if v is not None},
    )


def read_openai_compatible(http: ProbeHttp, spec: RunnerSpec, model: str | None) -> RuntimeInfo:
    version = version_of(http, spec)
    entry = pick(openai_models(http, spec), model, spec, http)
    owner = entry.get("owned_by")
    return RuntimeInfo(
        engine=spec.engine,
        version=version,
        slug=spec.slug(version),
        endpoint=http.base,
        build=version,
        model=ModelInfo(id=as_str(entry.get("id")) or model),
        settings={"owned_by": owner} if isinstance(owner, str) else {},
    )
