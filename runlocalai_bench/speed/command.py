"""`rla bench speed`: the flags `rla bench` shares with quality runs, plus the speed ones."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from runlocalai_bench import ui
from runlocalai_bench.config import build_config
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.speed.runner import SpeedOutcome

# `rla bench` flags that mean nothing to a speed run: refused rather than silently ignored.
_QUALITY_ONLY = ("data_dir", "sample", "allow_unpinned", "limit", "limit_per_subtask",
                 "prompt_style", "cache_prompt", "resume")


def bench_speed(flags: Mapping[str, Any], *, profile: str | None, n_predict: int | None,
                prompt: str | None, preset: str | None, json_output: bool) -> SpeedOutcome:
    from runlocalai_bench.backends.factory import open_streamer
    from runlocalai_bench.rig import detect_rig
    from runlocalai_bench.speed.render import RichSpeedUI
    from runlocalai_bench.speed.runner import run_speed
    from runlocalai_bench.speed.spec import load_speed_plan

    given = [k for k in _QUALITY_ONLY if flags.get(k) not in (None, False)]
    if given:
        names = ", ".join("--" + k.replace("_", "-") for k in given)
        raise ConfigError(f"{names}: not a speed setting",
                          hint="see the speed options in `rla bench --help`")
    if flags.get("concurrency") not in (None, 1):
        raise ConfigError("speed runs send one request at a time (batch 1)",
                          hint="drop --concurrency")
    config = build_config("speed", {k: v for k, v in flags.items() if k not in _QUALITY_ONLY},
                          preset=preset, argv=("rla", *sys.argv[1:]))
    plan = load_speed_plan(profile, prompt=prompt, n_predict=n_predict)
    out, err = ui.stdout_console(), ui.stderr_console()
    outcome = run_speed(config, plan, RichSpeedUI(out, err, json_output=json_output),
                        open_streamer=open_streamer, detect_rig=detect_rig)
    err.print(f"run directory: {outcome.run.path}", highlight=False, markup=False)
    return outcome


def refuse_speed_flags(slug: str, **speed_flags: Any) -> None:
    """Speed options given to a quality benchmark are a mistake worth saying."""
    given = [k for k, v in speed_flags.items() if v is not None]
    if given:
        names = ", ".join("--" + k.replace("_", "-") for k in given)
        raise ConfigError(f"{names} only applies to `rla bench speed`, not {slug}",
                          hint="drop it, or run `rla bench speed`")
