"""OpenAI-compatible HTTP backend: /v1/completions and /v1/chat/completions.

Plain httpx rather than the OpenAI SDK: we must put engine-specific fields on the wire
(`cache_prompt`, `top_k`), read fields the SDK does not model (llama-server's `timings`, its
chat-shaped logprobs on /v1/completions) and own the retry policy, so the raw request is the
simpler tool.

Retries: connection errors, 5xx and 429 are retried with exponential backoff (honouring
Retry-After), up to `retries` times. A connection that still fails is fatal for the run (the
server is gone: restart it and `--resume`); a 4xx is an error row for that one sample. A request
that met a kept-alive connection the server had already dropped ("Server disconnected without
sending a response": llama-server drops one after a response that outlasted its 5 s keep-alive,
unannounced) never reached the engine: it is sent again at once, once, and is not a retry.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from typing import Any

import httpx

from runlocalai_bench.errors import BackendError
from runlocalai_bench.types import (
    Generation,
    Prompt,
    RuntimeInfo,
    SamplingParams,
    TokenLogprob,
)

# Fields beyond the OpenAI schema that an engine understands and that make decoding greedy and
# repeatable. Servers not listed get only standard fields (strict servers reject unknown ones).
_ENGINE_EXTRAS: Mapping[str, tuple[str, ...]] = {
    "llama.cpp": ("top_k", "cache_prompt"),
    "vllm": ("top_k",),
    "lmstudio": ("top_k",),
}


def base_url(endpoint: str) -> str:
    """`http://h:p`, `http://h:p/`, `http://h:p/v1` → `http://h:p`."""
    url = endpoint.rstrip("/")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    return url


class OpenAICompatBackend:
    name = "openai-compatible"

    def __init__(
        self,
        endpoint: str,
        model: str,
        runtime: RuntimeInfo,
        *,
        sampling: SamplingParams | None = None,
        timeout: float = 600.0,
        retries: int = 4,
        backoff: float = 0.5,
        api_key: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base = base_url(endpoint)
        self.model = model
        self._runtime = runtime
        self.sampling = sampling or SamplingParams()
        self.retries = retries
        self.backoff = backoff
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=self.base,
            timeout=httpx.Timeout(timeout, connect=10.0),
            headers=headers,
            transport=transport,
        )

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
        extras = _ENGINE_EXTRAS.get(self._runtime.engine, ())
        if "top_k" in extras:
            params["top_k"] = s.top_k
        if "cache_prompt" in extras:
            params["cache_prompt"] = s.cache_prompt
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
        attempt = 0
        stale_resent = False
        while True:
            started = time.perf_counter()
            try:
                response = await self._client.post(path, json=body)
            except httpx.RemoteProtocolError as exc:
                if not stale_resent and "without sending a response" in str(exc):
                    # A kept-alive connection the server had dropped (llama-server does after a
                    # response that outlasted its 5 s keep-alive): the request never reached it.
                    stale_resent = True
                    continue
                if attempt >= self.retries:
                    raise self._unreachable(path, exc, attempt) from exc
                await asyncio.sleep(self._delay(attempt, None))
                attempt += 1
                continue
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                if attempt >= self.retries:
                    raise self._unreachable(path, exc, attempt) from exc
                await asyncio.sleep(self._delay(attempt, None))
                attempt += 1
                continue
            latency_ms = (time.perf_counter() - started) * 1000.0
            status = response.status_code
            if status == 429 or status >= 500:
                if attempt >= self.retries:
                    raise BackendError(
                        f"{self.base}{path} answered HTTP {status} after {attempt + 1} attempts:"
                        f" {_error_text(response)}",
                        hint="the server is overloaded or failing; check its log, then --resume",
                        fatal=True,
                    )
                await asyncio.sleep(self._delay(attempt, response.headers.get("retry-after")))
                attempt += 1
                continue
            if status >= 400:
                raise BackendError(
                    f"HTTP {status} from {path}: {_error_text(response)}",
                    hint="the request was refused; the sample is recorded as an error",
                )
            try:
                payload = response.json()
            except ValueError as exc:
                raise BackendError(
                    f"{path} returned a body that is not JSON",
                    hint="is the endpoint an OpenAI-compatible server?",
                    fatal=True,
                ) from exc
            return self._parse(payload, prompt, latency_ms)

    def _parse(self, payload: Mapping[str, Any], prompt: Prompt,
               latency_ms: float) -> Generation:
        return parse_response(payload, chat=prompt.style == "chat", latency_ms=latency_ms)

    def _unreachable(self, path: str, exc: Exception, attempt: int) -> BackendError:
        return BackendError(
            f"{self.base}{path}: {type(exc).__name__}: {exc or 'no response'}"
            f" (after {attempt + 1} attempts)",
            hint="is the server still running? restart it and rerun with --resume",
            fatal=not isinstance(exc, httpx.ReadTimeout),
        )

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), 60.0)
            except ValueError:
                pass
        return self.backoff * (2**attempt) * (1 + random.random() * 0.25)

    async def aclose(self) -> None:
        await self._client.aclose()


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message") or err)[:300]
        return str(err)[:300]
    return str(body)[:300]


# -- response parsing (pure) ---------------------------------------------------------------


def parse_response(payload: Mapping[str, Any], *, chat: bool, latency_ms: float) -> Generation:
    """Turn one completions / chat completions body into a Generation.

    Logprobs come in two shapes: the chat shape (`logprobs.content[i].top_logprobs` = list of
    `{token, logprob}`), which llama-server also uses on /v1/completions, and the legacy
    completions shape (`logprobs.top_logprobs[i]` = `{token: logprob}`), which vLLM uses.
    """
    choices = payload.get("choices") or []
    if not choices:
        raise BackendError("the server's response has no choices",
                           hint="is the endpoint an OpenAI-compatible server?")
    choice = choices[0]
    if chat:
        message = choice.get("message") or {}
        text = message.get("content") or ""
    else:
        text = choice.get("text") or ""
    usage = payload.get("usage") or {}
    timings = payload.get("timings")
    return Generation(
        text=text,
        top_logprobs=first_token_top_logprobs(choice.get("logprobs")),
        finish_reason=choice.get("finish_reason"),
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
        latency_ms=latency_ms,
        server_timings=timings if isinstance(timings, dict) else None,
    )


def first_token_top_logprobs(logprobs: Any) -> tuple[TokenLogprob, ...]:
    if not isinstance(logprobs, dict):
        return ()
    content = logprobs.get("content")
    if isinstance(content, list) and content:
        first = content[0] or {}
        alts = first.get("top_logprobs") or []
        out = [
            TokenLogprob(str(a.get("token", "")), float(a["logprob"]))
            for a in alts
            if isinstance(a, dict) and a.get("logprob") is not None
        ]
        if not out and first.get("logprob") is not None:
            out = [TokenLogprob(str(first.get("token", "")), float(first["logprob"]))]
        return _sorted(out)
    legacy = logprobs.get("top_logprobs")
    if isinstance(legacy, list) and legacy and isinstance(legacy[0], dict):
        return _sorted([TokenLogprob(str(t), float(lp)) for t, lp in legacy[0].items()
                        if lp is not None])
    return ()


def _sorted(items: list[TokenLogprob]) -> tuple[TokenLogprob, ...]:
    return tuple(sorted(items, key=lambda t: t.logprob, reverse=True))
