"""Streamed generation, timed as tokens arrive: the I/O edge of `rla bench speed`.

    OpenAI-compatible servers   POST /v1/completions, stream: true (server-sent events); the
                                last events carry usage and, on llama-server, `timings`
    Ollama                      POST /api/generate, stream: true (NDJSON); the final object
                                carries the engine's durations (it may reuse a cached prompt:
                                prompt_eval_count then shows fewer tokens, and is recorded)
    llama-cpp-python            Llama.create_completion(stream=True) in process, with llama.cpp's
                                perf counters reset before and read after each run

No request is retried: a retry would hide in the timings. Each request goes on a connection of
its own (`Connection: close`): llama-server drops a kept-alive connection once a response has
outlasted its 5 s keep-alive, without saying so, and a request sent at once on it comes back
with nothing. Each request starts from an empty prompt cache (`cache_prompt: false`, a reset
context in process), so every run prefills.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import httpx

from runlocalai_bench.errors import BackendError, ConfigError
from runlocalai_bench.redact import redact
from runlocalai_bench.speed.measure import LLAMA_CPP, LLAMA_CPP_PERF, OLLAMA, RawRun
from runlocalai_bench.types import ModelInfo, RuntimeInfo, SamplingParams


@dataclass(frozen=True)
class SpeedRequest:
    """One generation to time: a text prompt, or exact token ids where the engine takes them."""

    n_predict: int
    ignore_eos: bool
    seed: int
    prompt: str = ""
    token_ids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Experts:
    count: int | None = None
    used: int | None = None


class Streamer(Protocol):
    runtime: RuntimeInfo
    experts: Experts

    def tokenize(self, text: str) -> list[int] | None:
        """The engine's tokens for `text` (with BOS), or None when it cannot tokenize."""
        ...

    def body(self, request: SpeedRequest) -> Mapping[str, Any]:
        """What goes on the wire (or into the call) for this request."""
        ...

    def stream(self, request: SpeedRequest) -> RawRun: ...

    def close(self) -> None: ...


# -- pure parsing --------------------------------------------------------------------------


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


def experts_from_metadata(metadata: Mapping[str, Any], architecture: str | None) -> Experts:
    """Expert counts from GGUF (or Ollama model_info) keys `<arch>.expert_count`,
    `<arch>.expert_used_count`."""
    if not architecture:
        return Experts()
    count = metadata.get(f"{architecture}.expert_count")
    used = metadata.get(f"{architecture}.expert_used_count")
    return Experts(count=count if isinstance(count, int) and count > 1 else None,
                   used=used if isinstance(used, int) and used > 0 else None)


def _engine_from_final(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Ollama's final object without the generated text and the context token list."""
    return {k: v for k, v in obj.items() if k not in ("response", "context", "thinking")}


# -- OpenAI-compatible servers -------------------------------------------------------------

# Fields beyond the OpenAI schema each engine understands (strict servers reject others).
_ENGINE_EXTRAS: Mapping[str, tuple[str, ...]] = {
    "llama.cpp": ("top_k", "cache_prompt", "ignore_eos"),
    "vllm": ("top_k", "ignore_eos"),
    "lmstudio": ("top_k",),
}


class _Http:
    def __init__(self, endpoint: str, *, timeout: float, api_key: str | None,
                 transport: httpx.BaseTransport | None = None) -> None:
        url = endpoint.rstrip("/")
        self.base = url[: -len("/v1")] if url.endswith("/v1") else url
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=self.base, headers=headers, transport=transport,
                                   timeout=httpx.Timeout(timeout, connect=10.0))

    @contextmanager
    def stream(self, path: str, body: Mapping[str, Any]) -> Iterator[tuple[httpx.Response, float]]:
        """POST `body` for a streamed answer on a fresh connection: the response (its headers
        read) and the perf_counter time the request was sent."""
        request = self.client.build_request("POST", path, json=body,
                                            headers={"Connection": "close"})
        started = time.perf_counter()
        response = self.client.send(request, stream=True)
        try:
            yield response, started
        finally:
            response.close()

    def fail(self, path: str, exc: Exception) -> BackendError:
        return BackendError(f"{redact(self.base)}{path}: {type(exc).__name__}: {exc}",
                            hint="is the server still running? start it and run again",
                            fatal=True)

    def refused(self, path: str, response: httpx.Response) -> BackendError:
        response.read()
        text = response.text[:300].strip() or response.reason_phrase
        return BackendError(f"HTTP {response.status_code} from {path}: {redact(text)}",
                            hint="check the server's log; the speed run stopped", fatal=True)


class OpenAIStreamer:
    def __init__(self, endpoint: str, model: str, runtime: RuntimeInfo, *,
                 sampling: SamplingParams, timeout: float = 600.0, api_key: str | None = None,
                 experts: Experts | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.http = _Http(endpoint, timeout=timeout, api_key=api_key, transport=transport)
        self.model = model
        self.runtime = runtime
        self.sampling = sampling
        self.experts = experts or Experts()
        self._extras = _ENGINE_EXTRAS.get(runtime.engine, ())

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
        tokens = response.json().get("tokens")
        return [int(t) for t in tokens] if isinstance(tokens, list) else None

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
        if "top_k" in self._extras:
            body["top_k"] = s.top_k
        if "cache_prompt" in self._extras:
            body["cache_prompt"] = False
        if "ignore_eos" in self._extras and request.ignore_eos:
            body["ignore_eos"] = True
        return body

    def stream(self, request: SpeedRequest) -> RawRun:
        body = self.body(request)
        path = "/v1/completions"
        text: list[str] = []
        arrivals: list[float] = []
        timings: Mapping[str, Any] | None = None
        usage: Mapping[str, Any] = {}
        finish: str | None = None
        try:
            with self.http.stream(path, body) as (response, started):
                if response.status_code != 200:
                    raise self.http.refused(path, response)
                for payload in iter_sse_data(response.iter_lines()):
                    now = time.perf_counter()
                    try:
                        event = json.loads(payload)
                    except ValueError as exc:
                        raise BackendError(f"{path} streamed an event that is not JSON",
                                           hint="is the endpoint OpenAI-compatible?",
                                           fatal=True) from exc
                    for choice in event.get("choices") or ():
                        piece = choice.get("text") or ""
                        if piece:
                            text.append(piece)
                            arrivals.append((now - started) * 1000.0)
                        finish = choice.get("finish_reason") or finish
                    if isinstance(event.get("timings"), Mapping):
                        timings = event["timings"]
                    if isinstance(event.get("usage"), Mapping):
                        usage = event["usage"]
        except httpx.HTTPError as exc:
            raise self.http.fail(path, exc) from exc
        total = (time.perf_counter() - started) * 1000.0
        return RawRun(
            text="".join(text), arrivals_ms=tuple(arrivals), total_ms=total, engine=timings,
            engine_format=LLAMA_CPP if timings is not None else None,
            prompt_tokens=_int(usage.get("prompt_tokens")),
            completion_tokens=_int(usage.get("completion_tokens")), finish_reason=finish,
            request=body,
        )

    def close(self) -> None:
        self.http.client.close()


# -- Ollama --------------------------------------------------------------------------------


class OllamaStreamer:
    def __init__(self, endpoint: str, model: str, runtime: RuntimeInfo, *,
                 sampling: SamplingParams, timeout: float = 600.0, api_key: str | None = None,
                 n_ctx: int | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.http = _Http(endpoint, timeout=timeout, api_key=api_key, transport=transport)
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
                for entry in tags.json().get("models") or ():
                    if self.model in (entry.get("name"), entry.get("model")):
                        size = _int(entry.get("size"))
            show = self.http.client.post("/api/show", json={"model": self.model})
            if show.status_code == 200:
                info = show.json().get("model_info") or {}
                arch = architecture or info.get("general.architecture")
                experts = experts_from_metadata(info, arch)
        except (httpx.HTTPError, ValueError, AttributeError):
            return size, experts
        return size, experts

    def tokenize(self, text: str) -> list[int] | None:
        return None

    def body(self, request: SpeedRequest) -> dict[str, Any]:
        s = self.sampling
        options: dict[str, Any] = {"temperature": s.temperature, "top_k": s.top_k,
                                   "top_p": s.top_p, "seed": request.seed,
                                   "num_predict": request.n_predict}
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
                    try:
                        event = json.loads(line)
                    except ValueError as exc:
                        raise BackendError(f"{path} streamed a line that is not JSON",
                                           hint="is the endpoint Ollama?", fatal=True) from exc
                    if event.get("error"):
                        raise BackendError(f"Ollama: {redact(str(event['error']))}",
                                           hint="check the server's log", fatal=True)
                    piece = event.get("response") or ""
                    if piece:
                        text.append(piece)
                        arrivals.append((now - started) * 1000.0)
                    if event.get("done"):
                        final = event
        except httpx.HTTPError as exc:
            raise self.http.fail(path, exc) from exc
        total = (time.perf_counter() - started) * 1000.0
        engine = _engine_from_final(final) if final else None
        return RawRun(
            text="".join(text), arrivals_ms=tuple(arrivals), total_ms=total, engine=engine,
            engine_format=OLLAMA if engine else None,
            prompt_tokens=_int(final.get("prompt_eval_count")),
            completion_tokens=_int(final.get("eval_count")),
            finish_reason=final.get("done_reason"), request=body,
        )

    def close(self) -> None:
        self.http.client.close()


# -- llama-cpp-python in process -----------------------------------------------------------


class InProcessStreamer:
    def __init__(self, model_path: Path, info: ModelInfo, *, sampling: SamplingParams,
                 n_ctx: int, n_threads: int | None) -> None:
        from runlocalai_bench.backends.llama_cpp import import_llama_cpp
        from runlocalai_bench.errors import ModelFileError
        from runlocalai_bench.runtime.gguf import read_gguf

        self._llama_cpp = import_llama_cpp()
        self.sampling = sampling
        gguf = read_gguf(model_path)
        self.experts = experts_from_metadata(gguf.metadata, gguf.architecture)
        try:
            self._llm = self._llama_cpp.Llama(
                model_path=str(model_path), n_ctx=n_ctx, n_threads=n_threads,
                seed=sampling.seed, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelFileError(f"llama.cpp could not load {model_path}: {exc}",
                                 hint="is the file a complete GGUF? re-download it") from exc
        version = getattr(self._llama_cpp, "__version__", None)
        template = self._llm.metadata.get("tokenizer.chat_template")
        if template and info.chat_template_sha256 is None:
            info = replace(info, chat_template_sha256=hashlib.sha256(
                template.encode()).hexdigest())
        self.runtime = RuntimeInfo(
            engine="llama-cpp-python", version=version,
            slug=f"llama-cpp-python-{version or 'unknown'}", model=info, slots=1, n_ctx=n_ctx,
            settings={"n_threads": self._llm.n_threads, "n_batch": self._llm.n_batch,
                      "kv_cache_reuse": False},
        )

    def tokenize(self, text: str) -> list[int] | None:
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=False))

    def body(self, request: SpeedRequest) -> dict[str, Any]:
        s = self.sampling
        return {
            "prompt": list(request.token_ids) if request.token_ids is not None
            else request.prompt,
            "max_tokens": request.n_predict, "temperature": s.temperature, "top_k": s.top_k,
            "top_p": s.top_p, "min_p": 0.0, "repeat_penalty": 1.0, "seed": request.seed,
            "stream": True, "ignore_eos": request.ignore_eos,
        }

    def _ban_eos(self) -> Any:
        import numpy as np

        eos = self._llm.token_eos()

        def processor(input_ids: Any, scores: Any) -> Any:
            scores[eos] = -np.inf
            return scores

        return self._llama_cpp.LogitsProcessorList([processor])

    def stream(self, request: SpeedRequest) -> RawRun:
        llm, lib = self._llm, self._llama_cpp
        body = self.body(request)
        prompt: Any = list(request.token_ids) if request.token_ids is not None else \
            llm.tokenize(request.prompt.encode("utf-8"), add_bos=True, special=False)
        llm.reset()  # no prefix reuse: every run prefills its whole prompt
        lib.llama_perf_context_reset(llm.ctx)
        text: list[str] = []
        arrivals: list[float] = []
        finish: str | None = None
        started = time.perf_counter()
        chunks = llm.create_completion(
            prompt=prompt, max_tokens=request.n_predict, temperature=self.sampling.temperature,
            top_k=self.sampling.top_k, top_p=self.sampling.top_p, min_p=0.0,
            repeat_penalty=1.0, seed=request.seed, stream=True,
            logits_processor=self._ban_eos() if request.ignore_eos else None,
        )
        for chunk in chunks:
            now = time.perf_counter()
            choice = chunk["choices"][0]
            piece = choice.get("text") or ""
            if piece:
                text.append(piece)
                arrivals.append((now - started) * 1000.0)
            finish = choice.get("finish_reason") or finish
        total = (time.perf_counter() - started) * 1000.0
        perf = lib.llama_perf_context(llm.ctx)
        engine = {name: getattr(perf, name) for name, _ in perf._fields_}
        # Every generated token but the last is fed back (a decode step); a run that stops at
        # an end-of-generation token has fed back all of its tokens.
        steps = int(engine.get("n_eval") or 0)
        generated = steps + 1 if finish == "length" and arrivals else steps
        return RawRun(
            text="".join(text), arrivals_ms=tuple(arrivals), total_ms=total, engine=engine,
            engine_format=LLAMA_CPP_PERF, prompt_tokens=len(prompt),
            completion_tokens=generated, finish_reason=finish, request=body,
        )

    def close(self) -> None:
        close = getattr(self._llm, "close", None)
        if close is not None:
            close()


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)
