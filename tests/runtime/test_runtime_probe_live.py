"""The probe and the GGUF reader against a real llama-server serving gemma-3-270m."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from runlocalai_bench.runtime.gguf import read_gguf
from runlocalai_bench.runtime.probe import probe_endpoint
from runlocalai_bench.runtime.read_llama_cpp import parse_build_info
from tests.support.llama_server import wait_until_ready

pytestmark = pytest.mark.integration


def test_probe_real_llama_server(llama_server) -> None:
    info = probe_endpoint(llama_server.url + "/v1", model="anything")
    props = httpx.get(llama_server.url + "/props").json()
    gguf = read_gguf(llama_server.model_path)

    assert info.engine == "llama.cpp"
    assert (info.version, info.commit) == parse_build_info(props["build_info"])
    assert info.slug == f"llama.cpp-{info.version or 'unknown'}"
    assert info.endpoint == llama_server.url
    # What the server says about its model agrees with the file itself.
    assert info.model.id == str(llama_server.model_path)  # llama-server names it by its path
    assert info.model.path == str(llama_server.model_path)
    assert info.model.parameters == gguf.parameters
    assert info.model.quantization == gguf.quantization == "Q4_K_M"
    assert info.model.context_length == gguf.context_length
    assert info.model.architecture == gguf.architecture
    assert info.model.size_bytes == llama_server.model_path.stat().st_size
    # The template in use (llama-server's fallback: gemma-3-270m ships none) is fingerprinted.
    assert props["chat_template"]
    assert (
        info.model.chat_template_sha256
        == hashlib.sha256(props["chat_template"].encode()).hexdigest()
    )
    assert info.slots == 1  # --parallel 1 from the runner spec's launch command
    assert info.n_ctx == llama_server.n_ctx
    assert info.sampler_defaults["seed"] == 1234
    assert "temperature" in info.sampler_defaults


def test_ready_server_is_ready_at_once(llama_server) -> None:
    wait_until_ready(llama_server.url, timeout=5)
