"""Turn a RunConfig into a ready Streamer: probe the server, or load the GGUF in process."""

from __future__ import annotations

from pathlib import Path

from runlocalai_bench.config import RunConfig
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.speed.streams import (
    Experts,
    InProcessStreamer,
    OllamaStreamer,
    OpenAIStreamer,
    Streamer,
    experts_from_metadata,
)


def open_streamer(config: RunConfig) -> Streamer:
    if config.endpoint:
        from runlocalai_bench.runtime.probe import probe_endpoint

        runtime = probe_endpoint(config.endpoint, model=config.model)
        model = config.model or runtime.model.id
        if not model:
            raise ConfigError(f"{config.endpoint} serves no model rla could identify",
                              hint="pass --model NAME as the server lists it under /v1/models")
        if runtime.engine == "ollama":
            return OllamaStreamer(config.endpoint, model, runtime, sampling=config.sampling,
                                  timeout=config.timeout, api_key=config.api_key)
        return OpenAIStreamer(config.endpoint, model, runtime, sampling=config.sampling,
                              timeout=config.timeout, api_key=config.api_key,
                              experts=_local_experts(runtime.model.path))

    from runlocalai_bench.models import embedded_model_path
    from runlocalai_bench.runtime.model_file import model_info_from_gguf

    path = config.model_path or embedded_model_path()
    info = model_info_from_gguf(path)  # a missing or corrupt file is reported before loading
    return InProcessStreamer(path, info, sampling=config.sampling, n_ctx=config.n_ctx,
                             n_threads=config.n_threads)


def _local_experts(model_path: str | None) -> Experts:
    """Expert counts from the served GGUF's header when the file is on this machine."""
    from runlocalai_bench.errors import ModelFileError
    from runlocalai_bench.runtime.gguf import read_gguf

    if not model_path or not Path(model_path).is_file():
        return Experts()
    try:
        info = read_gguf(model_path)
    except ModelFileError:
        return Experts()
    return experts_from_metadata(info.metadata, info.architecture)
