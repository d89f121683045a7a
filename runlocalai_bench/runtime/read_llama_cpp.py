"""The probe's reader for llama.cpp's llama-server: GET /props, GET /v1/models (meta), and the
served GGUF's header when the file is on this machine."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path

from runlocalai_bench.errors import ModelFileError
from runlocalai_bench.runtime.gguf import (
    GGUFInfo,
    normalise_quantization,
    read_gguf,
    template_sha256,
)
from runlocalai_bench.runtime.replies import (
    ProbeHttp,
    as_int,
    as_map,
    as_str,
    openai_models,
    pick,
    scalars,
)
from runlocalai_bench.runtime.runners import RunnerSpec
from runlocalai_bench.types import ModelInfo, RuntimeInfo


def parse_build_info(build_info: str | None) -> tuple[str | None, str | None]:
    """llama.cpp's "b<build>-<commit>" → (version, commit): ("b6500", "5e9b8fd").

    A build without git history reports "b0-unknown"; the version is then the commit when one
    is known, else None."""
    if not build_info:
        return None, None
    head, _, commit_part = build_info.strip().partition("-")
    commit = commit_part if commit_part and commit_part != "unknown" else None
    number = head[1:] if head.startswith("b") else ""
    if number.isdigit() and int(number) > 0:
        return f"b{int(number)}", commit
    return commit, commit


def read_llama_cpp(http: ProbeHttp, spec: RunnerSpec, model: str | None) -> RuntimeInfo:
    props = as_map(http.get(spec.identify_path).json)
    entry = pick(openai_models(http, spec), model, spec, http)
    meta = as_map(entry.get("meta"))
    build_info = as_str(props.get("build_info"))
    version, commit = parse_build_info(build_info)

    settings = as_map(props.get("default_generation_settings"))
    # Newer servers put the sampler defaults under "params"; older ones beside n_ctx.
    if isinstance(settings.get("params"), Mapping):
        sampler = scalars(settings["params"])
    else:
        sampler = scalars(settings, skip=_NOT_SAMPLER)
    n_ctx = as_int(settings.get("n_ctx")) or as_int(meta.get("n_ctx"))

    model_path = as_str(props.get("model_path"))
    local = _local_gguf(model_path)
    ftype = as_str(meta.get("ftype")) or as_str(props.get("model_ftype"))
    info = ModelInfo(
        id=as_str(entry.get("id")),
        path=model_path,
        size_bytes=local.size_bytes if local else as_int(meta.get("size")),
        architecture=local.architecture if local else None,
        name=local.name if local else None,
        parameters=as_int(meta.get("n_params")) or (local.parameters if local else None),
        quantization=normalise_quantization(ftype)
        if ftype
        else (local.quantization if local else None),
        context_length=as_int(meta.get("n_ctx_train")) or (local.context_length if local else None),
        chat_template_sha256=template_sha256(as_str(props.get("chat_template"))),
    )
    slots = as_int(props.get("total_slots"))
    extra = {
        "n_vocab": as_int(meta.get("n_vocab")),
        "n_embd": as_int(meta.get("n_embd")),
        "vocab_type": as_int(meta.get("vocab_type")),
        "model_alias": as_str(props.get("model_alias")),
        "launch": launch_line(model_path, n_ctx, slots),
    }
    return RuntimeInfo(
        engine=spec.engine,
        version=version,
        slug=spec.slug(version),
        endpoint=http.base,
        build=build_info,
        commit=commit,
        model=info,
        slots=slots,
        n_ctx=n_ctx,
        sampler_defaults=sampler,
        settings={k: v for k, v in extra.items() if v is not None},
    )


def launch_line(model_path: str | None, n_ctx: int | None, slots: int | None) -> str | None:
    """The server's launch configuration as far as /props states it, as the command that starts
    the same server: the model by file name, the context (/props gives a slot's; --ctx-size is
    shared among the slots) and the slots. Batch, KV-cache type, flash attention and GPU layers
    are not reported, so llama-server's defaults stand for them."""
    if not model_path or not n_ctx or not slots:
        return None
    return shlex.join(["llama-server", "--model", Path(model_path).name, "--ctx-size",
                       str(n_ctx * slots), "--parallel", str(slots)])


# Keys of an older llama-server's default_generation_settings that are not sampler settings.
_NOT_SAMPLER = (
    "n_ctx",
    "model",
    "id",
    "id_task",
    "id_slot",
    "is_processing",
    "prompt",
    "next_token",
)


def _local_gguf(model_path: str | None) -> GGUFInfo | None:
    """The GGUF header of the server's model file when it is on this machine, else None."""
    if not model_path or not Path(model_path).is_file():
        return None
    try:
        return read_gguf(model_path)
    except ModelFileError:
        return None
