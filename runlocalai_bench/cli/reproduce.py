"""`rla reproduce RECORD`: re-run a record's configuration here and judge it by the policy."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from runlocalai_bench import ui
from runlocalai_bench.cli._common import (
    DataDir,
    Endpoint,
    GithubApiUrl,
    Model,
    ModelPath,
    Timeout,
    cache_home,
    data_home,
    one_endpoint,
    open_submission,
)
from runlocalai_bench.cli._common import output_dir as default_output_dir
from runlocalai_bench.cli.render import RichRunUI, print_json
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.results.record import load_record

if TYPE_CHECKING:
    from rich.console import Console

    from runlocalai_bench.results.recordtypes import Record
    from runlocalai_bench.review.dimensions import Setup
    from runlocalai_bench.review.reproduce import Kind

PASSED = ("reproduced", "verified on the editor's rig")


def reproduce(
    record: str = typer.Argument(None, help="record.json, a run directory, a run id, or the "
                                 "URL of the run's Gist."),
    endpoint: Endpoint = None,
    model: Model = None,
    model_path: ModelPath = None,
    data_dir: DataDir = None,
    output_dir: Path = typer.Option(None, "--output-dir", help="Where the re-run goes."),
    timeout: Timeout = None,
    tolerance: float = typer.Option(None, "--tolerance", help="Percentage points the headline "
                                    "may move (default 2; subtasks are diagnostics; scored runs "
                                    "only: a speed row's decode tok/s must land within ±10%)."),
    report_dir: Path = typer.Option(None, "--report-dir", help="Where reproduction.json and "
                                    "reproduction.md go (default: the re-run's directory)."),
    queue: Path = typer.Option(None, "--queue", help="A file of records (one record, run dir "
                               "or Gist URL a line) to reproduce one after another; resumable."),
    github_api_url: GithubApiUrl = None,
    json_output: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Verify a record, re-run its exact configuration (benchmark, data pin, prompt style,
    limits, sampling) on this machine's model and server, and compare the four dimensions,
    the headline score (±2 pp), every subtask as a diagnostic (McNemar exact on its flips) and
    every sample. A speed row is re-run with its profile, n_predict and prompt; its median
    decode tok/s must land within ±10% of the original's on the same hardware. Verdict:
    reproduced, verified on the editor's rig (a quality row; only the hardware differs), not
    reproduced, related benchmark, or invalid. Exits 0 only when reproduced or verified (with
    --queue: every record)."""
    from runlocalai_bench.report import write_reproduction_report
    from runlocalai_bench.review import queue as q
    from runlocalai_bench.review import reproduce as rep
    from runlocalai_bench.review.report import write_report
    from runlocalai_bench.signing import keys_dir

    if (record is None) == (queue is None):
        raise ConfigError("give one record, or --queue FILE", hint="rla reproduce RECORD "
                          "--endpoint URL, or rla reproduce --queue FILE --endpoint URL")
    out, err = ui.stdout_console(), ui.stderr_console()
    # With --json, stdout carries only the report: the re-run's header and table go to stderr.
    shown = err if json_output or queue is not None else out
    endpoint_url = one_endpoint(endpoint, "rla reproduce", "a re-run goes to one server:"
                                " give the --endpoint to re-run on")
    target = rep.Target(endpoint=endpoint_url, model=model, model_path=model_path,
                        data_dir=data_dir, output_dir=output_dir, timeout=timeout,
                        cache_dir=cache_home(), env=os.environ, argv=("rla", *sys.argv[1:]))

    def one(ref: str, served: Setup | None) -> tuple[q.Outcome, Path | None]:
        with open_submission(ref, github_api_url) as source:
            typed = load_record(source.record_path)
            off = [] if served is None else q.off_dimensions(typed, served)
            if off:
                why = "not the served model: " + "; ".join(off)
                return q.Outcome(ref, q.SKIPPED, why=why), None
            result = rep.reproduce(_part(typed, shown, err, tolerance, data_dir), source, target,
                                   keys_dir=keys_dir(data_home()))
            where = report_dir or rep.report_dir(result, default_output_dir(output_dir))
            json_path, md_path = write_report(result, where)
            names = [md_path.name]
            rerun = None if result.reproduction is None else Path(result.reproduction["path"])
            if rerun is not None:  # the original and the re-run compared, as a page
                names.append(write_reproduction_report(source, rerun, where).name)
        if queue is None:
            if json_output:
                print_json(out, result.to_json())
            else:
                out.print(result)
        err.print(f"report: {json_path} and {', '.join(names)}", markup=False,
                  highlight=False)
        return q.outcome_of(ref, result, json_path), rerun

    if queue is None:
        outcomes = [one(record, None)[0]]
    else:
        outcomes = q.run_queue(queue.expanduser(), one)
        if json_output:
            print_json(out, [asdict(o) for o in outcomes])
        else:
            out.print(q.summary(outcomes))
    if any(o.verdict not in PASSED for o in outcomes):
        raise typer.Exit(1)


def _part(typed: Record, shown: Console, err: Console, tolerance: float | None,
          data_dir: Path | None) -> Kind:
    """The kind's part of the flow: a speed row's or a scored run's."""
    from runlocalai_bench.rig import detect_rig

    if typed.is_speed:
        from runlocalai_bench.backends.factory import open_streamer
        from runlocalai_bench.review.speed import SpeedPart
        from runlocalai_bench.speed.render import RichSpeedUI

        for flag, value in (("--tolerance", tolerance), ("--data-dir", data_dir)):
            if value is not None:
                raise ConfigError(f"{flag} does not apply to a speed row",
                                  hint="drop it: a speed row reproduces within ±10% of its "
                                  "decode tok/s (REFERENCE §1)")
        return SpeedPart(RichSpeedUI(shown, err), open_streamer=open_streamer,
                         detect_rig=detect_rig)
    from runlocalai_bench.backends.factory import open_backend
    from runlocalai_bench.review.compare import DEFAULT_TOLERANCE_PP
    from runlocalai_bench.review.scored import ScoredPart

    return ScoredPart(RichRunUI(shown, err), open_backend=open_backend, detect_rig=detect_rig,
                      tolerance_pp=DEFAULT_TOLERANCE_PP if tolerance is None else tolerance)
