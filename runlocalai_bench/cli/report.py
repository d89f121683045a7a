"""`rla report RUN… [-o FILE]`: one self-contained HTML page of a run, or of runs compared."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import typer

from runlocalai_bench import ui
from runlocalai_bench.cli._common import DataDir, GithubApiUrl, cache_home, open_submission


def report(
    runs: list[str] = typer.Argument(..., help="A run directory, record.json, run id or the "
                                     "URL of a run's Gist; several of one benchmark to "
                                     "compare the first (A) with each other (B, C, …)."),
    output: Path = typer.Option(Path("report.html"), "-o", "--output",
                                help="The HTML file to write."),
    data_dir: DataDir = None,
    github_api_url: GithubApiUrl = None,
) -> None:
    """Write one HTML file (no network, data embedded, works opened from disk): the run card,
    the headline with its Wilson 95% interval and the chance level, per-subject bars, a sample
    browser, a speed run's measured runs against its ceiling; for several runs, what differs in
    their cards and, A against each other run, the paired test (McNemar exact, bootstrap
    interval) and the flipped items. A Gist's compact samples are rebuilt from the pinned
    data (--data-dir) to be shown."""
    from runlocalai_bench.report import build_report, write_report
    from runlocalai_bench.report.load import load_source

    with ExitStack() as stack:
        loaded = [load_source(stack.enter_context(open_submission(ref, github_api_url)),
                              data_dir=data_dir, cache_dir=cache_home()) for ref in runs]
        path = write_report(build_report(loaded), output.expanduser())
    ui.stdout_console().print(f"report: {path}", markup=False, highlight=False)
