"""`rla verify RECORD`: check a submission's files, scores, log and signature."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from runlocalai_bench import paths, ui
from runlocalai_bench.cli.render import print_json
from runlocalai_bench.editor.source import Source, is_url, open_source
from runlocalai_bench.errors import RlaError
from runlocalai_bench.publish.gist import DEFAULT_API_URL
from runlocalai_bench.results.store import RunIndex


@contextmanager
def open_submission(ref: str, github_api_url: str | None) -> Iterator[Source]:
    """A record file, run directory, run id (or id prefix) or Gist URL, as files on disk."""
    api_url = github_api_url or os.environ.get("RLA_GITHUB_API_URL") or DEFAULT_API_URL
    token = os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN") or None
    if not is_url(ref) and not Path(ref).expanduser().exists():
        ref = RunIndex(paths.data_home() / "runs.sqlite").get(ref).path
    with open_source(ref, api_url=api_url, token=token) as source:
        yield source


def verify(
    record: str = typer.Argument(..., help="record.json, a run directory, a run id, or the "
                                 "URL of the run's Gist."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Local copy of the benchmark's data "
                                  "for rescoring (default: as the run read it)."),
    github_api_url: str = typer.Option(None, "--github-api-url",
                                       help="GitHub API base URL (env RLA_GITHUB_API_URL)."),
    json_output: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Check that a run's files match the hashes in its record, the record matches the schema,
    the claimed scores equal the scores recomputed from samples.jsonl, the log agrees with the
    record, and the signature (if any) is valid. A speed row's figures are re-derived from its
    raw observations and checked against the memory-bandwidth ceiling, and each run's own log
    against the record. Exits non-zero on any mismatch."""
    from runlocalai_bench.editor.verify import verify_source

    with open_submission(record, github_api_url) as source:
        report = verify_source(source, data_dir=data_dir)
    out = ui.stdout_console()
    if json_output:
        print_json(out, report.to_json())
    else:
        out.print(report)
    if not report.ok:
        raise RlaError(f"verification failed: {len(report.failures)} mismatch(es)",
                       hint="each names the file and the field; the submission is invalid "
                       "as it stands")
