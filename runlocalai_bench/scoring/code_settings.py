"""The `code_execution` methodology as read from a task spec (tasks/humaneval-plus.toml): the
prompt templates and stops, the time limits derived from the reference solution's times, the
float tolerances, the special oracles and the sandbox's limits."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from runlocalai_bench.errors import ConfigError
from runlocalai_bench.evals import TaskSpec
from runlocalai_bench.scoring.outputs import ORACLES
from runlocalai_bench.scoring.sandbox import SandboxLimits


@dataclass(frozen=True)
class CodeSettings:
    completion_template: str
    chat_template: str
    chat_instruction: str
    stop: tuple[str, ...]
    max_tokens: int
    keep_prompt_imports: bool
    time_limit_floor_s: float
    time_limit_factor: float
    task_timeout_s: float
    task_timeout_grace_s: float
    float_atol: float
    rtol: float
    special_oracles: Mapping[str, str]
    reference_input_timeout_s: float
    reference_total_timeout_s: float
    limits: SandboxLimits = field(default_factory=SandboxLimits)

    @classmethod
    def from_spec(cls, spec: TaskSpec) -> CodeSettings:
        prompt, scoring = spec.data.get("prompt", {}), spec.data.get("scoring", {})
        try:
            oracles = dict(scoring.get("special_oracles", {}))
            unknown = sorted(set(oracles.values()) - set(ORACLES))
            if unknown:
                raise ConfigError(f"{spec.path}: unknown special oracle {unknown[0]!r}",
                                  hint=f"known: {', '.join(ORACLES)}")
            return cls(
                completion_template=str(prompt["completion"]),
                chat_template=str(prompt["chat"]),
                chat_instruction=str(prompt["chat_instruction"]),
                stop=tuple(prompt["stop"]),
                max_tokens=int(scoring["max_tokens"]),
                keep_prompt_imports=bool(scoring["chat_keep_prompt_imports"]),
                time_limit_floor_s=float(scoring["time_limit_floor_s"]),
                time_limit_factor=float(scoring["time_limit_factor"]),
                task_timeout_s=float(scoring["task_timeout_s"]),
                task_timeout_grace_s=float(scoring["task_timeout_grace_s"]),
                float_atol=float(scoring["float_atol"]),
                rtol=float(scoring["rtol"]),
                special_oracles=oracles,
                reference_input_timeout_s=float(scoring["reference_input_timeout_s"]),
                reference_total_timeout_s=float(scoring["reference_total_timeout_s"]),
                limits=SandboxLimits(**{key: int(value)
                                        for key, value in spec.data.get("sandbox", {}).items()}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{spec.path}: bad or missing setting ({exc})",
                              hint="compare it with tasks/humaneval-plus.toml") from exc

    def time_limits(self, reference_times: Sequence[float]) -> tuple[float, ...]:
        return tuple(max(self.time_limit_floor_s, self.time_limit_factor * t)
                     for t in reference_times)

    def total_timeout(self, limits: Sequence[float]) -> float:
        return min(self.task_timeout_s, math.fsum(limits)) + self.task_timeout_grace_s
