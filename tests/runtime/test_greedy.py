"""Greedy for real: every server default that changes greedy output is overridden by what rla
sends, judged over real probe replies (recorded /props, /api/show) and the backends' own
requests; and the settings that make a run's output depend on the run are named."""

from __future__ import annotations

import asyncio

import pytest

from runlocalai_bench.backends.ollama import OllamaBackend
from runlocalai_bench.backends.openai_compat import OpenAICompatBackend
from runlocalai_bench.runtime.greedy import request_reasons, sampler_reasons, server_reasons
from runlocalai_bench.runtime.probe import probe_endpoint
from runlocalai_bench.types import Prompt, RuntimeInfo

from .fakes import Reply, recorded
from .test_runtime_probe import llama_server_routes, ollama_routes

PROMPT = Prompt(text="Answer:", max_tokens=1, top_logprobs=20)


def _sent(runtime: RuntimeInfo, url: str) -> dict:
    backend = (OllamaBackend if runtime.engine == "ollama" else OpenAICompatBackend)(
        url, "m", runtime)
    try:
        return backend.sent_params(PROMPT)
    finally:
        asyncio.run(backend.aclose())


def test_llama_server_defaults_are_all_overridden_by_what_rla_sends(serve) -> None:
    props = recorded("llama-server-props.json")
    params = props["default_generation_settings"]["params"]
    params.update(repeat_penalty=1.1, presence_penalty=0.5, dry_multiplier=0.8, mirostat=2,
                  xtc_probability=0.5, typical_p=0.9, top_n_sigma=1.0, dynatemp_range=0.5)
    server = serve(llama_server_routes(props=props))
    runtime = probe_endpoint(server.url)
    assert runtime.sampler_defaults["repeat_penalty"] == 1.1  # recorded as read
    assert runtime.sampler_defaults["min_p"] == pytest.approx(0.05)  # llama.cpp's own
    sent = _sent(runtime, server.url)
    assert sampler_reasons(runtime.engine, runtime.sampler_defaults, sent) == []


def test_a_default_left_to_the_server_is_named_in_one_line(serve) -> None:
    props = recorded("llama-server-props.json")
    props["default_generation_settings"]["params"]["repeat_penalty"] = 1.1
    server = serve(llama_server_routes(props=props))
    runtime = probe_endpoint(server.url)
    sent = {k: v for k, v in _sent(runtime, server.url).items() if k != "repeat_penalty"}
    (reason,) = sampler_reasons(runtime.engine, runtime.sampler_defaults, sent)
    assert reason.startswith("the server's default repeat_penalty 1.1 changes greedy output"
                             " and was not overridden (neutral: 1.0)")
    assert "\n" not in reason


def test_ollama_modelfile_parameters_are_overridden_in_options(serve) -> None:
    show = recorded("ollama-show.json")
    show["parameters"] = ("repeat_penalty 1.1\nmirostat 2\nmin_p 0.1\ntemperature 0.7\n"
                          "top_k 40\nnum_ctx 4096")
    server = serve(ollama_routes(Reply(body=show)))
    runtime = probe_endpoint(server.url, model="llama3.2")
    sent = _sent(runtime, server.url)
    assert sampler_reasons("ollama", runtime.sampler_defaults, sent) == []
    # A request that only carried the standard fields leaves the Modelfile's in force.
    bare = {"stream": False, "options": {"temperature": 0.0, "top_k": 1, "top_p": 1.0}}
    reasons = sampler_reasons("ollama", runtime.sampler_defaults, bare)
    assert [r.split(" changes")[0] for r in reasons] == [
        "the server's default repeat_penalty 1.1", "the server's default min_p 0.1",
        "the server's default mirostat 2"]


def test_a_default_rla_sent_non_neutral_is_named() -> None:
    (reason,) = sampler_reasons("llama.cpp", {"min_p": 0.05}, {"min_p": 0.05})
    assert "min_p 0.05 changes greedy output and was sent 0.05 (neutral: 0.0)" in reason


def test_request_and_server_settings_that_make_output_depend_on_the_run() -> None:
    assert request_reasons(concurrency=1, cache_prompt=False) == []
    four, cached = request_reasons(concurrency=4, cache_prompt=True)
    assert four.startswith("4 requests were in flight at once (--concurrency 4)")
    assert cached.startswith("the server's prompt cache was on (--cache-prompt)")
    assert all(r.endswith("rerun with --config leaderboard") for r in (four, cached))
    assert server_reasons(engine="llama.cpp", slots=1) == []
    assert server_reasons(engine="ollama", slots=None) == []  # not reported over its API
    (slots,) = server_reasons(engine="llama.cpp", slots=4)
    assert slots.startswith("the server has 4 slots (llama-server --parallel 4)")
    (unknown,) = server_reasons(engine="llama.cpp", slots=None)
    assert "total_slots" in unknown
