"""`rla merge SHARD_DIR… -o RUN_DIR`: the shards of one sharded run joined into one run
directory (results/merge.py), which publish, submit, verify and reproduce take like any run."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from runlocalai_bench import ui
from runlocalai_bench.cli._common import data_home
from runlocalai_bench.cli.render import print_json, results_table
from runlocalai_bench.types import to_dict


def merge(
    shard_dirs: list[Path] = typer.Argument(..., help="Each shard's run directory (rla bench …"
                                            " --shard i/N), every index once."),
    output: Path = typer.Option(..., "-o", "--output", help="The merged run directory to write"
                                " (new, or empty)."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Local copy of the data, to rebuild"
                                  " a slice's selection (--limit, --sample runs)."),
    json_output: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Refuse shards that differ in anything that defines the row, naming the field; check
    that their samples are exactly the selected items, each once; write one run directory
    whose results are recomputed from the joined samples and whose record lists every
    shard."""
    from runlocalai_bench.report import REPORT_HTML, refresh_run_report
    from runlocalai_bench.results.merge import merge_shards
    from runlocalai_bench.signing import keys_dir, sign_run_if_keyed

    merged = merge_shards(shard_dirs, output.expanduser(), argv=("rla", *sys.argv[1:]),
                          data_dir=data_dir.expanduser().resolve() if data_dir else None,
                          index_path=data_home() / "runs.sqlite")
    out, err = ui.stdout_console(), ui.stderr_console()
    signature = sign_run_if_keyed(merged.run.path, keys_dir(data_home()))  # as rla bench does
    if signature is not None:
        refresh_run_report(merged.run.path)
    if json_output:
        print_json(out, to_dict(merged.results))
    else:
        for line in merged.lines:
            out.print(line, markup=False, highlight=False)
        out.print(results_table(merged.results))
    if signature is not None:
        (err if json_output else out).print(f"record signed by key {signature.key_id}",
                                            markup=False, highlight=False)
    for line in (f"run directory: {merged.run.path}",
                 f"report: {merged.run.path / REPORT_HTML}"):
        (err if json_output else out).print(line, markup=False, highlight=False)
