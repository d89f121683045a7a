"""Ollama through its native API (/api/generate, /api/chat).

Ollama's OpenAI-compatible /v1 ignores `num_ctx` and silently truncates long prompts to the
model's default window (2048 or 4096 tokens); the native API takes `options.num_ctx`, so rla
talks native and records the context it asked for. Completion-style prompts go with
`raw: true` so Ollama applies no template of its own.

    OllamaBackend    generate: stream: false, the first token's top logprobs
    OllamaStreamer   stream: POST /api/generate, stream: true (NDJSON), each token's arrival
                     timed; the final object carries the engine's durations (it may reuse a
                     cached prompt: prompt_eval_count then shows fewer tokens, and is recorded)

The HTTP policy is backends/http.py's (a stream's, backends/streaming.py's), as for every
engine.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import httpx

from runlocalai_bench import jsonio
from runlocalai_bench.backends.base import Experts, SpeedRequest, count, experts_from_metadata
from runlocalai_bench.backends.fields import neutral_samplers
from runlocalai_bench.backends.http import (
    DEFAULT_TIMEOUT,
    FAULT_BUDGET,
    FAULT_WINDOW,
    MAX_ANSWER_BYTES,
    InvalidAnswer,
    error_text_of,
    json_kind,
)
from runlocalai_bench.backends.openai_compat import OpenAICompatBackend, token_logprob
from runlocalai_bench.backends.streaming import Streaming
from runlocalai_bench.errors import BackendError, ConfigError
from runlocalai_bench.redact import redact
from runlocalai_bench.speed.measure import OLLAMA, RawRun
from runlocalai_bench.types import Generation, Prompt, RuntimeInfo, SamplingParams, TokenLogprob


class OllamaBackend(OpenAICompatBackend):
    name = "ollama"

    def __init__(self, endpoint: str, model: str, runtime: RuntimeInfo, *,
                 sampling: SamplingParams | None = None, num_ctx: int = 8192,
                 timeout: float = DEFAULT_TIMEOUT, retries: int = 4, backoff: float = 0.5,
                 api_key: str | None = None, fault_budget: int = FAULT_BUDGET,
                 fault_window: float = FAULT_WINDOW) -> None:
        super().__init__(endpoint, model, runtime, sampling=sampling, timeout=timeout,
                         retries=retries, backoff=backoff, api_key=api_key,
                         fault_budget=fault_budget, fault_window=fault_window)
        self.num_ctx = num_ctx

    def sent_params(self, prompt: Prompt) -> dict[str, Any]:
        s = self.sampling
        options: dict[str, Any] = {
            "temperature": s.temperature, "top_k": s.top_k, "top_p": s.top_p,
            **neutral_samplers("ollama"), "seed": s.seed, "num_predict": prompt.max_tokens,
            "num_ctx": self.num_ctx,
        }
        if prompt.stop:
            options["stop"] = list(prompt.stop)
        params: dict[str, Any] = {"stream": False, "options": options}
        if prompt.top_logprobs:
            params["logprobs"] = True
            params["top_logprobs"] = prompt.top_logprobs
        return params

    def _request(self, prompt: Prompt) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"model": self.model, **self.sent_params(prompt)}
        if prompt.style == "chat":
            body["messages"] = [{"role": m.role, "content": m.content} for m in prompt.messages]
            return "/api/chat", body
        body["prompt"] = prompt.text
        body["raw"] = True
        return "/api/generate", body

    def _parse(self, payload: Any, prompt: Prompt, latency_ms: float) -> Generation:
        return parse_native(payload, latency_ms=latency_ms)


def parse_native(payload: Any, *, latency_ms: float) -> Generation:
    """One /api/generate or /api/chat body (stream: false) as a Generation, or InvalidAnswer
    when it is not one: it is retried, never scored."""
    if not isinstance(payload, dict):
        raise InvalidAnswer(f"the answer is {json_kind(payload)}, not an object")
    if "error" in payload:
        raise InvalidAnswer(f"Ollama: {error_text_of(payload)}")
    message = payload.get("message")
    if isinstance(message, dict):
        text, where = message.get("content", ""), "message.content"
    elif "response" in payload:
        text, where = payload["response"], "response"
    else:
        raise InvalidAnswer("the answer has neither a response nor a message")
    if not isinstance(text, str):
        raise InvalidAnswer(f"{where} is {json_kind(text)}, not a string")
    top: tuple[TokenLogprob, ...] = ()
    logprobs = payload.get("logprobs")
    if isinstance(logprobs, list) and logprobs:
        first = logprobs[0]
        alts = (first.get("top_logprobs") or [first]) if isinstance(first, dict) else None
        if not isinstance(alts, list):
            raise InvalidAnswer("logprobs[0] is not an object with top_logprobs")
        top = tuple(sorted((token_logprob(a.get("token", ""), a["logprob"])
                            for a in alts if isinstance(a, dict) and a.get("logprob") is not None),
                           key=lambda t: t.logprob, reverse=True))
    ns = 1e-6
    prompt_n = count(payload.get("prompt_eval_count"))
    predicted_n = count(payload.get("eval_count"))
    timings = {
        "prompt_n": prompt_n,
        "prompt_ms": (count(payload.get("prompt_eval_duration")) or 0) * ns,
        "predicted_n": predicted_n,
        "predicted_ms": (count(payload.get("eval_duration")) or 0) * ns,
        "total_duration_ns": count(payload.get("total_duration")),
        "load_duration_ns": count(payload.get("load_duration")),
    }
    finish = payload.get("done_reason")
    return Generation(
        text=text,
        top_logprobs=top,
        finish_reason=finish if isinstance(finish, str) else None,
        prompt_tokens=prompt_n,
        completion_tokens=predicted_n,
        latency_ms=latency_ms,
        server_timings=timings,
    )


# -- stream --------------------------------------------------------------------------------


class OllamaStreamer:
    def __init__(self, endpoint: str, model: str, runtime: RuntimeInfo, *,
                 sampling: SamplingParams, timeout: float = DEFAULT_TIMEOUT,
                 api_key: str | None = None,
                 n_ctx: int | None = None) -> None:
        self.http = Streaming(endpoint, timeout=timeout, api_key=api_key)
        self.model = model
        self.sampling = sampling
        self.n_ctx = n_ctx
        size, experts = self._model_facts(runtime.model.architecture)
        self.experts = experts
        self.runtime = replace(runtime, model=replace(
            runtime.model, size_bytes=runtime.model.size_bytes or size))

    def _model_facts(self, architecture: str | None) -> tuple[int | None, Experts]:
        """The model's size from /api/tags and its experts from /api/show's model_info."""
        size: int | None = None
        experts = Experts()
        try:
            tags = self.http.client.get("/api/tags")
            if tags.status_code == 200:
                for entry in _answer(tags, "/api/tags").get("models") or ():
                    if self.model in (entry.get("name"), entry.get("model")):
                        size = count(entry.get("size"))
            show = self.http.client.post("/api/show", json={"model": self.model})
            if show.status_code == 200:
                info = _answer(show, "/api/show").get("model_info") or {}
                arch = architecture or info.get("general.architecture")
                experts = experts_from_metadata(info, arch)
        except (httpx.HTTPError, BackendError, AttributeError, TypeError):
            # facts that make a speed row richer, not ones it needs: a bad answer goes unread
            return size, experts
        return size, experts

    def tokenize(self, text: str) -> list[int] | None:
        return None

    def body(self, request: SpeedRequest) -> dict[str, Any]:
        s = self.sampling
        options: dict[str, Any] = {"temperature": s.temperature, "top_k": s.top_k,
                                   "top_p": s.top_p, **neutral_samplers("ollama"),
                                   "seed": request.seed, "num_predict": request.n_predict}
        if self.n_ctx:
            options["num_ctx"] = self.n_ctx
        return {"model": self.model, "prompt": request.prompt, "raw": True, "stream": True,
                "options": options}

    def stream(self, request: SpeedRequest) -> RawRun:
        if request.token_ids is not None:
            raise ConfigError("Ollama takes no token ids", hint="use the standard profile")
        body = self.body(request)
        path = "/api/generate"
        text: list[str] = []
        arrivals: list[float] = []
        final: Mapping[str, Any] = {}
        try:
            with self.http.stream(path, body) as (response, started):
                if response.status_code != 200:
                    raise self.http.refused(path, response)
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    now = time.perf_counter()
                    event = self.http.event(line, path)
                    if event.get("error"):
                        raise BackendError(f"Ollama: {redact(str(event['error']))}",
                                           hint="check the server's log", fatal=True)
                    piece = event.get("response") or ""
                    if not isinstance(piece, str):
                        raise self.http.unusable(path, "an event's response is not a string")
                    if piece:
                        text.append(piece)
                        arrivals.append((now - started) * 1000.0)
                    if event.get("done"):
                        final = event
        except httpx.HTTPError as exc:
            raise self.http.fail(path, exc) from exc
        if not final:
            raise self.http.unusable(path, "the stream ended without its final (done) event")
        total = (time.perf_counter() - started) * 1000.0
        engine = _engine_from_final(final)
        return RawRun(
            text="".join(text), arrivals_ms=tuple(arrivals), total_ms=total, engine=engine,
            engine_format=OLLAMA if engine else None,
            prompt_tokens=count(final.get("prompt_eval_count")),
            completion_tokens=count(final.get("eval_count")),
            finish_reason=reason if isinstance(reason := final.get("done_reason"), str) else None,
            request=body,
        )

    def close(self) -> None:
        self.http.close()


def _answer(response: httpx.Response, path: str) -> Any:
    return jsonio.loads(response.content, f"{path}'s answer", max_bytes=MAX_ANSWER_BYTES,
                        error=BackendError, hint="is the endpoint Ollama?")


def _engine_from_final(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Ollama's final object without the generated text and the context token list."""
    return {k: v for k, v in obj.items() if k not in ("response", "context", "thinking")}
