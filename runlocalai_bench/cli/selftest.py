"""`rla selftest`: every registered benchmark, end to end, against a backend that knows the
answers. Seconds, no model, no network: the command a CI smoke test calls."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich.table import Table

from runlocalai_bench import ui
from runlocalai_bench.cli._common import cache_home
from runlocalai_bench.cli.render import print_json
from runlocalai_bench.errors import RlaError
from runlocalai_bench.selftest import SelftestResult, run_selftest


def selftest(
    slug: list[str] = typer.Argument(None, help="Benchmarks to check (default: all)."),
    limit: int = typer.Option(8, "--limit", help="Samples per benchmark."),
    output_dir: Path = typer.Option(None, "--output-dir",
                                    help="Keep the run directories here (default: a temp dir)."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Check that every benchmark scores its reference answers at 100% through the pipeline."""
    with tempfile.TemporaryDirectory(prefix="rla-selftest-") as tmp:
        base = output_dir or Path(tmp)
        results = run_selftest(slug or None, limit=limit, output_dir=base,
                               cache_dir=cache_home())
        _render(results, json_output)
    failed = [r for r in results if not r.ok]
    if failed:
        names = ", ".join(r.slug for r in failed)
        raise RlaError(f"selftest failed for {names}",
                       hint="a scorer, prompt builder or loader is broken; see the table above")


def _render(results: list[SelftestResult], json_output: bool) -> None:
    out = ui.stdout_console()
    if json_output:
        print_json(out, [r.as_dict() for r in results])
        return
    table = Table(title="rla selftest (oracle backend, bundled samples)", title_justify="left")
    for column in ("benchmark", "n", "score", "expected", "seconds", "result"):
        table.add_column(column)
    for r in results:
        table.add_row(r.slug, str(r.n), f"{r.score * 100:.1f}%", f"{r.expected * 100:.1f}%",
                      f"{r.seconds:.2f}", "ok" if r.ok else f"FAIL {r.reason}")
    out.print(table)
