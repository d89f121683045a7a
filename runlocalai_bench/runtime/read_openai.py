"""The probe's readers for vLLM (GET /version, /v1/models max_model_len; the quantization from
the model's config.json when it is on this machine), LM Studio (GET /api/v0/models; its version
from `lms version` on this machine) and any other OpenAI-compatible server (GET /v1/models)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from runlocalai_bench.rig.host import run_command
from runlocalai_bench.runtime.gguf import normalise_quantization
from runlocalai_bench.runtime.locality import is_local_endpoint
from runlocalai_bench.runtime.read_hf import local_config, quantization_of_config
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
    config = local_config(root) if is_local_endpoint(http.base) else None
    return RuntimeInfo(
        engine=spec.engine,
        version=version,
        slug=spec.slug(version),
        endpoint=http.base,
        build=version,
        model=ModelInfo(id=as_str(entry.get("id")) or model, path=root, context_length=max_len,
                        quantization=quantization_of_config(config) if config else None,
                        architecture=as_str(config.get("model_type")) if config else None),
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
    version = lms_version() if is_local_endpoint(http.base) else None
    return RuntimeInfo(
        engine=spec.engine,
        version=version,
        slug=spec.slug(version),
        build=version,
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


_VERSION = re.compile(r"\b(\d+\.\d+\.\d+(?:[-+.][0-9A-Za-z.]+)?)\b")


def lms_version() -> str | None:
    """LM Studio's version as its CLI on this machine prints it (`lms version`): its REST API
    states none."""
    found = _VERSION.search(run_command(["lms", "version"]) or "")
    return found.group(1) if found else None


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
