"""Streaming servers on 127.0.0.1 (tests/support/servers.py answering with `Streamed` chunks).

`StreamingLlamaServer` speaks llama-server's protocol for `rla bench speed`: /props, /v1/models,
/health, /tokenize and streamed /v1/completions whose last event carries `usage` and `timings`.
`StreamingOllama` speaks Ollama's: /api/version, /api/tags, /api/show, /v1/models and streamed
/api/generate whose final object carries the engine's durations.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.support.llama_stub import MODELS, PROPS
from tests.support.servers import LoopbackServer, Reply, Seen, Streamed


def sse(obj: Any) -> bytes:
    return f"data: {json.dumps(obj)}\n\n".encode()


def llama_timings(prompt_n: int, prompt_ms: float, predicted_n: int,
                  decode_tps: float) -> dict[str, Any]:
    """A timings object as llama-server reports it: rates over n - 1 decode steps, so one
    generated token has none (its time clamped to 1 µs, its rates 0)."""
    steps = predicted_n - 1
    predicted_ms = steps * 1000.0 / decode_tps if steps else 0.001
    return {"cache_n": 0, "prompt_n": prompt_n, "prompt_ms": prompt_ms,
            "prompt_per_token_ms": prompt_ms / prompt_n,
            "prompt_per_second": prompt_n * 1000.0 / prompt_ms,
            "predicted_n": predicted_n, "predicted_ms": predicted_ms,
            "predicted_per_token_ms": predicted_ms / steps if steps else 0.0,
            "predicted_per_second": decode_tps if steps else 0.0}


def _words(text: str) -> list[str]:
    return text.replace("\n", " \n ").split(" ")


@dataclass
class StreamingLlamaServer:
    """decode_tps(n) → the decode rate the n-th completion (1-based) reports in its timings.
    The prompt's tokens are its whitespace-separated words plus BOS (as /tokenize says);
    completions stream " w0", " w1", … one event per token, then usage and timings."""

    decode_tps: Callable[[int], float] = lambda n: 40.0
    prompt_ms: float = 1.0
    pause_s: float = 0.0
    # Events recorded from a real llama-server, replayed as they are for every completion.
    replay: Sequence[bytes] | None = None
    build_info: str = "b9999-0123abcd"
    models: Mapping[str, Any] = field(default_factory=lambda: MODELS)
    stale_after_stream: bool = False  # see LoopbackServer
    api_key: str | None = None  # when set, every request without it is refused with 401
    completions: int = 0
    bodies: list[Any] = field(default_factory=list)

    def tokens(self, text: str) -> list[int]:
        return [2] + [100 + len(w) for w in _words(text)]

    def handle(self, seen: Seen) -> Reply | Streamed:
        path = seen.path.split("?")[0]
        if self.api_key and seen.headers.get("Authorization") != f"Bearer {self.api_key}":
            return Reply(401, {"error": {"code": 401, "message": "Invalid API Key"}})
        if path == "/health":
            return Reply(body={"status": "ok"})
        if path == "/props":
            return Reply(body={**PROPS, "build_info": self.build_info})
        if path == "/v1/models":
            return Reply(body=dict(self.models))
        if path == "/tokenize":
            return Reply(body={"tokens": self.tokens(seen.body["content"])})
        if path == "/v1/completions":
            self.completions += 1
            self.bodies.append(seen.body)
            return self._completion(seen.body, self.decode_tps(self.completions))
        return Reply(404, {"error": {"code": 404, "message": "File Not Found"}})

    def _completion(self, body: Mapping[str, Any], tps: float) -> Streamed:
        if self.replay is not None:
            return Streamed(list(self.replay), pause_s=self.pause_s)
        prompt = body["prompt"]
        prompt_n = len(prompt) if isinstance(prompt, list) else len(self.tokens(prompt))
        n = int(body["max_tokens"])

        def events() -> Iterator[bytes]:
            for i in range(n):
                yield sse({"choices": [{"text": f" w{i}", "index": 0, "logprobs": None,
                                        "finish_reason": None}],
                           "object": "text_completion"})
            yield sse({"choices": [{"text": "", "index": 0, "logprobs": None,
                                    "finish_reason": "length"}],
                       "usage": {"prompt_tokens": prompt_n, "completion_tokens": n,
                                 "total_tokens": prompt_n + n},
                       "timings": llama_timings(prompt_n, self.prompt_ms, n, tps)})
            yield b"data: [DONE]\n\n"

        return Streamed(events(), pause_s=self.pause_s)

    def start(self) -> LoopbackServer:
        return LoopbackServer(self.handle, stale_after_stream=self.stale_after_stream).start()


@dataclass
class StreamingOllama:
    """Ollama 0.x: `pieces` streamed one per NDJSON line, then the final object `final`."""

    pieces: Sequence[str] = (" The", " attention", " mechanism")
    final: Mapping[str, Any] = field(default_factory=dict)
    size: int = 291_000_000
    bodies: list[Any] = field(default_factory=list)

    def handle(self, seen: Seen) -> Reply | Streamed:
        path = seen.path.split("?")[0]
        if path == "/api/version":
            return Reply(body={"version": "0.24.0"})
        if path == "/api/tags":
            return Reply(body={"models": [{"name": "gemma3:270m", "model": "gemma3:270m",
                                           "size": self.size}]})
        if path == "/api/show":
            return Reply(body={"details": {"family": "gemma3", "quantization_level": "Q8_0",
                                           "parameter_size": "268.10M"},
                               "model_info": {"general.architecture": "gemma3"},
                               "parameters": "stop \"<end_of_turn>\""})
        if path == "/v1/models":
            return Reply(body={"object": "list", "data": [{"id": "gemma3:270m"}]})
        if path == "/api/generate":
            self.bodies.append(seen.body)

            def lines() -> Iterator[bytes]:
                for piece in self.pieces:
                    yield (json.dumps({"model": "gemma3:270m", "response": piece,
                                       "done": False}) + "\n").encode()
                yield (json.dumps({"model": "gemma3:270m", "response": "", "done": True,
                                   "context": [1, 2, 3], **self.final}) + "\n").encode()

            return Streamed(lines(), content_type="application/x-ndjson")
        return Reply(404, {"error": "not found"})

    def start(self) -> LoopbackServer:
        return LoopbackServer(self.handle).start()
