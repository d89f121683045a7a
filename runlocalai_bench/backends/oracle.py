"""A backend that knows the answers: each benchmark's reference generation for each prompt.

`rla selftest` runs every benchmark through the whole pipeline against it; any score other
than 100% means the pipeline, a prompt builder or a scorer is broken.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runlocalai_bench import __version__
from runlocalai_bench.errors import BackendError
from runlocalai_bench.evals import Eval
from runlocalai_bench.types import Generation, Item, ModelInfo, Prompt, RuntimeInfo


class OracleBackend:
    name = "oracle"

    def __init__(self, eval_: Eval, pairs: Sequence[tuple[Item, Prompt]]) -> None:
        self._answers: dict[str, Generation] = {}
        for item, prompt in pairs:
            self._answers.setdefault(prompt.rendered(), eval_.reference_generation(item, prompt))

    def runtime(self) -> RuntimeInfo:
        return RuntimeInfo(engine="oracle", version=__version__, slug=f"oracle-{__version__}",
                           model=ModelInfo(id="oracle", name="reference answers"))

    def sent_params(self, prompt: Prompt) -> Mapping[str, Any]:
        return {"oracle": True}

    async def generate(self, prompt: Prompt) -> Generation:
        try:
            return self._answers[prompt.rendered()]
        except KeyError:
            raise BackendError("the oracle has no answer for this prompt",
                               hint="the oracle answers only the prompts it was built with"
                               ) from None

    async def aclose(self) -> None:
        return None
