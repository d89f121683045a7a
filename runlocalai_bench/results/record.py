"""record.json: the reproduction record, derived from the run and never assembled by hand.

`RECORD_VERSION` bumps with every new field; `tests/results/test_record.py` round-trips it.
"""

from __future__ import annotations

import importlib.metadata
import platform
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runlocalai_bench import __version__
from runlocalai_bench.config import RunConfig
from runlocalai_bench.evals import TaskSpec
from runlocalai_bench.redact import redact
from runlocalai_bench.results import rundir
from runlocalai_bench.types import Dataset, Results, RigInfo, RuntimeInfo, to_dict

RECORD_VERSION = 1

# Packages whose versions can move a score; recorded when installed.
_PACKAGES = ("runlocalai-bench", "llama-cpp-python", "httpx", "datasets", "numpy", "typer",
             "rich", "psutil", "nvidia-ml-py")


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def rla_git_commit() -> str | None:
    """The commit of the rla checkout this code runs from, when it runs from one."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit + ("-dirty" if dirty.stdout.strip() else "") if commit else None


def reproduction_command(config: RunConfig, style: str) -> str:
    """The command that reruns this configuration, every result-deciding flag explicit."""
    args = ["rla", "bench", config.slug]
    if config.endpoint:
        args += ["--endpoint", config.endpoint]
        if config.model:
            args += ["--model", config.model]
    elif config.model_path:
        args += ["--model-path", str(config.model_path)]
    if config.data.kind == "dir" and config.data.path:
        args += ["--data-dir", config.data.path]
    elif config.data.kind == "bundled":
        args.append("--sample")
    if config.data.allow_unpinned:
        args.append("--allow-unpinned")
    args += ["--prompt-style", style]
    if config.limit is not None:
        args += ["--limit", str(config.limit)]
    if config.limit_per_subtask is not None:
        args += ["--limit-per-subtask", str(config.limit_per_subtask)]
    args += ["--concurrency", str(config.concurrency), "--seed", str(config.sampling.seed)]
    if config.sampling.cache_prompt:
        args.append("--cache-prompt")
    if config.in_process:
        args += ["--n-ctx", str(config.n_ctx)]
    return redact(shlex.join(args))


def build_record(
    *,
    run: rundir.RunDir,
    config: RunConfig,
    eval_spec: TaskSpec,
    style: str,
    runtime: RuntimeInfo,
    rig: RigInfo,
    dataset: Dataset,
    results: Results,
    samples: Sequence[Mapping[str, Any]],
    sent_params: Mapping[str, Any],
    started_at: str,
    finished_at: str,
    wall_s: float,
) -> dict[str, Any]:
    engine_ms = sum(_engine_ms(s.get("server_timings")) for s in samples)
    spec_rel = f"tasks/{eval_spec.path.name}"
    record: dict[str, Any] = {
        "record_version": RECORD_VERSION,
        "run_id": run.id,
        "benchmark": {
            "slug": eval_spec.slug,
            "kind": eval_spec.kind,
            "spec_sha256": eval_spec.sha256,
            "runner": spec_rel,
            "prompt_style": style,
        },
        "results": {
            "metric": results.metric,
            "score": results.score,
            "stderr": results.stderr,
            "n": results.n,
            "expected_n": results.expected_n,
            "partial": results.partial,
            "subtasks": {s.name: {"score": s.score, "n": s.n} for s in results.subtasks},
            "counts": dict(results.counts),
        },
        "model": to_dict(runtime.model),
        "runtime": to_dict(runtime),
        "hardware": to_dict(rig),
        "dataset": to_dict(dataset.pin),
        "sampling": {"sent": dict(sent_params), "settings": to_dict(config.sampling)},
        "rla": {"version": __version__, "git_commit": rla_git_commit()},
        "packages": package_versions(),
        "command": {
            "reproduce": reproduction_command(config, style),
            "invoked": redact(shlex.join(config.argv)) if config.argv else None,
        },
        "concurrency": config.concurrency,
        "timings": {
            "started_at": started_at,
            "finished_at": finished_at,
            "wall_s": round(wall_s, 3),
            "engine_s": round(engine_ms / 1000.0, 3) if engine_ms else None,
        },
        "files": {
            name: rundir.sha256_file(run.path / name)
            for name in (rundir.RUN_LOG, rundir.SAMPLES, rundir.RESULTS)
            if (run.path / name).is_file()
        },
        "test_run_log_url": None,
        "submitter": None,
        "notes": "",
    }
    return _redacted(record)


def _engine_ms(timings: Any) -> float:
    if not isinstance(timings, Mapping):
        return 0.0
    total = 0.0
    for key in ("prompt_ms", "predicted_ms"):
        value = timings.get(key)
        if isinstance(value, int | float):
            total += float(value)
    return total


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    return value
