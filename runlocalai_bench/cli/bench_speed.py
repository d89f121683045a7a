"""`rla bench speed`: tok/s by the leaderboard's capture protocol (tasks/speed.toml)."""

from __future__ import annotations

import sys

import typer

from runlocalai_bench import ui
from runlocalai_bench.cli import _common as opt
from runlocalai_bench.cli._publishing import after_run
from runlocalai_bench.config import build_config
from runlocalai_bench.errors import ConfigError

# `rla bench` options that mean nothing to a speed run arrive here unparsed and are refused by
# name rather than silently ignored.
SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True}


def bench_speed(
    ctx: typer.Context,
    endpoint: opt.Endpoint = None,
    model: opt.Model = None,
    hardware: opt.Hardware = None,
    model_path: opt.ModelPath = None,
    output_dir: opt.OutputDir = None,
    concurrency: opt.Concurrency = None,
    seed: opt.Seed = None,
    n_ctx: opt.NCtx = None,
    n_threads: opt.NThreads = None,
    timeout: opt.Timeout = None,
    retries: opt.Retries = None,
    run_id: opt.RunId = None,
    preset: opt.Preset = None,
    json_output: opt.JsonResults = False,
    profile: opt.Profile = None,
    n_predict: opt.NPredict = None,
    speed_prompt: opt.SpeedPrompt = None,
    publish: opt.Publish = False,
    submit: opt.Submit = False,
    yes: opt.Yes = False,
) -> None:
    """Measure decode and prefill tok/s and TTFT: one warm-up run discarded, then the measured
    runs, each with its own log; writes a run directory like `rla bench SLUG`."""
    from runlocalai_bench.backends.factory import open_streamer
    from runlocalai_bench.report import REPORT_HTML
    from runlocalai_bench.rig import detect_rig
    from runlocalai_bench.rig.declared import rig_source
    from runlocalai_bench.speed.render import RichSpeedUI
    from runlocalai_bench.speed.runner import run_speed
    from runlocalai_bench.speed.spec import load_speed_plan

    unknown = [arg for arg in ctx.args if arg.startswith("-")]
    if unknown or ctx.args:
        names = ", ".join(unknown) if unknown else " ".join(ctx.args)
        raise ConfigError(f"{names}: not a speed setting",
                          hint="see the speed options in `rla bench speed --help`")
    if concurrency not in (None, 1):
        raise ConfigError("speed runs send one request at a time (batch 1)",
                          hint="drop --concurrency")
    flags = {
        "endpoint": opt.one_endpoint(endpoint, "rla bench speed", "tok/s is one server's: run"
                                     " `rla bench speed --endpoint URL` once for each"),
        "model": model, "model_path": model_path, "hardware": hardware,
        "output_dir": output_dir, "concurrency": concurrency, "seed": seed, "n_ctx": n_ctx,
        "n_threads": n_threads, "timeout": timeout, "retries": retries, "run_id": run_id,
    }
    config = build_config("speed", flags, preset=preset, argv=("rla", *sys.argv[1:]))
    rig = rig_source(config.endpoint, config.hardware, detect_rig)
    plan = load_speed_plan(profile, prompt=speed_prompt, n_predict=n_predict)
    out, err = ui.stdout_console(), ui.stderr_console()
    outcome = run_speed(config, plan, RichSpeedUI(out, err, json_output=json_output),
                        open_streamer=open_streamer, detect_rig=rig)
    for line in (f"run directory: {outcome.run.path}",
                 f"report: {outcome.run.path / REPORT_HTML}"):
        err.print(line, highlight=False, markup=False)
    after_run(outcome.run.path, publish=publish, submit=submit, yes=yes,
              json_output=json_output)
