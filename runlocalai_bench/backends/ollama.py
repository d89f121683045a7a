"""Ollama through its native API (/api/generate, /api/chat).

Ollama's OpenAI-compatible /v1 ignores `num_ctx` and silently truncates long prompts to the
model's default window (2048 or 4096 tokens); the native API takes `options.num_ctx`, so rla
talks native and records the context it asked for. Completion-style prompts go with
`raw: true` so Ollama applies no template of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from runlocalai_bench.backends.openai_compat import OpenAICompatBackend
from runlocalai_bench.errors import BackendError
from runlocalai_bench.types import Generation, Prompt, RuntimeInfo, SamplingParams, TokenLogprob


class OllamaBackend(OpenAICompatBackend):
    name = "ollama"

    def __init__(self, endpoint: str, model: str, runtime: RuntimeInfo, *,
                 sampling: SamplingParams | None = None, num_ctx: int = 8192,
                 timeout: float = 600.0, retries: int = 4, backoff: float = 0.5,
                 api_key: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(endpoint, model, runtime, sampling=sampling, timeout=timeout,
                         retries=retries, backoff=backoff, api_key=api_key, transport=transport)
        self.num_ctx = num_ctx

    def sent_params(self, prompt: Prompt) -> dict[str, Any]:
        s = self.sampling
        options: dict[str, Any] = {
            "temperature": s.temperature, "top_k": s.top_k, "top_p": s.top_p, "min_p": 0.0,
            "repeat_penalty": 1.0, "seed": s.seed, "num_predict": prompt.max_tokens,
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

    def _parse(self, payload: Mapping[str, Any], prompt: Prompt,
               latency_ms: float) -> Generation:
        return parse_native(payload, latency_ms=latency_ms)


def parse_native(payload: Mapping[str, Any], *, latency_ms: float) -> Generation:
    """One /api/generate or /api/chat body (stream: false) as a Generation."""
    if "error" in payload:
        raise BackendError(f"Ollama: {payload['error']}", hint="check the model name and server")
    message = payload.get("message")
    text = message.get("content", "") if isinstance(message, dict) else payload.get("response", "")
    top: tuple[TokenLogprob, ...] = ()
    logprobs = payload.get("logprobs")
    if isinstance(logprobs, list) and logprobs:
        first = logprobs[0] or {}
        alts = first.get("top_logprobs") or [first]
        top = tuple(sorted((TokenLogprob(str(a.get("token", "")), float(a["logprob"]))
                            for a in alts if a.get("logprob") is not None),
                           key=lambda t: t.logprob, reverse=True))
    ns = 1e-6
    timings = {
        "prompt_n": payload.get("prompt_eval_count"),
        "prompt_ms": (payload.get("prompt_eval_duration") or 0) * ns,
        "predicted_n": payload.get("eval_count"),
        "predicted_ms": (payload.get("eval_duration") or 0) * ns,
        "total_duration_ns": payload.get("total_duration"),
        "load_duration_ns": payload.get("load_duration"),
    }
    return Generation(
        text=text or "",
        top_logprobs=top,
        finish_reason=payload.get("done_reason"),
        prompt_tokens=payload.get("prompt_eval_count"),
        completion_tokens=payload.get("eval_count"),
        latency_ms=latency_ms,
        server_timings=timings,
    )

