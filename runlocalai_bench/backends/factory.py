"""Turn a RunConfig into a ready backend: probe the server, or load the GGUF in process."""

from __future__ import annotations

from runlocalai_bench import paths
from runlocalai_bench.backends.base import Backend
from runlocalai_bench.config import RunConfig
from runlocalai_bench.errors import ConfigError


def open_backend(config: RunConfig) -> Backend:
    if config.endpoint:
        from runlocalai_bench.backends.openai_compat import OpenAICompatBackend
        from runlocalai_bench.runtime.probe import probe_endpoint

        runtime = probe_endpoint(config.endpoint, model=config.model, api_key=config.api_key)
        model = config.model or runtime.model.id
        if not model:
            raise ConfigError(f"{config.endpoint} serves no model rla could identify",
                              hint="pass --model NAME as the server lists it under /v1/models")
        if runtime.engine == "ollama":
            from runlocalai_bench.backends.ollama import OllamaBackend

            return OllamaBackend(
                config.endpoint, model, runtime, sampling=config.sampling,
                num_ctx=config.n_ctx, timeout=config.timeout, retries=config.retries,
                api_key=config.api_key,
            )
        return OpenAICompatBackend(
            config.endpoint, model, runtime, sampling=config.sampling, timeout=config.timeout,
            retries=config.retries, api_key=config.api_key,
        )

    from runlocalai_bench.backends.llama_cpp import LlamaCppBackend, import_llama_cpp
    from runlocalai_bench.models import embedded_model_path
    from runlocalai_bench.runtime.model_file import model_info_from_gguf

    path = config.model_path or embedded_model_path()
    # A missing or corrupt file is reported before llama.cpp is even imported.
    info = model_info_from_gguf(path, cache_dir=paths.cache_home())
    import_llama_cpp()
    return LlamaCppBackend(path, info, sampling=config.sampling, n_ctx=config.n_ctx,
                           n_threads=config.n_threads)
