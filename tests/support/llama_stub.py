"""A stand-in llama-server on 127.0.0.1 that answers instantly: the /props, /v1/models and
/health shapes of a real llama-server, and completions whose text comes from a policy function.

Tests use it to drive the pipeline over real HTTP without a model; the MMLU throughput
benchmark uses it to measure the harness's own ceiling.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.support.servers import LoopbackServer, Reply, Seen

PROPS = {
    "default_generation_settings": {"n_ctx": 4096, "params": {"temperature": 0.8, "top_k": 40,
                                                              "top_p": 0.95, "seed": 4294967295}},
    "total_slots": 1,
    "model_path": "/models/stub-q4_k_m.gguf",
    "model_ftype": "Q4_K - Medium",
    "chat_template": "{{ messages }}",
    "build_info": "b9999-0123abcd",
}
MODELS = {"object": "list", "data": [{
    "id": "stub-q4_k_m.gguf", "object": "model", "owned_by": "llamacpp",
    "meta": {"n_params": 268_098_176, "size": 253_000_000, "n_ctx_train": 32768,
             "n_vocab": 262144}}]}


@dataclass
class StubLlamaServer:
    """policy(prompt_text) → the text the 'model' answers (e.g. a letter)."""

    policy: Callable[[str], str]
    fail: Callable[[int], Reply | None] = lambda n: None
    completions: int = 0
    bodies: list[Any] = field(default_factory=list)

    def handle(self, seen: Seen) -> Reply:
        path = seen.path.split("?")[0]
        if path == "/health":
            return Reply(body={"status": "ok"})
        if path == "/props":
            return Reply(body=PROPS)
        if path == "/v1/models":
            return Reply(body=MODELS)
        if path in ("/v1/completions", "/v1/chat/completions"):
            self.completions += 1
            failure = self.fail(self.completions)
            if failure is not None:
                return failure
            self.bodies.append(seen.body)
            body = seen.body or {}
            prompt = body.get("prompt") or "\n".join(m["content"] for m in body.get("messages", []))
            text = self.policy(prompt)
            top = [{"token": f" {text}", "logprob": -0.1, "bytes": []},
                   {"token": " ", "logprob": -2.5, "bytes": []}]
            choice: dict[str, Any] = {"index": 0, "finish_reason": "length",
                                      "logprobs": {"content": [{"token": f" {text}",
                                                                "logprob": -0.1,
                                                                "top_logprobs": top}]}}
            if path == "/v1/completions":
                choice["text"] = f" {text}"
            else:
                choice["message"] = {"role": "assistant", "content": text}
            n_prompt = max(1, len(prompt) // 4)
            return Reply(body={
                "choices": [choice],
                "usage": {"prompt_tokens": n_prompt, "completion_tokens": 1},
                "timings": {"prompt_n": n_prompt, "prompt_ms": 0.5, "predicted_n": 1,
                            "predicted_ms": 0.1},
            })
        return Reply(404, {"error": {"code": 404, "message": "File Not Found",
                                     "type": "not_found_error"}})

    def start(self) -> LoopbackServer:
        return LoopbackServer(self.handle).start()
