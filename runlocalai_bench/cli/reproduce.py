"""`rla reproduce RECORD`: re-run a record's configuration here and judge it by the policy."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from runlocalai_bench import paths, ui
from runlocalai_bench.cli.render import RichRunUI, print_json
from runlocalai_bench.cli.verify import open_submission


def reproduce(
    record: str = typer.Argument(..., help="record.json, a run directory, a run id, or the "
                                 "URL of the run's Gist."),
    endpoint: str = typer.Option(None, "--endpoint", help="OpenAI-compatible server URL."),
    model: str = typer.Option(None, "--model", help="Model name as the server lists it."),
    model_path: Path = typer.Option(None, "--model-path", help="GGUF file to run in process."),
    data_dir: Path = typer.Option(None, "--data-dir",
                                  help="Local copy of the dataset in its original layout."),
    output_dir: Path = typer.Option(None, "--output-dir", help="Where the re-run goes."),
    timeout: float = typer.Option(None, "--timeout", help="Seconds per request."),
    tolerance: float = typer.Option(2.0, "--tolerance", help="Percentage points the headline "
                                    "and each subtask may move."),
    report_dir: Path = typer.Option(None, "--report-dir", help="Where reproduction.json and "
                                    "reproduction.md go (default: the re-run's directory)."),
    github_api_url: str = typer.Option(None, "--github-api-url",
                                       help="GitHub API base URL (env RLA_GITHUB_API_URL)."),
    json_output: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Verify a record, re-run its exact configuration (benchmark, data pin, prompt style,
    limits, sampling) on this machine's model and server, and compare the four dimensions,
    every subtask (±2 pp) and every sample. Verdict: reproduced, not reproduced, related
    benchmark, or invalid. Exits 0 only when reproduced."""
    from runlocalai_bench.backends.factory import open_backend
    from runlocalai_bench.editor import reproduce as rep
    from runlocalai_bench.rig import detect_rig

    out, err = ui.stdout_console(), ui.stderr_console()
    # With --json, stdout carries only the report: the re-run's header and table go to stderr.
    run_ui = RichRunUI(err if json_output else out, err)
    target = rep.Target(endpoint=endpoint, model=model, model_path=model_path, data_dir=data_dir,
                    output_dir=output_dir, timeout=timeout)
    with open_submission(record, github_api_url) as source:
        result = rep.reproduce(source, target, run_ui, open_backend=open_backend,
                                  detect_rig=detect_rig, tolerance_pp=tolerance,
                                  env=os.environ, argv=("rla", *sys.argv[1:]))
    fallback = (output_dir or Path(os.environ.get("RLA_OUTPUT_DIR") or paths.data_home()
                                   / "runs")).expanduser()
    where = report_dir or rep.report_dir(result, fallback)
    json_path, md_path = rep.write_report(result, where)
    if json_output:
        print_json(out, result.to_json())
    else:
        out.print(result)
    err.print(f"report: {json_path} and {md_path.name}", markup=False, highlight=False)
    if result.verdict != "reproduced":
        raise typer.Exit(1)
