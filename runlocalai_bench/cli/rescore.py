"""`rla rescore RUN_DIR`: the recorded generations scored again, without a model."""

from __future__ import annotations

from pathlib import Path

import typer

from runlocalai_bench import ui
from runlocalai_bench.cli._common import GithubApiUrl, cache_home, open_submission
from runlocalai_bench.cli.render import print_json, results_table
from runlocalai_bench.errors import ConfigError, RlaError
from runlocalai_bench.types import to_dict


def rescore(
    run: str = typer.Argument(..., help="Run directory, run id, record file or Gist URL."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Local copy of the benchmark's data "
                                  "(default: as the run read it)."),
    github_api_url: GithubApiUrl = None,
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Replay samples.jsonl through this rla's scorer (the record's task spec must be this
    rla's) and compare every sample and score with what the run claims. Exits non-zero when
    anything differs."""
    from runlocalai_bench.results.record import load_record
    from runlocalai_bench.review.rescore import rescore_run

    with open_submission(run, github_api_url) as source:
        record = load_record(source.record_path)
        if record.is_speed:
            raise ConfigError(f"{record.run_id} is a speed run: it has no scored"
                              " samples to rescore",
                              hint="`rla verify` re-derives its figures from the engine's"
                              " timings; `rla reproduce` measures it again")
        result = rescore_run(source.run, record, data_dir=data_dir, cache_dir=cache_home())
    out = ui.stdout_console()
    if json_output:
        print_json(out, {
            "ok": result.ok, "slug": result.slug, "spec_sha256": result.spec_sha256,
            "data": to_dict(result.data), "results": to_dict(result.results),
            "mismatches": [{"field": m.field, "claimed": m.claimed, "recomputed": m.computed}
                           for m in result.mismatches],
            "changes": [to_dict(c) for c in result.changes], "problems": list(result.problems),
        })
    else:
        out.print(results_table(result.results))
        for problem in result.problems:
            out.print(f"problem: {problem}", markup=False, highlight=False)
        for c in result.changes:
            out.print(f"changed: samples.jsonl {c.id}.{c.field}: recorded {c.recorded!r}, "
                      f"rescored {c.rescored!r}", markup=False, highlight=False)
        for m in result.mismatches:
            out.print(f"mismatch: record.json {m.describe()}", markup=False, highlight=False)
    if not result.ok:
        count = len(result.problems) + len(result.changes) + len(result.mismatches)
        raise RlaError(f"rescoring disagrees with the run in {count} place(s)",
                       hint="the claimed score is not what its own samples give")
