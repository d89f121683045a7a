"""The HTTP backend against real loopback servers speaking the OpenAI API's shapes."""

from __future__ import annotations

import asyncio

import pytest

from runlocalai_bench.backends.http import normalise_endpoint
from runlocalai_bench.backends.openai_compat import OpenAICompatBackend
from runlocalai_bench.errors import BackendError
from runlocalai_bench.types import Message, Prompt, RuntimeInfo
from tests.support.servers import Reply, Seen, free_port, serve

LLAMA = RuntimeInfo(engine="llama.cpp", version="b6500", slug="llama.cpp-b6500")
GENERIC = RuntimeInfo(engine="openai-compatible", version=None, slug="openai-compatible")

# llama-server /v1/completions with logprobs: the chat shape (REFERENCE §3).
LLAMA_COMPLETION = {
    "choices": [{
        "text": " B", "index": 0, "finish_reason": "length",
        "logprobs": {"content": [{
            "id": 347, "token": " B", "logprob": -0.4, "bytes": [32, 66],
            "top_logprobs": [
                {"id": 347, "token": " B", "logprob": -0.4, "bytes": [32, 66]},
                {"id": 236743, "token": " ", "logprob": -1.3, "bytes": [32]},
                {"id": 338, "token": " A", "logprob": -2.0, "bytes": [32, 65]},
            ],
        }]},
    }],
    "usage": {"prompt_tokens": 480, "completion_tokens": 1, "total_tokens": 481},
    "timings": {"prompt_n": 480, "prompt_ms": 3050.2, "predicted_n": 1, "predicted_ms": 28.1,
                "predicted_per_second": 35.5, "cache_n": 0},
}

# vLLM: the legacy completions shape.
VLLM_COMPLETION = {
    "choices": [{"text": "C", "finish_reason": "length",
                 "logprobs": {"tokens": ["C"], "token_logprobs": [-0.2],
                              "top_logprobs": [{"C": -0.2, " C": -1.9, "A": -3.1}]}}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 1},
}


def _generate(backend: OpenAICompatBackend, prompt: Prompt):
    async def go():
        try:
            return await backend.generate(prompt)
        finally:
            await backend.aclose()

    return asyncio.run(go())


def test_llama_server_completion_sends_greedy_fields_and_parses_chat_shaped_logprobs():
    with serve(lambda seen: Reply(body=LLAMA_COMPLETION)) as server:
        backend = OpenAICompatBackend(server.url + "/v1/", "gemma", LLAMA)
        gen = _generate(backend, Prompt(text="Q?\nAnswer:", max_tokens=1, top_logprobs=20))
    body = server.requests[0].body
    assert server.requests[0].path == "/v1/completions"
    assert body["prompt"] == "Q?\nAnswer:"
    assert body["temperature"] == 0.0 and body["top_p"] == 1.0 and body["top_k"] == 1
    assert body["cache_prompt"] is False and body["seed"] == 1234 and body["n"] == 1
    assert body["logprobs"] == 20 and body["max_tokens"] == 1
    assert gen.text == " B"
    assert [t.token for t in gen.top_logprobs] == [" B", " ", " A"]
    assert gen.server_timings["prompt_ms"] == 3050.2
    assert gen.prompt_tokens == 480


def test_legacy_logprob_shape_and_no_engine_extras_for_generic_servers():
    with serve(lambda seen: Reply(body=VLLM_COMPLETION)) as server:
        gen = _generate(OpenAICompatBackend(server.url, "m", GENERIC),
                        Prompt(text="x", max_tokens=1, top_logprobs=5))
    body = server.requests[0].body
    assert "cache_prompt" not in body and "top_k" not in body
    assert [(t.token, t.logprob) for t in gen.top_logprobs] == [
        ("C", -0.2), (" C", -1.9), ("A", -3.1)]


def test_chat_request_shape():
    reply = {"choices": [{"message": {"role": "assistant", "content": "The answer is D."},
                          "finish_reason": "stop",
                          "logprobs": {"content": [{"token": "The", "logprob": -0.1,
                                                    "top_logprobs": [{"token": "The",
                                                                      "logprob": -0.1}]}]}}]}
    with serve(lambda seen: Reply(body=reply)) as server:
        gen = _generate(OpenAICompatBackend(server.url, "m", LLAMA),
                        Prompt(messages=(Message("user", "hi"),), max_tokens=32,
                               top_logprobs=3, stop=("\n\n",)))
    seen = server.requests[0]
    assert seen.path == "/v1/chat/completions"
    assert seen.body["messages"] == [{"role": "user", "content": "hi"}]
    assert seen.body["logprobs"] is True and seen.body["top_logprobs"] == 3
    assert seen.body["stop"] == ["\n\n"]
    assert gen.text == "The answer is D." and gen.finish_reason == "stop"


def test_retries_5xx_and_429_then_succeeds():
    replies = [Reply(503, {"error": {"message": "Loading model", "code": 503}}),
               Reply(429, {"error": "busy"}, {"Retry-After": "0"}),
               Reply(body=LLAMA_COMPLETION)]
    with serve(lambda seen: replies.pop(0)) as server:
        gen = _generate(OpenAICompatBackend(server.url, "m", LLAMA, backoff=0.01),
                        Prompt(text="x"))
    assert len(server.requests) == 3
    assert gen.text == " B"


def test_a_dropped_keep_alive_connection_is_not_a_retry():
    """After a long response llama-server drops the kept-alive connection unannounced; the next
    request on it never reaches the engine. It is sent again at once, even with no retries."""
    async def go(backend: OpenAICompatBackend) -> list[str]:
        try:
            return [(await backend.generate(Prompt(text=f"q{i}"))).text for i in range(3)]
        finally:
            await backend.aclose()

    with serve(lambda seen: Reply(body=LLAMA_COMPLETION), stale_after=2) as server:
        texts = asyncio.run(go(OpenAICompatBackend(server.url, "m", LLAMA, retries=0)))
    assert texts == [" B"] * 3
    assert [r.body["prompt"] for r in server.requests] == ["q0", "q1", "q2"]
    assert [r.body["prompt"] for r in server.dropped] == ["q1", "q2"]


def test_persistent_5xx_is_fatal_after_bounded_retries():
    with serve(lambda seen: Reply(500, {"error": {"message": "boom"}})) as server:
        backend = OpenAICompatBackend(server.url, "m", LLAMA, retries=2, backoff=0.01)
        with pytest.raises(BackendError) as info:
            _generate(backend, Prompt(text="x"))
    assert len(server.requests) == 3
    assert info.value.fatal and "HTTP 500" in info.value.message and "boom" in info.value.message


def test_4xx_is_an_error_for_that_sample_only():
    body = {"error": {"code": 400, "message": "the request exceeds the available context size",
                      "type": "exceed_context_size_error"}}
    with serve(lambda seen: Reply(400, body)) as server, pytest.raises(BackendError) as info:
        _generate(OpenAICompatBackend(server.url, "m", LLAMA, backoff=0.01),
                  Prompt(text="x"))
    assert len(server.requests) == 1
    assert not info.value.fatal and "exceeds the available context" in info.value.message


def test_connection_refused_is_fatal():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BackendError) as info:
        _generate(OpenAICompatBackend(url, "m", LLAMA, retries=1, backoff=0.01),
                  Prompt(text="x"))
    assert info.value.fatal and "--resume" in (info.value.hint or "")


def test_non_json_body_is_retried_then_fatal():
    with (serve(lambda seen: Reply(200, "<html>hello</html>")) as server,
          pytest.raises(BackendError, match="not valid JSON") as info):
        _generate(OpenAICompatBackend(server.url, "m", LLAMA, retries=2, backoff=0.01),
                  Prompt(text="x"))
    assert len(server.requests) == 3
    assert info.value.fatal and "no usable completion after 3 attempts" in info.value.message
    assert "--resume" in (info.value.hint or "")


# 200 answers that are not a completion: each is retried like a 5xx, then stops the run.
INVALID = {
    "no-choices": ({"id": "x", "object": "text_completion"}, "the answer has no choices"),
    "empty-choices": ({"choices": []}, "the answer has no choices"),
    "error-object": ({"error": {"message": "model unloaded"}},
                     "the answer has no choices (model unloaded)"),
    "array": ([1, 2], "the answer is an array, not an object"),
    "empty-body": (b"", "is not valid JSON"),
    "choice-not-object": ({"choices": ["B"]}, "choices[0] is a string, not an object"),
    "text-not-string": ({"choices": [{"text": 3}]}, "choices[0].text is a number, not a string"),
    "no-text": ({"choices": [{"finish_reason": "stop"}]}, "choices[0].text is null"),
    "logprob-not-number": ({"choices": [{"text": "B", "logprobs": {"content": [
        {"token": "B", "logprob": "-0.1", "top_logprobs": [{"token": "B", "logprob": "x"}]}]}}]},
        "the logprob of token 'B' is a string, not a number"),
    "deep": ("[" * 100_000 + "]" * 100_000, "nests 100,000 levels deep"),
    "infinity": ('{"choices": [{"text": "B", "logprobs": {"top_logprobs": [{"B": -Infinity}]}}]}',
                 "holds -Infinity"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_an_answer_that_is_not_a_completion_is_retried_then_fatal(case):
    body, message = INVALID[case]
    with serve(lambda seen: Reply(200, body)) as server, \
            pytest.raises(BackendError) as info:
        _generate(OpenAICompatBackend(server.url, "m", LLAMA, retries=2, backoff=0.01),
                  Prompt(text="x", max_tokens=1, top_logprobs=5))
    assert len(server.requests) == 3
    assert info.value.fatal and message in info.value.message, info.value.message


def test_an_invalid_answer_then_a_good_one_is_a_retry_that_succeeds():
    replies = [Reply(body={"object": "text_completion"}), Reply(body=LLAMA_COMPLETION)]
    with serve(lambda seen: replies.pop(0)) as server:
        gen = _generate(OpenAICompatBackend(server.url, "m", LLAMA, backoff=0.01),
                        Prompt(text="x"))
    assert len(server.requests) == 2 and gen.text == " B"


def test_chat_reply_without_text_is_an_empty_answer_not_a_fault():
    reply = {"choices": [{"message": {"role": "assistant", "content": None},
                          "finish_reason": "length"}]}
    with serve(lambda seen: Reply(body=reply)) as server:
        gen = _generate(OpenAICompatBackend(server.url, "m", LLAMA),
                        Prompt(messages=(Message("user", "hi"),), max_tokens=8))
    assert len(server.requests) == 1 and gen.text == "" and gen.finish_reason == "length"


def test_the_fault_budget_stops_after_that_many_failed_requests_in_a_row():
    """4xx answers are each one sample's error, but ten in a row stop the run (fatal); a usable
    answer between them starts the count again."""
    answers = iter([400] * 6 + [200] + [400] * 20)

    def handler(seen: Seen) -> Reply:
        status = next(answers)
        return Reply(body=LLAMA_COMPLETION) if status == 200 else \
            Reply(status, {"error": {"message": "bad request"}})

    async def go(backend: OpenAICompatBackend) -> list[str]:
        outcomes = []
        try:
            for _ in range(30):
                try:
                    outcomes.append((await backend.generate(Prompt(text="x"))).text)
                except BackendError as exc:
                    outcomes.append("fatal" if exc.fatal else "error")
                    if exc.fatal:
                        break
        finally:
            await backend.aclose()
        return outcomes

    with serve(handler) as server:
        outcomes = asyncio.run(go(OpenAICompatBackend(server.url, "m", LLAMA, retries=0,
                                                      fault_budget=10)))
    assert outcomes == ["error"] * 6 + [" B"] + ["error"] * 9 + ["fatal"]
    assert len(server.requests) == 17


def test_the_fault_budget_is_never_below_one_questions_attempts():
    with serve(lambda seen: Reply(503, {"error": "busy"})) as server, \
            pytest.raises(BackendError) as info:
        _generate(OpenAICompatBackend(server.url, "m", LLAMA, retries=4, backoff=0.01,
                                      fault_budget=2), Prompt(text="x"))
    assert len(server.requests) == 5 and info.value.fatal
    assert "5 requests in a row failed" in info.value.message
    assert "HTTP 503" in info.value.message


def test_an_oversized_answer_is_refused_by_size():
    from runlocalai_bench.backends.http import MAX_ANSWER_BYTES

    big = b" " * (MAX_ANSWER_BYTES + 1)
    with serve(lambda seen: Reply(body=big)) as server, pytest.raises(BackendError) as info:
        _generate(OpenAICompatBackend(server.url, "m", LLAMA, retries=0), Prompt(text="x"))
    assert info.value.fatal and f"over the {MAX_ANSWER_BYTES:,} rla reads" in info.value.message


@pytest.mark.parametrize("given,expected", [
    ("http://h:1", "http://h:1"), ("http://h:1/", "http://h:1"), ("http://h:1/v1", "http://h:1"),
    ("http://h:1/v1/", "http://h:1")])
def test_base_url(given, expected):
    assert normalise_endpoint(given) == expected


def test_api_key_sent_as_bearer():
    def handler(seen: Seen) -> Reply:
        return Reply(body=LLAMA_COMPLETION)

    with serve(handler) as server:
        _generate(OpenAICompatBackend(server.url, "m", LLAMA, api_key="sk-test-123456789"),
                  Prompt(text="x"))
    assert server.requests[0].headers["Authorization"] == "Bearer sk-test-123456789"


@pytest.fixture
def no_proxy_env(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def test_a_proxy_the_environment_names_carries_the_requests(no_proxy_env):
    """HTTP_PROXY is honoured as httpx.AsyncClient honours it (NO_PROXY too): the proxy gets
    the request for the endpoint's own URL."""
    with serve(lambda seen: Reply(body=LLAMA_COMPLETION)) as proxy:
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)
        endpoint = f"http://127.0.0.2:{free_port()}"
        gen = _generate(OpenAICompatBackend(endpoint, "m", LLAMA), Prompt(text="x"))
    assert gen.text == " B"
    assert proxy.requests[0].path == f"{endpoint}/v1/completions"


def test_env_proxy_reads_the_environment_as_httpx_does(no_proxy_env):
    from runlocalai_bench.backends.http import env_proxy

    assert env_proxy("http://127.0.0.1:8080") is None
    no_proxy_env.setenv("HTTP_PROXY", "proxy.example:3128")
    no_proxy_env.setenv("NO_PROXY", "gpu-box.lan")
    assert env_proxy("http://10.0.0.5:8080") == "http://proxy.example:3128"
    assert env_proxy("http://gpu-box.lan:8080") is None
    assert env_proxy("https://10.0.0.5") is None
    no_proxy_env.setenv("ALL_PROXY", "http://all.example:1080")
    assert env_proxy("https://10.0.0.5") == "http://all.example:1080"


def test_ollama_uses_the_native_api_with_num_ctx():
    from runlocalai_bench.backends.ollama import OllamaBackend

    reply = {"model": "qwen2.5:0.5b", "response": "B", "done": True, "done_reason": "length",
             "prompt_eval_count": 612, "prompt_eval_duration": 410_000_000, "eval_count": 1,
             "eval_duration": 21_000_000, "total_duration": 455_000_000,
             "logprobs": [{"token": "B", "logprob": -0.3,
                           "top_logprobs": [{"token": "B", "logprob": -0.3},
                                            {"token": "A", "logprob": -1.6}]}]}
    runtime = RuntimeInfo(engine="ollama", version="0.24.0", slug="ollama-0.24.0")
    with serve(lambda seen: Reply(body=reply)) as server:
        backend = OllamaBackend(server.url, "qwen2.5:0.5b", runtime, num_ctx=8192)
        gen = _generate(backend, Prompt(text="Q\nAnswer:", max_tokens=1, top_logprobs=20))
    seen = server.requests[0]
    assert seen.path == "/api/generate"
    assert seen.body["raw"] is True and seen.body["stream"] is False
    assert seen.body["options"]["num_ctx"] == 8192
    assert seen.body["options"]["temperature"] == 0.0 and seen.body["options"]["top_k"] == 1
    assert seen.body["options"]["num_predict"] == 1
    assert seen.body["top_logprobs"] == 20
    assert gen.text == "B" and [t.token for t in gen.top_logprobs] == ["B", "A"]
    assert gen.server_timings["prompt_ms"] == pytest.approx(410.0)
    assert gen.prompt_tokens == 612
