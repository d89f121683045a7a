"""OpenAI-compatible servers (llama-server, vLLM, LM Studio, ...): /v1/completions and
/v1/chat/completions.

    OpenAICompatBackend   generate: one request, the first token's top logprobs
    OpenAIStreamer        stream: POST /v1/completions, stream: true (server-sent events), each
                          token's arrival timed; the last events carry usage and, on
                          llama-server, `timings`. Every request starts from an empty prompt
                          cache (`cache_prompt: false` where the engine takes it), so every
                          run prefills.

The HTTP policy (timeouts, retries, keep-alive handling) is backends/http.py's, a stream's
backends/streaming.py's; the fields beyond the OpenAI schema each engine gets are
backends/fields.py's.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import httpx

from runlocalai_bench import jsonio
from runlocalai_bench.backends.base import Experts, SpeedRequest, count
from runlocalai_bench.backends.fields import engine_fields
from runlocalai_bench.backends.http import (
    DEFAULT_TIMEOUT,
    FAULT_BUDGET,
    FAULT_WINDOW,
    MAX_ANSWER_BYTES,
    InvalidAnswer,
    Retrying,
    error_text_of,
    json_kind,
    normalise_endpoint,
)
from runlocalai_bench.backends.streaming import Streaming
from runlocalai_bench.errors import BackendError
from runlocalai_bench.speed.measure import LLAMA_CPP, RawRun
from runlocalai_bench.types import (
    Generation,
    Prompt,
    RuntimeInfo,
    SamplingParams,
    TokenLogprob,
)


class OpenAICompatBackend:
    name = "openai-compatible"

    def __init__(
        self,
        endpoint: str,
        model: str,
        runtime: RuntimeInfo,
        *,
        sampling: SamplingParams | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = 4,
        backoff: float = 0.5,
        api_key: str | None = None,
        fault_budget: int = FAULT_BUDGET,
        fault_window: float = FAULT_WINDOW,
    ) -> None:
        self.base = normalise_endpoint(endpoint)
        self.model = model
        self._runtime = runtime
        self.sampling = sampling or SamplingParams()
        self._http = Retrying(self.base, timeout=timeout, retries=retries, backoff=backoff,
                              api_key=api_key, fault_budget=fault_budget,
                              fault_window=fault_window)

    def runtime(self) -> RuntimeInfo:
        return self._runtime

    # -- request shape --------------------------------------------------------------------

    def sent_params(self, prompt: Prompt) -> dict[str, Any]:
        s = self.sampling
        params: dict[str, Any] = {
            "temperature": s.temperature,
            "top_p": s.top_p,
            "n": s.n,
            "seed": s.seed,
            "max_tokens": prompt.max_tokens,
            "stream": False,
        }
        if prompt.stop:
            params["stop"] = list(prompt.stop)
        params.update(engine_fields(self._runtime.engine, top_k=s.top_k,
                                    cache_prompt=s.cache_prompt))
        if prompt.top_logprobs:
            if prompt.style == "chat":
                params["logprobs"] = True
                params["top_logprobs"] = prompt.top_logprobs
            else:
                params["logprobs"] = prompt.top_logprobs
        return params

    def _request(self, prompt: Prompt) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"model": self.model, **self.sent_params(prompt)}
        if prompt.style == "chat":
            body["messages"] = [{"role": m.role, "content": m.content} for m in prompt.messages]
            return "/v1/chat/completions", body
        body["prompt"] = prompt.text
        return "/v1/completions", body

    # -- transport ------------------------------------------------------------------------

    async def generate(self, prompt: Prompt) -> Generation:
        path, body = self._request(prompt)
        return await self._http.post_json(
            path, body, lambda answer, latency_ms: self._parse(answer, prompt, latency_ms))

    def _parse(self, payload: Any, prompt: Prompt, latency_ms: float) -> Generation:
        return parse_response(payload, chat=prompt.style == "chat", latency_ms=latency_ms)

    async def aclose(self) -> None:
        await self._http.aclose()


# -- response parsing (pure) ---------------------------------------------------------------


def parse_response(payload: Any, *, chat: bool, latency_ms: float) -> Generation:
    """Turn one completions / chat completions body into a Generation, or raise InvalidAnswer
    when it is not one (no `choices`, a field of the wrong type): it is retried, never scored.

    Logprobs come in two shapes: the chat shape (`logprobs.content[i].top_logprobs` = list of
    `{token, logprob}`), which llama-server also uses on /v1/completions, and the legacy
    completions shape (`logprobs.top_logprobs[i]` = `{token: logprob}`), which vLLM uses.
    """
    if not isinstance(payload, dict):
        raise InvalidAnswer(f"the answer is {json_kind(payload)}, not an object")
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices:
        raise InvalidAnswer("the answer has no choices"
                            + (f" ({error_text_of(payload)})" if "error" in payload else ""))
    choice = choices[0]
    if not isinstance(choice, dict):
        raise InvalidAnswer(f"choices[0] is {json_kind(choice)}, not an object")
    if chat:
        message = choice.get("message")
        if not isinstance(message, dict):
            raise InvalidAnswer("choices[0] has no message object")
        text = message.get("content")
        if text is None:  # a reply of no text (e.g. only reasoning): an answer, scored as such
            text = ""
        where = "choices[0].message.content"
    else:
        text = choice.get("text")
        where = "choices[0].text"
    if not isinstance(text, str):
        raise InvalidAnswer(f"{where} is {json_kind(text)}, not a string")
    usage = payload.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    timings = payload.get("timings")
    finish = choice.get("finish_reason")
    return Generation(
        text=text,
        top_logprobs=first_token_top_logprobs(choice.get("logprobs")),
        finish_reason=finish if isinstance(finish, str) else None,
        prompt_tokens=count(usage.get("prompt_tokens")),
        completion_tokens=count(usage.get("completion_tokens")),
        latency_ms=latency_ms,
        server_timings=timings if isinstance(timings, dict) else None,
    )


def first_token_top_logprobs(logprobs: Any) -> tuple[TokenLogprob, ...]:
    if logprobs is None:
        return ()
    if not isinstance(logprobs, dict):
        raise InvalidAnswer(f"choices[0].logprobs is {json_kind(logprobs)}, not an object")
    content = logprobs.get("content")
    if isinstance(content, list) and content:
        first = content[0]
        if not isinstance(first, dict):
            raise InvalidAnswer("choices[0].logprobs.content[0] is not an object")
        alts = first.get("top_logprobs") or []
        if not isinstance(alts, list):
            raise InvalidAnswer("choices[0].logprobs.content[0].top_logprobs is not a list")
        out = [token_logprob(a.get("token", ""), a["logprob"])
               for a in alts if isinstance(a, dict) and a.get("logprob") is not None]
        if not out and first.get("logprob") is not None:
            out = [token_logprob(first.get("token", ""), first["logprob"])]
        return _sorted(out)
    legacy = logprobs.get("top_logprobs")
    if isinstance(legacy, list) and legacy and isinstance(legacy[0], dict):
        return _sorted([token_logprob(t, lp) for t, lp in legacy[0].items() if lp is not None])
    return ()


def token_logprob(token: Any, logprob: Any) -> TokenLogprob:
    """One alternative, or InvalidAnswer when its logprob is not a number."""
    if isinstance(logprob, bool) or not isinstance(logprob, int | float):
        raise InvalidAnswer(f"the logprob of token {str(token)[:40]!r} is {json_kind(logprob)},"
                            " not a number")
    return TokenLogprob(str(token), float(logprob))


def _sorted(items: list[TokenLogprob]) -> tuple[TokenLogprob, ...]:
    return tuple(sorted(items, key=lambda t: t.logprob, reverse=True))


# -- stream --------------------------------------------------------------------------------


class OpenAIStreamer:
    def __init__(self, endpoint: str, model: str, runtime: RuntimeInfo, *,
                 sampling: SamplingParams, timeout: float = DEFAULT_TIMEOUT,
                 api_key: str | None = None,
                 experts: Experts | None = None) -> None:
        self.http = Streaming(endpoint, timeout=timeout, api_key=api_key)
        self.model = model
        self.runtime = runtime
        self.sampling = sampling
        self.experts = experts or Experts()

    def tokenize(self, text: str) -> list[int] | None:
        if self.runtime.engine != "llama.cpp":
            return None
        try:
            response = self.http.client.post("/tokenize",
                                             json={"content": text, "add_special": True})
        except httpx.HTTPError as exc:
            raise self.http.fail("/tokenize", exc) from exc
        if response.status_code != 200:
            return None
        answer = jsonio.loads(response.content, "/tokenize's answer", max_bytes=MAX_ANSWER_BYTES,
                              error=BackendError, hint="is the endpoint llama-server?")
        tokens = answer.get("tokens") if isinstance(answer, dict) else None
        if not isinstance(tokens, list) or not all(
                isinstance(t, int) and not isinstance(t, bool) for t in tokens):
            return None
        return tokens

    def body(self, request: SpeedRequest) -> dict[str, Any]:
        s = self.sampling
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": list(request.token_ids) if request.token_ids is not None
            else request.prompt,
            "max_tokens": request.n_predict,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "seed": request.seed,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        body.update(engine_fields(self.runtime.engine, top_k=s.top_k, cache_prompt=False,
                                  ignore_eos=request.ignore_eos))
        return body

    def stream(self, request: SpeedRequest) -> RawRun:
        body = self.body(request)
        path = "/v1/completions"
        text: list[str] = []
        arrivals: list[float] = []
        timings: Mapping[str, Any] | None = None
        usage: Mapping[str, Any] = {}
        finish: str | None = None
        completions = 0  # events that carried a choice
        try:
            with self.http.stream(path, body) as (response, started):
                if response.status_code != 200:
                    raise self.http.refused(path, response)
                for payload in iter_sse_data(response.iter_lines()):
                    now = time.perf_counter()
                    event = self.http.event(payload, path)
                    choices = event.get("choices") or []
                    if not isinstance(choices, list):
                        raise self.http.unusable(path, "an event's choices are not a list")
                    for choice in choices:
                        piece = choice.get("text") if isinstance(choice, dict) else None
                        if not isinstance(piece, str | None):
                            raise self.http.unusable(path, "a choice's text is not a string")
                        completions += 1
                        if piece:
                            text.append(piece)
                            arrivals.append((now - started) * 1000.0)
                        reason = choice.get("finish_reason")
                        finish = reason if isinstance(reason, str) else finish
                    if isinstance(event.get("timings"), Mapping):
                        timings = event["timings"]
                    if isinstance(event.get("usage"), Mapping):
                        usage = event["usage"]
        except httpx.HTTPError as exc:
            raise self.http.fail(path, exc) from exc
        if not completions:
            raise self.http.unusable(path, "the stream carried no completion event")
        total = (time.perf_counter() - started) * 1000.0
        return RawRun(
            text="".join(text), arrivals_ms=tuple(arrivals), total_ms=total, engine=timings,
            engine_format=LLAMA_CPP if timings is not None else None,
            prompt_tokens=count(usage.get("prompt_tokens")),
            completion_tokens=count(usage.get("completion_tokens")), finish_reason=finish,
            request=body,
        )

    def close(self) -> None:
        self.http.close()


def iter_sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The `data:` payloads of a server-sent event stream, one per event, stopping at [DONE]."""
    parts: list[str] = []
    for line in lines:
        if line == "":
            if parts:
                payload = "\n".join(parts)
                parts = []
                if payload.strip() == "[DONE]":
                    return
                yield payload
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            parts.append(value[1:] if value.startswith(" ") else value)
    if parts:
        payload = "\n".join(parts)
        if payload.strip() != "[DONE]":
            yield payload
