"""`rla publish RUN_DIR`: the run's log, record, results and samples (a speed run: each run's
log) as a verified public Gist."""

from __future__ import annotations

import typer

from runlocalai_bench.cli._common import GithubApiUrl
from runlocalai_bench.cli._publishing import publish_run


def publish(
    run: str = typer.Argument(..., help="Run directory, run id or id prefix."),
    github_api_url: GithubApiUrl = None,
) -> None:
    """Publish a finished run as a public Gist (run.log verbatim, record, results, samples or a
    speed run's per-run logs, README), verify every file by sha256, and write the Gist URL into
    record.json."""
    publish_run(run, github_api_url)
