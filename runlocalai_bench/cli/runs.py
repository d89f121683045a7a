"""`rla runs list | show | diff`: the run index."""

from __future__ import annotations

from pathlib import Path

import typer
from rich import box
from rich.table import Table

from runlocalai_bench import ui
from runlocalai_bench.cli._common import resolve_run, run_index
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
    a: str = typer.Argument(..., help="First run: id, id prefix or run directory."),
    b: str = typer.Argument(..., help="Second run: id, id prefix or run directory."),
    tolerance: float = typer.Option(2.0, "--tolerance", help="Percentage points the headline "
                                    "may move before it is marked moved."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Two runs side by side: headline and each subtask, and the samples that disagree."""
    from runlocalai_bench.review.compare import compare_runs, read_run

    (results_a, samples_a), (results_b, samples_b) = read_run(resolve_run(a)), \
        read_run(resolve_run(b))
    comparison = compare_runs(results_a, results_b, samples_a, samples_b,
                              tolerance_pp=tolerance)
    out = ui.stdout_console()
    if json_output:
        print_json(out, comparison.to_json())
        return
    out.print(comparison)


def _results_from_json(data: dict) -> Results:
    def scores(rows: list[dict]) -> tuple[SubtaskScore, ...]:
        return tuple(SubtaskScore(**r) for r in rows)

    return Results(**{**data, "subtasks": scores(data.get("subtasks", [])),
                      "categories": scores(data.get("categories", []))})
