"""One table of the fields beyond the OpenAI schema each engine gets: what generate and stream
put on the wire for each engine family that speaks the OpenAI API."""

from __future__ import annotations

import asyncio

import pytest

from runlocalai_bench.backends.base import SpeedRequest
from runlocalai_bench.backends.ollama import OllamaBackend, OllamaStreamer
from runlocalai_bench.backends.openai_compat import OpenAICompatBackend, OpenAIStreamer
from runlocalai_bench.types import Prompt, RuntimeInfo, SamplingParams

# engine → (generate's extra fields, stream's extra fields with ignore_eos asked for)
PENALTIES = {"presence_penalty": 0.0, "frequency_penalty": 0.0}
LLAMA_NEUTRAL = {**PENALTIES, "repeat_penalty": 1.0, "dry_multiplier": 0.0, "min_p": 0.0,
                 "typical_p": 1.0, "xtc_probability": 0.0, "top_n_sigma": -1.0,
                 "dynatemp_range": 0.0, "mirostat": 0}
VLLM_NEUTRAL = {**PENALTIES, "repetition_penalty": 1.0, "min_p": 0.0}
LMSTUDIO_NEUTRAL = {**PENALTIES, "repeat_penalty": 1.0}
EXPECTED = {
    "llama.cpp": ({"top_k": 1, "cache_prompt": False, **LLAMA_NEUTRAL},
                  {"top_k": 1, "cache_prompt": False, **LLAMA_NEUTRAL, "ignore_eos": True}),
    "vllm": ({"top_k": 1, **VLLM_NEUTRAL}, {"top_k": 1, **VLLM_NEUTRAL, "ignore_eos": True}),
    "lmstudio": ({"top_k": 1, **LMSTUDIO_NEUTRAL}, {"top_k": 1, **LMSTUDIO_NEUTRAL}),
    "openai-compatible": (PENALTIES, PENALTIES),
}
GENERATE_STANDARD = ("temperature", "top_p", "n", "seed", "max_tokens", "stream", "logprobs")
STREAM_STANDARD = ("model", "prompt", "max_tokens", "temperature", "top_p", "seed", "stream",
                   "stream_options")


@pytest.mark.parametrize("engine", sorted(EXPECTED))
def test_each_engine_gets_its_fields_from_generate_and_stream_alike(engine: str) -> None:
    runtime = RuntimeInfo(engine=engine, version=None, slug=engine)
    generate_extra, stream_extra = EXPECTED[engine]
    backend = OpenAICompatBackend("http://127.0.0.1:9", "m", runtime)
    sent = backend.sent_params(Prompt(text="x", max_tokens=1, top_logprobs=5))
    asyncio.run(backend.aclose())
    assert {k: v for k, v in sent.items() if k not in GENERATE_STANDARD} == generate_extra

    streamer = OpenAIStreamer("http://127.0.0.1:9", "m", runtime, sampling=SamplingParams())
    try:
        body = streamer.body(SpeedRequest(n_predict=8, ignore_eos=True, seed=7, prompt="p"))
        quiet = streamer.body(SpeedRequest(n_predict=8, ignore_eos=False, seed=7, prompt="p"))
    finally:
        streamer.close()
    assert {k: v for k, v in body.items() if k not in STREAM_STANDARD} == stream_extra
    assert "ignore_eos" not in quiet
    # The extras follow the standard fields, in the table's order.
    assert list(body)[len(STREAM_STANDARD):] == list(stream_extra)


def test_ollama_options_send_every_sampler_neutral_from_generate_and_stream_alike() -> None:
    runtime = RuntimeInfo(engine="ollama", version=None, slug="ollama-unknown")
    backend = OllamaBackend("http://127.0.0.1:9", "m", runtime, num_ctx=2048)
    options = backend.sent_params(Prompt(text="x", max_tokens=1))["options"]
    asyncio.run(backend.aclose())
    neutral = {**PENALTIES, "repeat_penalty": 1.0, "min_p": 0.0, "typical_p": 1.0,
               "mirostat": 0}
    assert options == {"temperature": 0.0, "top_k": 1, "top_p": 1.0, **neutral, "seed": 1234,
                       "num_predict": 1, "num_ctx": 2048}
    streamer = OllamaStreamer("http://127.0.0.1:9", "m", runtime, sampling=SamplingParams())
    try:
        body = streamer.body(SpeedRequest(n_predict=8, ignore_eos=False, seed=7, prompt="p"))
    finally:
        streamer.close()
    assert body["options"] == {"temperature": 0.0, "top_k": 1, "top_p": 1.0, **neutral,
                               "seed": 7, "num_predict": 8}
