"""tasks/speed.toml as values: the protocol's constants and one profile, with the user's
overrides (`--prompt`, `--n-predict`) applied. Pure apart from reading the spec file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runlocalai_bench import specs
from runlocalai_bench.errors import ConfigError

SLUG = "speed"


@dataclass(frozen=True)
class Consistency:
    prefill_vs_ttft_slack: float = 0.05
    prefill_vs_ttft_slack_ms: float = 10.0
    engine_vs_stream_max_ratio: float = 1.5
    ttft_overhead_note_ms: float = 250.0


@dataclass(frozen=True)
class SpeedPlan:
    """Everything that decides what a speed run measures."""

    profile: str
    title: str
    prompt: str
    prompt_tokens: int | None  # exact prompt length in tokens (pp512), else the text as is
    n_predict: int
    ignore_eos: bool
    split: bool  # prefill and decode measured by separate requests (llama-bench's pp / tg)
    warmup_runs: int
    measured_runs: int
    spread_threshold: float
    max_reruns: int
    ceiling_factor: float
    consistency: Consistency
    spec_sha256: str
    spec_path: Path
    prompt_overridden: bool = False


def load_speed_plan(profile: str | None = None, *, prompt: str | None = None,
                    n_predict: int | None = None) -> SpeedPlan:
    path = specs.spec_path("tasks", SLUG)
    return plan_from_spec(specs.load_spec("tasks", SLUG), profile, prompt=prompt,
                          n_predict=n_predict, spec_sha256=specs.spec_sha256(path),
                          spec_path=path)


def plan_from_spec(data: Mapping[str, Any], profile: str | None, *, prompt: str | None,
                   n_predict: int | None, spec_sha256: str, spec_path: Path) -> SpeedPlan:
    protocol = data.get("protocol", {})
    profiles = data.get("profiles", {})
    name = profile or protocol.get("default_profile", "standard")
    if name not in profiles:
        raise ConfigError(f"no speed profile named {name!r}",
                          hint=f"known: {', '.join(sorted(profiles))}")
    chosen = profiles[name]
    tokens = chosen.get("prompt_tokens")
    if prompt is not None and not prompt.strip():
        raise ConfigError("--prompt is empty", hint="leave it out to use the standard prompt")
    n = chosen["n_predict"] if n_predict is None else n_predict
    if n < 2:
        raise ConfigError("--n-predict must be at least 2",
                          hint="a decode rate needs two generated tokens or more")
    plan = SpeedPlan(
        profile=name,
        title=str(data.get("title", SLUG)),
        prompt=prompt if prompt is not None else protocol["prompt"],
        prompt_tokens=int(tokens) if tokens is not None else None,
        n_predict=int(n),
        ignore_eos=bool(chosen.get("ignore_eos", True)),
        split=bool(chosen.get("split", False)),
        warmup_runs=int(protocol["warmup_runs"]),
        measured_runs=int(protocol["measured_runs"]),
        spread_threshold=float(protocol["spread_threshold"]),
        max_reruns=int(protocol["max_reruns"]),
        ceiling_factor=float(protocol["ceiling_factor"]),
        consistency=Consistency(**data.get("consistency", {})),
        spec_sha256=spec_sha256,
        spec_path=spec_path,
        prompt_overridden=prompt is not None,
    )
    if plan.split and plan.prompt_tokens is None:
        raise ConfigError(f"{spec_path}: profile {name} splits prefill from decode",
                          hint="a split profile needs prompt_tokens")
    if plan.measured_runs < 3:
        raise ConfigError(f"{spec_path}: measured_runs is {plan.measured_runs}",
                          hint="the capture protocol needs three measured runs or more")
    return plan
