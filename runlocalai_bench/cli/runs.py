"""`rla runs list | show | diff`: the run index."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.table import Table

from runlocalai_bench import ui
from runlocalai_bench.cli._common import GithubApiUrl, open_submission, resolve_run, run_index
from runlocalai_bench.cli.render import print_json, results_table
from runlocalai_bench.results import rundir
from runlocalai_bench.types import Results, SubtaskScore, to_dict

app = typer.Typer(help="List and inspect past runs.", no_args_is_help=True)


@app.command("list")
def list_runs(
    slug: str = typer.Option(None, "--slug", help="Only runs of this benchmark."),
    limit: int = typer.Option(50, "--limit", help="At most N runs, newest first."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """List runs, newest first."""
    rows = run_index().list(slug=slug, limit=limit)
    out = ui.stdout_console()
    if json_output:
        print_json(out, [to_dict(r) for r in rows])
        return
    table = Table(title=f"{len(rows)} run(s)", title_justify="left", box=box.SIMPLE_HEAD)
    # an id is for copying: whole on one line, however narrow the terminal; the rest folds
    table.add_column("id", no_wrap=True, min_width=max((len(r.id) for r in rows), default=2))
    for column in ("status", "score", "n", "runtime", "hardware", "model"):
        table.add_column(column, overflow="fold")
    for r in rows:
        score = "" if r.score is None else f"{r.score * 100:.2f}" + (" (partial)" if r.partial
                                                                   else "")
        n = "" if r.n is None else f"{r.n}/{r.expected_n}"
        table.add_row(r.id, r.status, score, n, r.runtime or "", r.hardware or "",
                      Path(r.model).name if r.model else "")
    out.print(table)


@app.command("show")
def show(
    ref: str = typer.Argument(..., help="Run id, id prefix or run directory."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Show one run: its index row and, when finished, its results."""
    row = run_index().get(ref)
    run = rundir.RunDir(Path(row.path))
    out = ui.stdout_console()
    results = rundir.read_json(run.results) if run.results.is_file() else None
    if json_output:
        print_json(out, {"run": to_dict(row), "results": results})
        return
    for key, value in to_dict(row).items():
        out.print(f"{key:12} {value}", highlight=False, markup=False)
    if results:
        out.print(results_table(_results_from_json(results)))


@app.command("diff")
def diff(
    a: str = typer.Argument(..., help="First run: id, id prefix, run directory, record.json "
                            "or Gist URL."),
    b: str = typer.Argument(..., help="Second run, in any of the same forms."),
    tolerance: float = typer.Option(2.0, "--tolerance", help="Percentage points the headline "
                                    "may move before it is marked moved."),
    github_api_url: GithubApiUrl = None,
    json_output: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Two runs of the same items side by side, as paired data: the headline's delta with a
    bootstrap interval, each subtask's flips both ways with McNemar's exact p, the items that
    flipped, and the samples that disagree. Runs asked with different prompts are not
    comparable (exit 1)."""
    from runlocalai_bench.review.compare import compare_runs, read_run
    from runlocalai_bench.review.source import is_url

    with ExitStack() as stack:
        def read(ref: str) -> tuple[Any, list[dict[str, Any]]]:
            path = Path(ref).expanduser()
            if not is_url(ref) and (path.is_dir() or not path.exists()):
                return read_run(resolve_run(ref))  # a run dir: results.json will do
            source = stack.enter_context(open_submission(ref, github_api_url))
            return read_run(source.run.path, source.record_path)

        (results_a, samples_a), (results_b, samples_b) = read(a), read(b)
    comparison = compare_runs(results_a, results_b, samples_a, samples_b,
                              tolerance_pp=tolerance)
    out = ui.stdout_console()
    if json_output:
        print_json(out, comparison.to_json())
    else:
        out.print(comparison)
    if not comparison.comparable:
        raise typer.Exit(1)


def _results_from_json(data: dict) -> Results:
    def scores(rows: list[dict]) -> tuple[SubtaskScore, ...]:
        return tuple(SubtaskScore(**r) for r in rows)

    return Results(**{**data, "subtasks": scores(data.get("subtasks", [])),
                      "categories": scores(data.get("categories", []))})
