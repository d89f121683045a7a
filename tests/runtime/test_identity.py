"""Which model a server run measured: the served file's sha256 (hashed once, only for a server on
this machine), Ollama's blob digest, and bits per weight against the claimed quantization."""

from __future__ import annotations

from pathlib import Path

import pytest

from runlocalai_bench.runtime.identity import bits_reasons, ollama_blob, with_weights_sha256
from runlocalai_bench.runtime.locality import is_local_endpoint, own_addresses
from runlocalai_bench.runtime.model_file import sha256_file
from runlocalai_bench.runtime.probe import probe_endpoint
from runlocalai_bench.types import ModelInfo, RuntimeInfo

from .fakes import recorded
from .test_runtime_probe import ollama_routes


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:8080/v1",
                                 "http://[::1]:8080", "http://0.0.0.0:8080"])
def test_loopback_endpoints_are_this_machine(url: str) -> None:
    assert is_local_endpoint(url)


def test_this_machines_own_address_is_local_and_others_are_not() -> None:
    outside = [a for a in own_addresses() if not a.startswith(("127.", "::1"))
               and ":" not in a]
    if outside:
        assert is_local_endpoint(f"http://{outside[0]}:8080")
    assert not is_local_endpoint("http://192.0.2.7:8080")  # TEST-NET-1: never this machine
    assert not is_local_endpoint("http://no-such-host.invalid:8080")


def _runtime(path: Path | str) -> RuntimeInfo:
    return RuntimeInfo(engine="llama.cpp", version="b1", slug="llama.cpp-b1",
                       model=ModelInfo(path=str(path)))


def test_the_served_file_is_hashed_once_for_a_server_on_this_machine(write_gguf,
                                                                     tmp_path: Path) -> None:
    path = write_gguf("served.gguf")
    cache = tmp_path / "cache"
    first = with_weights_sha256(_runtime(path), "http://127.0.0.1:8080", cache)
    assert first.model.sha256 == sha256_file(path)
    (entry,) = (cache / "sha256").iterdir()
    entry.write_text("ab" * 32 + "\n")  # the second run reads the cache, not the file
    again = with_weights_sha256(_runtime(path), "http://127.0.0.1:8080", cache)
    assert again.model.sha256 == "ab" * 32


def test_a_path_reported_by_another_machine_is_not_hashed_here(write_gguf,
                                                               tmp_path: Path) -> None:
    path = write_gguf("served.gguf")
    remote = with_weights_sha256(_runtime(path), "http://192.0.2.7:8080", tmp_path)
    missing = with_weights_sha256(_runtime("/no/such/model.gguf"), "http://127.0.0.1:1",
                                  tmp_path)
    assert remote.model.sha256 is None and missing.model.sha256 is None


def test_ollamas_weights_are_named_by_their_sha256(serve) -> None:
    show = recorded("ollama-show.json")
    assert ollama_blob(show["modelfile"]) == (
        "200765e1283640ffbd013184bf496e261032fa75b99498a9613be4e94d63ad52")
    assert ollama_blob("FROM /root/.ollama/models/blobs/sha256-" + "c" * 64) == "c" * 64
    assert ollama_blob("FROM llava:latest") is None
    info = probe_endpoint(serve(ollama_routes()).url, model="llama3:latest")
    assert info.model.sha256 == ollama_blob(show["modelfile"])
    sizes = {m["name"]: m["size"] for m in recorded("ollama-tags.json")["models"]}
    assert info.model.size_bytes == sizes["llama3:latest"]


def test_bits_per_weight_against_the_claimed_quantization() -> None:
    gemma = (253_000_000, 268_098_176)  # gemma-3-270m Q4_K_M: 7.55 bits, its big embedding
    assert bits_reasons("Q4_K_M", *gemma) == []
    assert bits_reasons("Q8_0", 8_540_000_000, 8_030_261_248) == []
    (f16,) = bits_reasons("Q4_K_M", 16_060_000_000, 8_030_261_248)
    assert f16.startswith("the model file has 16.00 bits per weight (16060000000 bytes for"
                          " 8030261248 parameters), outside 3.9–7.8 for the claimed Q4_K_M")
    assert bits_reasons("AWQ", 1, 8) == []  # no GGUF figure to check against
    assert bits_reasons("Q4_K_M", None, 8) == []


def test_llama_servers_launch_configuration_as_far_as_props_states_it(serve) -> None:
    from .test_runtime_probe import llama_server_routes

    props = recorded("llama-server-props.json")
    info = probe_endpoint(serve(llama_server_routes()).url)
    n_ctx = props["default_generation_settings"]["n_ctx"]
    assert info.settings["launch"] == (
        f"llama-server --model gemma-3-270m-q4_k_m.gguf --ctx-size"
        f" {n_ctx * props['total_slots']} --parallel"
        f" {props['total_slots']}")
