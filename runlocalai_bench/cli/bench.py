"""`rla bench SLUG`: run one scored benchmark against a server or an in-process GGUF.

`rla bench speed` is its own command (bench_speed.py); the app routes it there. The speed
options stay declared here so that a speed option given to a scored benchmark is refused by
name. A record's `rla bench …` command is read back by results/command.py."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from runlocalai_bench import ui
from runlocalai_bench.cli._common import (
    Concurrency,
    DataDir,
    Endpoints,
    GiveUpAfter,
    Hardware,
    JsonResults,
    Model,
    ModelPath,
    NCtx,
    NPredict,
    NThreads,
    OutputDir,
    Preset,
    Profile,
    Publish,
    Retries,
    RunId,
    Seed,
    SpeedPrompt,
    Submit,
    Timeout,
    Yes,
)
from runlocalai_bench.cli._publishing import after_run
from runlocalai_bench.cli.render import RichRunUI
from runlocalai_bench.config import build_config
from runlocalai_bench.errors import ConfigError


def bench(
    slug: str = typer.Argument(..., help="Benchmark slug, e.g. mmlu, humaneval-plus (see tasks/)"
                               "; `rla bench speed` measures tok/s."),
    endpoint: Endpoints = None,
    model: Model = None,
    hardware: Hardware = None,
    model_path: ModelPath = None,
    data_dir: DataDir = None,
    sample: bool = typer.Option(None, "--sample/--no-sample",
                                help="Use the small sample bundled with rla (a partial run)."),
    allow_unpinned: bool = typer.Option(
        None, "--allow-unpinned", help="Run even if the data's hash differs from the pin "
        "(the record is marked unpinned)."),
    output_dir: OutputDir = None,
    limit: int = typer.Option(None, "--limit", help="Run only N items (spread over subtasks)."),
    limit_per_subtask: int = typer.Option(None, "--limit-per-subtask",
                                          help="Run only the first N items of each subtask."),
    concurrency: Concurrency = None,
    shard: str = typer.Option(
        None, "--shard", help="Run part i of N (i/N, from 0), or `auto`: the part the launching"
        " engine's environment names (Slurm array, Kubernetes Indexed Job; docs/sharding.md)."),
    prompt_style: str = typer.Option(None, "--prompt-style",
                                     help="completion (base models) or chat (instruct models)."),
    seed: Seed = None,
    cache_prompt: bool = typer.Option(
        None, "--cache-prompt", help="Let llama-server reuse its prompt cache (faster, not "
        "bit-for-bit repeatable; recorded)."),
    n_ctx: NCtx = None,
    n_threads: NThreads = None,
    timeout: Timeout = None,
    retries: Retries = None,
    give_up_after: GiveUpAfter = None,
    resume: bool = typer.Option(None, "--resume", help="Continue the latest unfinished run of "
                                "this benchmark (or --run-id)."),
    run_id: RunId = None,
    preset: Preset = None,
    json_output: JsonResults = False,
    profile: Profile = None,
    n_predict: NPredict = None,
    speed_prompt: SpeedPrompt = None,
    publish: Publish = False,
    submit: Submit = False,
    yes: Yes = False,
) -> None:
    """Run a benchmark greedily and write a run directory with log, samples, results, record."""
    from runlocalai_bench.backends.factory import open_backend
    from runlocalai_bench.pipeline import run_benchmark
    from runlocalai_bench.report import REPORT_HTML
    from runlocalai_bench.rig import detect_rig
    from runlocalai_bench.rig.declared import rig_source

    if slug == "speed":  # `rla bench --endpoint URL speed`: the app routes only `bench speed …`
        raise ConfigError("`rla bench speed` takes its options after `speed`",
                          hint="rla bench speed --endpoint URL …")
    speed_only = {"profile": profile, "n_predict": n_predict, "prompt": speed_prompt}
    given = [k for k, v in speed_only.items() if v is not None]
    if given:
        names = ", ".join("--" + k.replace("_", "-") for k in given)
        raise ConfigError(f"{names} only applies to `rla bench speed`, not {slug}",
                          hint="drop it, or run `rla bench speed`")
    flags = {
        "endpoint": endpoint, "model": model, "model_path": model_path, "data_dir": data_dir,
        "hardware": hardware,
        "sample": sample, "allow_unpinned": allow_unpinned, "output_dir": output_dir,
        "limit": limit, "limit_per_subtask": limit_per_subtask, "concurrency": concurrency,
        "shard": shard, "prompt_style": prompt_style, "seed": seed, "cache_prompt": cache_prompt,
        "n_ctx": n_ctx, "n_threads": n_threads, "timeout": timeout, "retries": retries,
        "give_up_after": give_up_after, "resume": resume, "run_id": run_id,
    }
    out, err = ui.stdout_console(), ui.stderr_console()
    config = build_config(slug, flags, preset=preset, argv=("rla", *sys.argv[1:]))
    rig = rig_source(config.endpoint, config.hardware, detect_rig, config.replicas)
    outcome = run_benchmark(config, RichRunUI(out, err, json_output=json_output),
                            open_backend=open_backend, detect_rig=rig)
    run_path: Path = outcome.run.path
    for line in (f"run directory: {run_path}", f"report: {run_path / REPORT_HTML}"):
        (err if json_output else out).print(line, highlight=False, markup=False)
    after_run(run_path, publish=publish, submit=submit, yes=yes,
              json_output=json_output)
