"""`rla bench SLUG`: run one benchmark against a server or an in-process GGUF."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from runlocalai_bench import ui
from runlocalai_bench.cli.render import RichRunUI
from runlocalai_bench.config import build_config


def bench(
    slug: str = typer.Argument(..., help="Benchmark slug, e.g. mmlu, humaneval-plus (see tasks/)."),
    endpoint: str = typer.Option(None, "--endpoint", help="OpenAI-compatible server URL."),
    model: str = typer.Option(None, "--model", help="Model name as the server lists it."),
    model_path: Path = typer.Option(None, "--model-path", help="GGUF file to run in process."),
    data_dir: Path = typer.Option(None, "--data-dir",
                                  help="Local copy of the dataset in its original layout."),
    sample: bool = typer.Option(None, "--sample/--no-sample",
                                help="Use the small sample bundled with rla (a partial run)."),
    allow_unpinned: bool = typer.Option(
        None, "--allow-unpinned", help="Run even if the data's hash differs from the pin "
        "(the record is marked unpinned)."),
    output_dir: Path = typer.Option(None, "--output-dir", help="Where run directories go."),
    limit: int = typer.Option(None, "--limit", help="Run only N items (spread over subtasks)."),
    limit_per_subtask: int = typer.Option(None, "--limit-per-subtask",
                                          help="Run only the first N items of each subtask."),
    concurrency: int = typer.Option(None, "--concurrency", help="Requests in flight (servers)."),
    prompt_style: str = typer.Option(None, "--prompt-style",
                                     help="completion (base models) or chat (instruct models)."),
    seed: int = typer.Option(None, "--seed", help="Seed sent with every request."),
    cache_prompt: bool = typer.Option(
        None, "--cache-prompt", help="Let llama-server reuse its prompt cache (faster, not "
        "bit-for-bit repeatable; recorded)."),
    n_ctx: int = typer.Option(None, "--n-ctx", help="Context size for in-process runs."),
    n_threads: int = typer.Option(None, "--n-threads", help="Threads for in-process runs."),
    timeout: float = typer.Option(None, "--timeout", help="Seconds per request."),
    retries: int = typer.Option(None, "--retries", help="Retries on connection errors, 5xx, 429."),
    resume: bool = typer.Option(None, "--resume", help="Continue the latest unfinished run of "
                                "this benchmark (or --run-id)."),
    run_id: str = typer.Option(None, "--run-id", help="Name the run, or pick the run to resume."),
    preset: str = typer.Option(None, "--config", help="A preset from configs/ or a TOML file."),
    json_output: bool = typer.Option(False, "--json", help="Print results as JSON on stdout."),
    profile: str = typer.Option(None, "--profile", help="speed only: standard or pp512-tg128 "
                                "(tasks/speed.toml)."),
    n_predict: int = typer.Option(None, "--n-predict", help="speed only: tokens to generate."),
    speed_prompt: str = typer.Option(None, "--prompt", help="speed only: replace the standard "
                                     "prompt (the record says so)."),
    publish: bool = typer.Option(False, "--publish",
                                 help="Then publish the run as a Gist (see `rla publish`)."),
    submit: bool = typer.Option(False, "--submit", help="Then publish it and submit it to the "
                                "leaderboard (see `rla submit`; asks for consent)."),
) -> None:
    """Run a benchmark greedily and write a run directory with log, samples, results, record."""
    from runlocalai_bench.backends.factory import open_backend
    from runlocalai_bench.pipeline import run_benchmark
    from runlocalai_bench.rig import detect_rig

    flags = {
        "endpoint": endpoint, "model": model, "model_path": model_path, "data_dir": data_dir,
        "sample": sample, "allow_unpinned": allow_unpinned, "output_dir": output_dir,
        "limit": limit, "limit_per_subtask": limit_per_subtask, "concurrency": concurrency,
        "prompt_style": prompt_style, "seed": seed, "cache_prompt": cache_prompt,
        "n_ctx": n_ctx, "n_threads": n_threads, "timeout": timeout, "retries": retries,
        "resume": resume, "run_id": run_id,
    }
    from runlocalai_bench.speed.command import bench_speed, refuse_speed_flags

    out, err = ui.stdout_console(), ui.stderr_console()
    target = err if json_output else out
    if slug == "speed":
        run_path = bench_speed(flags, profile=profile, n_predict=n_predict,
                               prompt=speed_prompt, preset=preset,
                               json_output=json_output).run.path
    else:
        refuse_speed_flags(slug, profile=profile, n_predict=n_predict, prompt=speed_prompt)
        config = build_config(slug, flags, preset=preset, argv=("rla", *sys.argv[1:]))
        outcome = run_benchmark(config, RichRunUI(out, err, json_output=json_output),
                                open_backend=open_backend, detect_rig=detect_rig)
        run_path = outcome.run.path
        target.print(f"run directory: {run_path}", highlight=False, markup=False)
    from runlocalai_bench.editor.keys import sign_run_if_keyed

    signature = sign_run_if_keyed(run_path)
    if signature is not None:
        target.print(f"record signed by key {signature.key_id}", highlight=False, markup=False)
    if publish or submit:
        from runlocalai_bench.cli.publish import publish_command
        from runlocalai_bench.cli.submit import submit_command

        publish_command(str(run_path), None, data_out=not json_output)
        if submit:
            submit_command(str(run_path), api_url=None, yes=False, dry_run=False,
                           handle=None, notes=None, data_out=not json_output)
