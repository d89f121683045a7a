"""Replay a previous run's recorded generations: rescoring without a model, and exact CI runs.

Generations are matched by the rendered prompt, so a replay refuses (as an error row) any prompt
the original run never sent: a changed prompt template cannot silently reuse old answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runlocalai_bench import __version__
from runlocalai_bench.errors import BackendError, ConfigError
from runlocalai_bench.results import rundir
from runlocalai_bench.types import Generation, ModelInfo, Prompt, RuntimeInfo, TokenLogprob


def generation_from_line(line: Mapping[str, Any]) -> Generation:
    gen = line.get("generation") or {}
    cands = gen.get("candidate_logprobs")
    return Generation(
        text=gen.get("text", line.get("response", "")),
        top_logprobs=tuple(TokenLogprob(t, float(lp)) for t, lp in gen.get("top_logprobs", [])),
        candidate_logprobs=None if cands is None else
        tuple(TokenLogprob(t, float(lp)) for t, lp in cands),
        finish_reason=gen.get("finish_reason"),
        prompt_tokens=gen.get("prompt_tokens"),
        completion_tokens=gen.get("completion_tokens"),
        latency_ms=float(line.get("latency_ms") or 0.0),
        server_timings=line.get("server_timings"),
    )


class ReplayBackend:
    name = "replay"

    def __init__(self, run_path: Path) -> None:
        run = rundir.RunDir(run_path)
        if not run.samples.is_file():
            raise ConfigError(f"{run_path} has no {rundir.SAMPLES} to replay",
                              hint="pass the directory of a finished run")
        self._by_prompt: dict[str, Generation] = {}
        for line in rundir.read_samples(run.samples):
            if line.get("status") != "error" and "generation" in line:
                self._by_prompt.setdefault(line["prompt"], generation_from_line(line))
        model = ModelInfo()
        if run.record.is_file():
            original = rundir.read_json(run.record)
            model = ModelInfo(**{k: v for k, v in (original.get("model") or {}).items()
                                 if k in ModelInfo.__dataclass_fields__})
        self._model = model
        self.source = str(run_path)

    def runtime(self) -> RuntimeInfo:
        return RuntimeInfo(engine="replay", version=__version__, slug=f"replay-{__version__}",
                           model=self._model, settings={"source": self.source})

    def sent_params(self, prompt: Prompt) -> Mapping[str, Any]:
        return {"replay": self.source}

    async def generate(self, prompt: Prompt) -> Generation:
        try:
            return self._by_prompt[prompt.rendered()]
        except KeyError:
            raise BackendError("the replayed run never sent this prompt",
                               hint="replay only with the task spec and flags of the original"
                               ) from None

    async def aclose(self) -> None:
        return None
