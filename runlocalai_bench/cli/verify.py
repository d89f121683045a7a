"""`rla verify RECORD`: check a submission's files, scores, log and signature."""

from __future__ import annotations

from pathlib import Path

import typer

from runlocalai_bench import ui
from runlocalai_bench.cli._common import GithubApiUrl, cache_home, open_submission
from runlocalai_bench.cli.render import print_json
from runlocalai_bench.errors import RlaError


def verify(
    record: str = typer.Argument(..., help="record.json, a run directory, a run id, the "
                                 "URL of the run's Gist, or a submission payload (JSON) to "
                                 "check against its Gist."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Local copy of the benchmark's data "
                                  "for rescoring (default: as the run read it)."),
    github_api_url: GithubApiUrl = None,
    json_output: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Check that a run's files match the hashes in its record, the record matches the schema,
    the claimed scores equal the scores recomputed from samples.jsonl, the log agrees with the
    record, and the signature (if any) is valid. A speed row's figures are re-derived from its
    raw observations and checked against the memory-bandwidth ceiling, and each run's own log
    against the record. Exits non-zero on any mismatch."""
    from runlocalai_bench.review.payload import payload_gist_url, read_payload, verify_payload
    from runlocalai_bench.review.verify import verify_source

    payload = read_payload(Path(record).expanduser())
    with open_submission(record if payload is None else payload_gist_url(payload),
                         github_api_url) as source:
        report = (verify_source(source, data_dir=data_dir, cache_dir=cache_home())
                  if payload is None else
                  verify_payload(payload, source, data_dir=data_dir, cache_dir=cache_home()))
    out = ui.stdout_console()
    if json_output:
        print_json(out, report.to_json())
    else:
        out.print(report)
    if not report.ok:
        raise RlaError(f"verification failed: {len(report.failures)} mismatch(es)",
                       hint="each names the file and the field; the submission is invalid "
                       "as it stands")
    if not report.verified:
        skipped = ", ".join(dict.fromkeys(f.check for f in report.unchecked))
        raise RlaError(f"not verified: {len(report.unchecked)} check(s) could not run"
                       f" ({skipped})", hint="each says what it lacks (the data: --data-dir)")
