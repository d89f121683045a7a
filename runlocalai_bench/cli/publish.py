"""`rla publish RUN_DIR`: the run's log, record, results and samples (a speed run: each run's
log) as a verified public Gist."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from runlocalai_bench import paths, ui
from runlocalai_bench.publish.auth import github_token
from runlocalai_bench.publish.gist import DEFAULT_API_URL, GistClient
from runlocalai_bench.publish.trust import check_gate, publishable_specs
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.store import RunIndex


def run_index() -> RunIndex:
    return RunIndex(paths.data_home() / "runs.sqlite")


def resolve_run(ref: str) -> Path:
    """A run directory given as a path, a run id or a unique id prefix."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return path
    return Path(run_index().get(ref).path)


def publish_command(ref: str, github_api_url: str | None, *, data_out: bool = True) -> str:
    """Publish and report; the URL is the command's data (stdout) unless `data_out` is False
    (`rla bench --json --publish` keeps stdout for the results)."""
    from runlocalai_bench.publish.flow import publish_run

    run_path = resolve_run(ref)
    load_record(rundir.RunDir(run_path).record)  # a clear error before asking for a token
    api_url = github_api_url or os.environ.get("RLA_GITHUB_API_URL") or DEFAULT_API_URL
    token = github_token(os.environ)
    err = ui.stderr_console()
    with GistClient(token, api_url=api_url) as client:
        # The token may come from `gh`, outside the environment redact() scans: check for it.
        done = publish_run(run_path, client, secrets=(token,), index=run_index())
    out = ui.stdout_console() if data_out else err
    if done.already:
        err.print(f"already published and verified: {done.url}", markup=False)
    else:
        for note in done.omitted:
            err.print(f"note: {note}", markup=False)
        err.print(f"published {len(done.files)} files, each read back and verified by sha256",
                  markup=False)
    out.print(done.url, markup=False, highlight=False)
    record = load_record(rundir.RunDir(run_path).record)
    verdict = check_gate(record, run_path, publishable_specs())
    if not verdict.ok:
        err.print("note: the leaderboard's trust gate would refuse this run:", markup=False)
        for reason in verdict.reasons:
            err.print(f"  - {reason}", markup=False)
    return done.url


def publish(
    run: str = typer.Argument(..., help="Run directory, run id or id prefix."),
    github_api_url: str = typer.Option(None, "--github-api-url",
                                       help="GitHub API base URL (env RLA_GITHUB_API_URL)."),
) -> None:
    """Publish a finished run as a public Gist (run.log verbatim, record, results, samples or a
    speed run's per-run logs, README), verify every file by sha256, and write the Gist URL into
    record.json."""
    publish_command(run, github_api_url)
