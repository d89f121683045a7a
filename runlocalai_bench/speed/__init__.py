"""`rla bench speed`: decode and prefill tok/s and TTFT by the leaderboard's capture protocol.

    spec.py           tasks/speed.toml → SpeedPlan (profile, prompt, runs, thresholds)
    measure.py        one run's figures from engine timings and from token arrival (pure);
                      the generation is streamed and timed by each engine client's `stream`
                      (runlocalai_bench/backends/)
    protocol.py       spread, the re-run rule, summary, reproduced/confidence (pure)
    plausibility.py   the memory-bandwidth ceiling, consistency checks, speed_gate (pure)
    runner.py         warm-up, measured sets, re-runs, run logs, record, run index
    record.py         record.json of a speed run (a `speed` section)
    render.py         per-run lines and the rich table

`speed_gate(record) -> list[str]` is what a submission gate calls: the reasons a speed record
must be refused (above the bandwidth ceiling, inconsistent timings, missing logs or
environment), [] when it may go.
"""

from __future__ import annotations

from runlocalai_bench.speed.plausibility import speed_gate

__all__ = ["speed_gate"]
