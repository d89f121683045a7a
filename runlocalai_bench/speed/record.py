"""record.json of a speed run: the quality record's provenance fields, and a `speed` section.

Top level as in results/record.py (record v4: record_version, run_id, benchmark, runner, model,
runtime, hardware, rig, sampling, rla, packages, command, request, timings, files,
test_run_log_url, gist, submitter, notes; schema speed-record-v3), with
`benchmark.kind = "speed"` and no `dataset` or `results`: the tok/s row lives under `speed`:

    schema, profile, prompt, n_predict, ignore_eos, protocol, consistency,
    runs[]        every measured run of every attempt: attempt, counted, log, log_sha256,
                  raw (engine timing object as sent, arrival times), metrics (derived)
    warmup[]      the discarded warm-up runs, same shape
    attempts, summary (median/min/max of the counted runs, spread), reproduced, confidence,
    logs, logs_sha256, logs_sha256_prefix   (the counted runs' logs, concatenated in order)
    plausibility  bandwidth, model bytes, bytes per token, ceiling, checks
    environment   driver, runtime, OS (the protocol makes them mandatory)
    refusals      speed_gate(record) when the run finished; [] means submittable
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runlocalai_bench import __version__
from runlocalai_bench.backends.base import Experts
from runlocalai_bench.config import RunConfig
from runlocalai_bench.redact import redact, redact_tree
from runlocalai_bench.results import record as quality_record
from runlocalai_bench.results import rundir
from runlocalai_bench.results.recordtypes import SpeedRequest
from runlocalai_bench.speed.measure import Measurement, RawRun
from runlocalai_bench.speed.plausibility import (
    SPEED_SCHEMA,
    Ceiling,
    Check,
    raw_run_dict,
    speed_gate,
)
from runlocalai_bench.speed.protocol import Summary, Verdict
from runlocalai_bench.speed.spec import SLUG, SpeedPlan
from runlocalai_bench.types import RigInfo, RuntimeInfo, to_dict


@dataclass(frozen=True)
class RunEntry:
    """One executed run as the record keeps it."""

    label: str  # warmup-1 | run-1 ...
    attempt: int  # 0 for warm-ups
    counted: bool
    log: str  # path relative to the run directory
    log_sha256: str
    raw: RawRun
    measurement: Measurement


def entry_dict(entry: RunEntry) -> dict[str, Any]:
    return {
        "label": entry.label,
        "attempt": entry.attempt,
        "counted": entry.counted,
        "log": entry.log,
        "log_sha256": entry.log_sha256,
        "raw": raw_run_dict(entry.raw),
        "metrics": to_dict(entry.measurement),
    }


def reproduction_command(config: RunConfig, plan: SpeedPlan) -> str:
    args = ["rla", "bench", "speed", *quality_record.target_args(config)]
    args += ["--profile", plan.profile, "--n-predict", str(plan.n_predict),
             "--seed", str(config.sampling.seed)]
    if plan.prompt_overridden:
        args += ["--prompt", plan.prompt]
    if config.in_process:
        args += ["--n-ctx", str(config.n_ctx)]
        if config.n_threads is not None:
            args += ["--n-threads", str(config.n_threads)]
    return redact(shlex.join(args))


def environment(runtime: RuntimeInfo, rig: RigInfo) -> dict[str, Any]:
    drivers = sorted({g.driver for g in rig.gpus if g.driver})
    return {
        "runtime": runtime.slug if runtime.version else None,
        "runtime_build": runtime.build,
        "driver": ", ".join(drivers) or None,
        "cuda": next((g.cuda for g in rig.gpus if g.cuda), None),
        "os": " ".join(p for p in (rig.os.system, rig.os.release) if p) or None,
        "distro": rig.os.distro,
        "backend": rig.accelerator,
    }


def build_speed_record(
    *,
    run: rundir.RunDir,
    config: RunConfig,
    plan: SpeedPlan,
    runtime: RuntimeInfo,
    rig: RigInfo,
    experts: Experts,
    prompt: Mapping[str, Any],
    sent: Mapping[str, Any],
    entries: Sequence[RunEntry],
    summary: Summary,
    verdict: Verdict,
    attempts: int,
    cap: Ceiling,
    checks: Sequence[Check],
    logs_sha256: str,
    started_at: str,
    finished_at: str,
    wall_s: float,
) -> dict[str, Any]:
    counted = [e for e in entries if e.counted]
    runtime_block = {k: v for k, v in to_dict(runtime).items() if k != "model"}
    runtime_block["concurrency"] = 1
    record: dict[str, Any] = {
        "record_version": quality_record.RECORD_VERSION,
        "run_id": run.id,
        "benchmark": {
            "slug": SLUG,
            "title": plan.title,
            "kind": "speed",
            "metric": "decode_tps",
            "scoring_method": f"capture-protocol/{plan.profile}",
            "spec_sha256": plan.spec_sha256,
            "prompt_style": "completion",
        },
        "runner": {
            "task_spec": f"tasks/{plan.spec_path.name}",
            "runtime_spec": quality_record.runner_spec(runtime.engine),
        },
        "model": quality_record.model_block(runtime.model),
        "runtime": runtime_block,
        "hardware": to_dict(rig),
        "rig": quality_record.rig_line(runtime.slug, rig.hardware_slug),
        "sampling": {"sent": _without_prompt(sent), "settings": to_dict(config.sampling)},
        "rla": {"version": __version__, "git_commit": quality_record.rla_git_commit()},
        "packages": quality_record.package_versions(),
        "command": {
            "reproduce": reproduction_command(config, plan),
            "invoked": redact(shlex.join(config.argv)) if config.argv else None,
        },
        "request": to_dict(quality_record.request_of(config, None, SpeedRequest(
            profile=plan.profile, n_predict=plan.n_predict,
            prompt=plan.prompt if plan.prompt_overridden else None))),
        "timings": {"started_at": started_at, "finished_at": finished_at,
                    "wall_s": round(wall_s, 3)},
        # run.log joins once it is closed (the runner adds it).
        "files": {e.log: e.log_sha256 for e in entries},
        "test_run_log_url": None,
        "gist": None,
        "submitter": None,
        "notes": "",
        "speed": {
            "schema": SPEED_SCHEMA,
            "profile": plan.profile,
            "prompt": dict(prompt),
            "n_predict": plan.n_predict,
            "ignore_eos": plan.ignore_eos,
            "split": plan.split,
            "protocol": {
                "warmup_runs": plan.warmup_runs,
                "measured_runs": plan.measured_runs,
                "spread_threshold": plan.spread_threshold,
                "max_reruns": plan.max_reruns,
                "ceiling_factor": plan.ceiling_factor,
            },
            "consistency": to_dict(plan.consistency),
            "runs": [entry_dict(e) for e in entries if e.attempt > 0],
            "warmup": [entry_dict(e) for e in entries if e.attempt == 0],
            "attempts": attempts,
            "summary": to_dict(summary),
            "reproduced": verdict.reproduced,
            "confidence": verdict.confidence,
            "verdict": verdict.reason,
            "logs": [e.log for e in counted],
            "logs_sha256": logs_sha256,
            "logs_sha256_prefix": logs_sha256[:12],
            "plausibility": {
                **to_dict(cap),
                "experts": {"count": experts.count, "used": experts.used},
                "checks": [to_dict(c) for c in checks],
            },
            "environment": environment(runtime, rig),
            "refusals": [],
        },
    }
    record = redact_tree(record)
    record["speed"]["refusals"] = speed_gate(record)
    return record


def _without_prompt(sent: Mapping[str, Any]) -> dict[str, Any]:
    """The sampling fields sent; the prompt itself is in speed.prompt."""
    return {k: v for k, v in sent.items() if k != "prompt"}
