"""`rla submit RUN_DIR`: the trust gate, then (with consent) the run to the leaderboard."""

from __future__ import annotations

import typer

from runlocalai_bench.cli._common import LEADERBOARD_URL_ENV, GithubApiUrl
from runlocalai_bench.cli._publishing import submit_run


def submit(
    run: str = typer.Argument(..., help="Run directory, run id or id prefix."),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="Print the exact payload and the gate's verdict; send "
                                 "nothing."),
    server_check: bool = typer.Option(False, "--server-check",
                                      help="With --dry-run: also ask the API's dry-run endpoint, "
                                      "which validates and stores nothing."),
    api_url: str = typer.Option(None, "--api-url",
                                help=f"Leaderboard API base URL (env {LEADERBOARD_URL_ENV})."),
    yes: bool = typer.Option(False, "--yes", help="Consent without a prompt (no TTY needed)."),
    handle: str = typer.Option(None, "--handle", help="Your handle; anonymous without it."),
    notes: str = typer.Option(None, "--notes",
                              help="Plain-text notes (markup and scripts are stripped)."),
    github_api_url: GithubApiUrl = None,
) -> None:
    """Check a published run against the leaderboard's trust gate and submit it: the payload is
    built from the run's Gist, read back and checked against the local record."""
    submit_run(run, api_url=api_url, yes=yes, dry_run=dry_run, handle=handle, notes=notes,
               server_check=server_check, github_api_url_flag=github_api_url)
