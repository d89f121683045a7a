"""The one interface every backend implements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

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
