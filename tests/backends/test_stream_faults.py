"""A speed run's streams that carry no usable completion stop the run with a message that says
why: no completion event, an event the bounded reader refuses, an Ollama stream cut before its
final object. Never an empty measurement, never a crash."""

from __future__ import annotations

import pytest

from runlocalai_bench.backends.base import SpeedRequest
from runlocalai_bench.backends.ollama import OllamaStreamer
from runlocalai_bench.backends.openai_compat import OpenAIStreamer
from runlocalai_bench.errors import BackendError
from runlocalai_bench.types import RuntimeInfo, SamplingParams
from tests.support.servers import Reply, Seen, Streamed, serve

REQUEST = SpeedRequest(n_predict=8, ignore_eos=True, seed=1, prompt="Write.")
GENERIC = RuntimeInfo(engine="openai-compatible", version=None, slug="openai-compatible")
OLLAMA = RuntimeInfo(engine="ollama", version="0.24.0", slug="ollama-0.24.0")


def stream_error(streamer: OpenAIStreamer | OllamaStreamer) -> BackendError:
    try:
        with pytest.raises(BackendError) as info:
            streamer.stream(REQUEST)
    finally:
        streamer.close()
    return info.value


@pytest.mark.parametrize("chunks,message", [
    ([b'data: {"object": "text_completion"}\n\n', b"data: [DONE]\n\n"],
     "the stream carried no completion event"),
    ([b"data: [DONE]\n\n"], "the stream carried no completion event"),
    ([b"data: " + b"[" * 100_000 + b"]" * 100_000 + b"\n\n"], "nests 100,000 levels deep"),
    ([b'data: {"choices": [{"text": " a", "logprob": NaN}]}\n\n'], "holds NaN"),
    ([b'data: ["choices"]\n\n'], "an event is an array, not an object"),
    ([b'data: {"choices": [{"text": 7}]}\n\n'], "a choice's text is not a string"),
])
def test_an_openai_stream_without_a_usable_completion_stops_the_run(chunks, message):
    with serve(lambda seen: Streamed(chunks)) as server:
        error = stream_error(OpenAIStreamer(server.url, "m", GENERIC, sampling=SamplingParams()))
    assert error.fatal and message in error.message, error.message


def test_an_ollama_stream_cut_before_its_final_object_stops_the_run():
    def handler(seen: Seen) -> Reply | Streamed:
        if seen.path == "/api/generate":
            return Streamed([b'{"response": " a", "done": false}\n'],
                            content_type="application/x-ndjson")
        return Reply(404, {"error": "not found"})

    with serve(handler) as server:
        error = stream_error(OllamaStreamer(server.url, "m", OLLAMA, sampling=SamplingParams()))
    assert error.fatal and "the stream ended without its final (done) event" in error.message
