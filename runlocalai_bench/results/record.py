"""record.json: the reproduction record, derived from the run and never assembled by hand.

The shape is `runlocalai_bench/schemas/record-v4.json` (`rla schema record-v4`), typed in
results/recordtypes.py; `RECORD_VERSION` bumps with every change of shape, and
`tests/results/test_record.py` builds a record from a real run and validates it against that
schema. Version 3 added `request` (`request_of`): the run as asked for, which `rla reproduce`
runs again; version 4 `shard` (`rla bench --shard`) and `shards` (a merged run, cli/merge.py),
`endpoints` (`--endpoint` repeated) and `batching` (runtime/greedy.batching).
Version 2 and 3 records are still read.

Written by the run with `test_run_log_url`, `gist`, `submitter` and `notes` empty; `rla publish`
fills the first two after the Gist is verified, `rla submit` the last two. The record holds the
sha256 of run.log, samples.jsonl and results.json, never its own.
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runlocalai_bench import __version__, jsonio, specs
from runlocalai_bench.config import RunConfig
from runlocalai_bench.errors import RecordError
from runlocalai_bench.evals import TaskSpec
from runlocalai_bench.redact import redact, redact_tree
from runlocalai_bench.results import rundir
from runlocalai_bench.results.recordtypes import (
    READABLE_VERSIONS,
    RECORD_VERSION,
    Record,
    Request,
    SpeedRequest,
)
from runlocalai_bench.runtime import greedy
from runlocalai_bench.runtime.gguf import FILE_TYPES
from runlocalai_bench.shards import PARTITION
from runlocalai_bench.types import (
    Dataset,
    ModelInfo,
    Results,
    RigInfo,
    RuntimeInfo,
    SampleResult,
    SubtaskScore,
    to_dict,
)

# Packages whose versions can move a score; recorded when installed.
_PACKAGES = ("runlocalai-bench", "llama-cpp-python", "httpx", "datasets", "numpy", "typer",
             "rich", "psutil", "nvidia-ml-py")

# GGUF quantization names as they appear in file and model names ("…-q4_k_m.gguf",
# "llama3.1:8b-instruct-q4_K_M"); longest first so Q4_K_M wins over Q4_K.
_QUANT_NAMES = sorted({*FILE_TYPES.values(), "Q4_K", "Q5_K", "Q3_K"}, key=len, reverse=True)
_QUANT_IN_NAME = re.compile(
    r"(?i)(?<![a-z0-9])(" + "|".join(re.escape(q) for q in _QUANT_NAMES) + r")(?![a-z0-9])")
_INSTRUCT_WORDS = {"instruct", "it", "chat", "sft", "dpo", "rlhf", "orpo"}
_BASE_WORDS = {"base", "pt", "pretrained"}


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


def target_args(config: RunConfig) -> list[str]:
    """The flags that name what a run measured: the endpoint (each, for replicas), its model
    and (another machine) its declared hardware, or the model file."""
    if config.endpoint:
        return [*(arg for url in config.endpoints for arg in ("--endpoint", url)),
                *(["--model", config.model] if config.model else []),
                *(["--hardware", config.hardware] if config.hardware else [])]
    return ["--model-path", str(config.model_path)] if config.model_path else []


def sets_context(config: RunConfig, engine: str | None) -> bool:
    """Whether rla chose the run's context (--n-ctx): in process, and for Ollama, which gets it
    as num_ctx on every request; other servers' context is their launch's."""
    return config.in_process or engine == "ollama"


def reproduction_command(config: RunConfig, style: str, engine: str | None = None) -> str:
    """The command that reruns this configuration, every result-deciding flag explicit."""
    args = ["rla", "bench", config.slug, *target_args(config)]
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
    if config.shard is not None:
        args += ["--shard", str(config.shard)]
    args += ["--concurrency", str(config.concurrency), "--seed", str(config.sampling.seed)]
    if config.sampling.cache_prompt:
        args.append("--cache-prompt")
    if sets_context(config, engine):
        args += ["--n-ctx", str(config.n_ctx)]
    return redact(shlex.join(args))


def request_of(config: RunConfig, style: str | None,
               speed: SpeedRequest | None = None, engine: str | None = None) -> Request:
    """The run as asked for (record.request), the typed twin of `reproduction_command`: what
    `rla reproduce` runs again. A speed run names its profile and has no dataset."""
    return Request(
        benchmark=config.slug, endpoint=config.endpoint, model=config.model,
        model_path=str(config.model_path) if config.model_path else None,
        data=None if speed else config.data, sampling=config.sampling,
        prompt_style=None if speed else style,  # type: ignore[arg-type]
        limit=config.limit, limit_per_subtask=config.limit_per_subtask,
        concurrency=1 if speed else config.concurrency,
        n_ctx=config.n_ctx if sets_context(config, engine) else None,
        n_threads=config.n_threads if config.in_process else None,
        speed=speed,
    )


# -- the model's identity on the leaderboard -------------------------------------------------


def _name_words(name: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9.]+", name.lower()) if w]


def model_slug(model: ModelInfo) -> str | None:
    """The model's name as a slug, without its quantization or file suffix:
    "Qwen2.5 Coder 1.5B Instruct" → "qwen2.5-coder-1.5b-instruct",
    "/m/gemma-3-270m-q4_k_m.gguf" → "gemma-3-270m", "llama3.1:8b-q4_K_M" → "llama3.1-8b"."""
    for source in (model.name, model.id, Path(model.path).name if model.path else None):
        if not source:
            continue
        text = re.sub(r"(?i)\.gguf$", "", source.strip())
        text = _QUANT_IN_NAME.sub(" ", text)
        words = [w.strip(".") for w in _name_words(text)]
        words = [w for w in words if w and w != "gguf"]
        if words:
            return "-".join(words)
    return None


def model_tuning(model: ModelInfo) -> str | None:
    """"instruct" or "base" when the model's name says so; None when it does not."""
    for source in (model.name, model.id, Path(model.path).name if model.path else None):
        words = set(re.split(r"[^a-z0-9]+", (source or "").lower()))
        if words & _INSTRUCT_WORDS:
            return "instruct"
        if words & _BASE_WORDS:
            return "base"
    return None


def model_block(model: ModelInfo) -> dict[str, Any]:
    """record.model. The quantization is the one the weights' metadata or the server reports,
    never one read from a file or model name (records before that could say "file-name")."""
    quant = model.quantization
    source = "runtime" if quant else None
    return {
        "slug": model_slug(model),
        "family": model.architecture,
        "parameters": model.parameters,
        "tuning": model_tuning(model),
        "quantization": quant,
        "quantization_source": source,
        "file_sha256": model.sha256,
        "name": model.name,
        "id": model.id,
        "path": model.path,
        "size_bytes": model.size_bytes,
        "context_length": model.context_length,
        "chat_template_sha256": model.chat_template_sha256,
    }


def runner_spec(engine: str) -> str | None:
    """runners/<name>.toml describing this engine, as a repository path."""
    for name, spec in specs.load_all("runners").items():
        if spec.get("engine") == engine:
            return f"runners/{name}.toml"
    return None


def rig_line(runtime_slug: str | None, hardware_slug: str | None) -> str:
    """How the leaderboard renders a rig: `llama.cpp-b6500 rtx-4090`."""
    return f"{runtime_slug or 'unknown'} {hardware_slug or 'unknown'}"


def _scores(rows: Sequence[SubtaskScore]) -> dict[str, dict[str, Any]]:
    return {r.name: {"score": r.score, "n": r.n, "correct": r.correct, "stderr": r.stderr,
                     "category": r.category} for r in rows}


def results_json(results: Results) -> dict[str, Any]:
    """record.results: the headline, each subtask's and category's row, the counts."""
    return {
        "metric": results.metric,
        "score": results.score,
        "stderr": results.stderr,
        "macro": results.macro,
        "n": results.n,
        "expected_n": results.expected_n,
        "partial": results.partial,
        "subtasks": _scores(results.subtasks),
        "categories": _scores(results.categories),
        "counts": dict(results.counts),
    }


# -- the record ------------------------------------------------------------------------------


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
    samples: Sequence[SampleResult],
    sent_params: Mapping[str, Any],
    started_at: str,
    finished_at: str,
    wall_s: float,
) -> dict[str, Any]:
    engine_ms = sum(_engine_ms(s.server_timings) for s in samples)
    runtime_block = {k: v for k, v in to_dict(runtime).items() if k != "model"}
    runtime_block["concurrency"] = config.concurrency
    record: dict[str, Any] = {
        "record_version": RECORD_VERSION,
        "run_id": run.id,
        "benchmark": {
            "slug": eval_spec.slug,
            "title": eval_spec.data.get("title"),
            "kind": eval_spec.kind,
            "metric": results.metric,
            "scoring_method": eval_spec.data.get("scoring", {}).get("method"),
            "spec_sha256": eval_spec.sha256,
            "prompt_style": style,
        },
        "runner": {
            "task_spec": f"tasks/{eval_spec.path.name}",
            "runtime_spec": runner_spec(runtime.engine),
        },
        "results": results_json(results),
        "model": model_block(runtime.model),
        "runtime": runtime_block,
        "hardware": to_dict(rig),
        "rig": rig_line(runtime.slug, rig.hardware_slug),
        "dataset": to_dict(dataset.pin),
        "sampling": {"sent": dict(sent_params), "settings": to_dict(config.sampling)},
        "rla": {"version": __version__, "git_commit": rla_git_commit()},
        "packages": package_versions(),
        "command": {
            "reproduce": reproduction_command(config, style, runtime.engine),
            "invoked": redact(shlex.join(config.argv)) if config.argv else None,
        },
        "request": to_dict(request_of(config, style, engine=runtime.engine)),
        "shard": None if config.shard is None else {
            "index": config.shard.index, "count": config.shard.count, "partition": PARTITION,
            "source": config.shard.source},
        "shards": None,
        "endpoints": [redact(url) for url in config.endpoints],
        "batching": greedy.batching(slots=runtime.slots, concurrency=config.concurrency,
                                    endpoints=len(config.endpoints)),
        "timings": {
            "started_at": started_at,
            "finished_at": finished_at,
            "wall_s": round(wall_s, 3),
            "engine_s": round(engine_ms / 1000.0, 3) if engine_ms else None,
        },
        "files": file_hashes(run),
        "test_run_log_url": None,
        "gist": None,
        "submitter": None,
        "notes": "",
    }
    return redact_tree(record)  # type: ignore[no-any-return]


def file_hashes(run: rundir.RunDir) -> dict[str, str]:
    """sha256 of the run's log, samples and results (record.json's own hash is never in it)."""
    return {
        name: rundir.sha256_file(run.path / name)
        for name in (rundir.RUN_LOG, rundir.SAMPLES, rundir.RESULTS)
        if (run.path / name).is_file()
    }


def load_record(path: Path) -> Record:
    """record.json of a finished run, scored or speed, typed: the one loader every reader uses.

    Read through the bounded JSON reader (jsonio); refused with a hint when it is missing, of
    another version, or when a field is missing, unknown or not of its type (the RecordError
    names its JSON path). Patterns and ranges are `rla verify`'s schema check.
    """
    if not path.is_file():
        raise RecordError(f"{path.parent} has no {rundir.RECORD}" if path.name == rundir.RECORD
                          else f"{path} does not exist",
                          hint="only a finished run has a record; finish it with --resume")
    data = jsonio.read(path)
    found = data.get("record_version") if isinstance(data, dict) else None
    if not isinstance(data, dict) or found not in READABLE_VERSIONS:
        raise RecordError(f"{path} is record version {found}, this rla reads versions"
                          f" {' and '.join(map(str, READABLE_VERSIONS))}",
                          hint="read it with the rla version that wrote it, or rerun the"
                          " benchmark with this one")
    return Record.from_json(data, str(path))


def _engine_ms(timings: Any) -> float:
    if not isinstance(timings, Mapping):
        return 0.0
    total = 0.0
    for key in ("prompt_ms", "predicted_ms"):
        value = timings.get(key)
        if isinstance(value, int | float):
            total += float(value)
    return total
