"""The probe's reader for Ollama: GET /api/version, POST /api/show (the weights' sha256 is the
blob its modelfile is FROM), the model's size from /api/tags, and with no model named, the one
model running (/api/ps) or pulled (/api/tags)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runlocalai_bench import jsonio
from runlocalai_bench.errors import EndpointError, RlaError
from runlocalai_bench.redact import redact
from runlocalai_bench.runtime.gguf import normalise_quantization, parse_size_label, template_sha256
from runlocalai_bench.runtime.identity import ollama_blob
from runlocalai_bench.runtime.replies import (
    ProbeHttp,
    as_int,
    as_map,
    as_str,
    openai_models,
    version_of,
)
from runlocalai_bench.runtime.runners import RunnerSpec
from runlocalai_bench.types import ModelInfo, RuntimeInfo


def parse_ollama_parameters(text: str | None) -> dict[str, Any]:
    """Ollama's `parameters` text ("num_ctx 4096\\nstop \\"<|eot_id|>\\"") → a dict; repeated
    keys (stop) become lists, numbers become numbers."""
    out: dict[str, Any] = {}
    for line in (text or "").splitlines():
        key, _, raw = line.strip().partition(" ")
        if not key or not raw.strip():
            continue
        try:
            value: Any = jsonio.loads(raw.strip(), f"Ollama's parameter {key}")
        except RlaError:
            value = raw.strip()
        if key == "stop":
            out.setdefault("stop", []).append(value)
        else:
            out[key] = value
    return out


def read_ollama(http: ProbeHttp, spec: RunnerSpec, model: str | None) -> RuntimeInfo:
    version = version_of(http, spec)
    openai_models(http, spec)
    name = model or _only_ollama_model(http)
    info = ModelInfo(id=name)
    parameters: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if name:
        reply = http.post("/api/show", {"model": name, "name": name})
        if reply.status == 404:
            raise EndpointError(
                f"Ollama at {redact(http.base)} has no model {name!r}",
                hint=f"pull it first: ollama pull {name}",
            )
        show = as_map(reply.json) if reply.ok else {}
        details = as_map(show.get("details"))
        model_info = as_map(show.get("model_info"))
        arch = as_str(model_info.get("general.architecture")) or as_str(details.get("family"))
        quant = as_str(details.get("quantization_level"))
        parameters = parse_ollama_parameters(as_str(show.get("parameters")))
        info = ModelInfo(
            id=name,
            architecture=arch,
            name=as_str(model_info.get("general.name"))
            or as_str(model_info.get("general.basename")),
            parameters=as_int(model_info.get("general.parameter_count"))
            or parse_size_label(as_str(details.get("parameter_size"))),
            quantization=normalise_quantization(quant) if quant else None,
            context_length=as_int(model_info.get(f"{arch}.context_length")) if arch else None,
            chat_template_sha256=template_sha256(as_str(show.get("template"))),
            sha256=ollama_blob(as_str(show.get("modelfile"))),
            size_bytes=_pulled_size(http, name),
        )
        extra = {
            k: details.get(k) for k in ("format", "family", "parameter_size", "quantization_level")
        }
    return RuntimeInfo(
        engine=spec.engine,
        version=version,
        slug=spec.slug(version),
        endpoint=http.base,
        build=version,
        model=info,
        n_ctx=as_int(parameters.get("num_ctx")),
        sampler_defaults=parameters,
        settings={k: v for k, v in extra.items() if v},
    )


def _pulled_size(http: ProbeHttp, name: str) -> int | None:
    """The model's size on disk, from the pulled models' list (/api/tags)."""
    reply = http.get("/api/tags")
    models = reply.json.get("models") if reply.ok and isinstance(reply.json, Mapping) else None
    for entry in models if isinstance(models, list) else ():
        if isinstance(entry, Mapping) and name in (entry.get("name"), entry.get("model")):
            return as_int(entry.get("size"))
    return None


def _only_ollama_model(http: ProbeHttp) -> str | None:
    """With no model named: the one model running (/api/ps), else the one pulled (/api/tags)."""
    for path in ("/api/ps", "/api/tags"):
        reply = http.get(path)
        models = reply.json.get("models") if reply.ok and isinstance(reply.json, Mapping) else None
        if isinstance(models, list) and len(models) == 1 and isinstance(models[0], Mapping):
            name = models[0].get("name") or models[0].get("model")
            if isinstance(name, str):
                return name
    return None
