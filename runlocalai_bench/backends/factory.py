"""Turn a RunConfig into a ready engine client: probe the server, or load the GGUF in process.

Quality runs get a Backend (`open_backend`), speed runs a Streamer (`open_streamer`); both probe
the endpoint the same way (with the api key) and read a local GGUF the same way (its sha256 from
rla's hash cache), the served one too when the server runs on this machine.
"""

from __future__ import annotations

from pathlib import Path

from runlocalai_bench.backends.base import Backend, Experts, Streamer, experts_from_metadata
from runlocalai_bench.config import RunConfig
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.types import ModelInfo, RuntimeInfo


def open_backend(config: RunConfig) -> Backend:
    if config.endpoint:
        runtime, model = _probe(config, config.endpoint)
        if runtime.engine == "ollama":
            from runlocalai_bench.backends.ollama import OllamaBackend

            return OllamaBackend(
                config.endpoint, model, runtime, sampling=config.sampling,
                num_ctx=config.n_ctx, timeout=config.timeout, retries=config.retries,
                api_key=config.api_key, fault_window=config.give_up_after,
            )
        from runlocalai_bench.backends.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(
            config.endpoint, model, runtime, sampling=config.sampling, timeout=config.timeout,
            retries=config.retries, api_key=config.api_key, fault_window=config.give_up_after,
        )

    from runlocalai_bench.backends.llama_cpp import LlamaCppBackend, import_llama_cpp

    path, info = _local_model(config)
    import_llama_cpp()
    return LlamaCppBackend(path, info, sampling=config.sampling, n_ctx=config.n_ctx,
                           n_threads=config.n_threads)


def open_streamer(config: RunConfig) -> Streamer:
    if config.endpoint:
        runtime, model = _probe(config, config.endpoint)
        if runtime.engine == "ollama":
            from runlocalai_bench.backends.ollama import OllamaStreamer

            return OllamaStreamer(config.endpoint, model, runtime, sampling=config.sampling,
                                  timeout=config.timeout, api_key=config.api_key)
        from runlocalai_bench.backends.openai_compat import OpenAIStreamer

        return OpenAIStreamer(config.endpoint, model, runtime, sampling=config.sampling,
                              timeout=config.timeout, api_key=config.api_key,
                              experts=_local_experts(runtime.model.path))

    from runlocalai_bench.backends.llama_cpp import InProcessStreamer

    path, info = _local_model(config)
    return InProcessStreamer(path, info, sampling=config.sampling, n_ctx=config.n_ctx,
                             n_threads=config.n_threads)


def _probe(config: RunConfig, endpoint: str) -> tuple[RuntimeInfo, str]:
    """The runtime behind `endpoint` and the model name requests will carry."""
    from runlocalai_bench.runtime.identity import with_weights_sha256
    from runlocalai_bench.runtime.probe import probe_endpoint

    runtime = probe_endpoint(endpoint, model=config.model, api_key=config.api_key)
    runtime = with_weights_sha256(runtime, endpoint, config.cache_dir)
    model = config.model or runtime.model.id
    if not model:
        raise ConfigError(f"{endpoint} serves no model rla could identify",
                          hint="pass --model NAME as the server lists it under /v1/models")
    return runtime, model


def _local_model(config: RunConfig) -> tuple[Path, ModelInfo]:
    """The GGUF to load in process and what its header says. A missing or corrupt file is
    reported here, before llama.cpp is even imported."""
    from runlocalai_bench.models import embedded_model_path
    from runlocalai_bench.runtime.model_file import model_info_from_gguf

    path = config.model_path or embedded_model_path(config.cache_dir)
    return path, model_info_from_gguf(path, cache_dir=config.cache_dir)


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
