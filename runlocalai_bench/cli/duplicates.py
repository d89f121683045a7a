"""`rla duplicates RECORD…`: which records repeat a row (same five-tuple within N weeks)."""

from __future__ import annotations

from contextlib import ExitStack

import typer

from runlocalai_bench import ui
from runlocalai_bench.cli._common import GithubApiUrl, open_submission


def duplicates(
    records: list[str] = typer.Argument(..., help="Records: record files, run directories, run "
                                        "ids or Gist URLs."),
    weeks: float = typer.Option(4.0, "--weeks", help="How many weeks apart a repeat still "
                                "duplicates its row."),
    github_api_url: GithubApiUrl = None,
    json_output: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Records with the same model, benchmark, quantization, runtime and hardware that started
    within --weeks of the row they repeat (REFERENCE §1's Duplicate), each with that row."""
    from rich.table import Table
    from rich.text import Text

    from runlocalai_bench.cli.render import print_json
    from runlocalai_bench.results.record import load_record
    from runlocalai_bench.review.duplicates import entry_of, find_duplicates, to_json

    with ExitStack() as stack:
        entries = []
        for ref in records:
            source = stack.enter_context(open_submission(ref, github_api_url))
            entries.append(entry_of(source.origin, load_record(source.record_path)))
    found = find_duplicates(entries, weeks=weeks)
    out = ui.stdout_console()
    if json_output:
        print_json(out, to_json(found, weeks))
        return
    if not found:
        out.print(f"no duplicates among {len(entries)} records (within {weeks:g} weeks)",
                  markup=False, highlight=False)
        return
    table = Table(title=Text(f"{len(found)} duplicates (same model, benchmark, quantization, "
                             f"runtime, hardware within {weeks:g} weeks)"),
                  title_justify="left")
    for column in ("duplicate", "of the row", "days later", "five-tuple"):
        table.add_column(column)
    for d in found:
        days = f"{d.apart.total_seconds() / 86400:.1f}"
        table.add_row(Text(d.entry.label), Text(d.row.label), days, Text(" ".join(d.entry.key)))
    out.print(table)
