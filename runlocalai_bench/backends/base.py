"""The two interfaces every engine client implements: generate (quality runs) and stream
(speed runs)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from runlocalai_bench.speed.measure import RawRun
from runlocalai_bench.types import Generation, Prompt, RuntimeInfo


class Backend(Protocol):
    """Generate greedily with stop sequences; return the first token's top-k logprobs.

    `sent_params(prompt)` is every sampling field the backend puts on the wire for that prompt
    (the record stores it). `generate` raises BackendError when a request fails for good; with
    `fatal=True` when the endpoint itself is gone and the run should stop (resumable).
    """

    name: str

    def runtime(self) -> RuntimeInfo: ...

    def sent_params(self, prompt: Prompt) -> Mapping[str, Any]: ...

    async def generate(self, prompt: Prompt) -> Generation: ...

    async def aclose(self) -> None: ...


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
    """Stream one generation, timing each token-bearing event as it arrives (RawRun)."""

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


def experts_from_metadata(metadata: Mapping[str, Any], architecture: str | None) -> Experts:
    """Expert counts from GGUF (or Ollama model_info) keys `<arch>.expert_count`,
    `<arch>.expert_used_count`."""
    if not architecture:
        return Experts()
    count = metadata.get(f"{architecture}.expert_count")
    used = metadata.get(f"{architecture}.expert_used_count")
    return Experts(count=count if isinstance(count, int) and count > 1 else None,
                   used=used if isinstance(used, int) and used > 0 else None)


def count(value: Any) -> int | None:
    """A JSON number as an int; None for anything else (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)
