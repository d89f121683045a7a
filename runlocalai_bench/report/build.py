"""Loaded runs → the Report the page renders, and the page written to a file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from runlocalai_bench.report.comparison import (
    Comparison,
    build_comparison,
    check_comparable,
    labels,
)
from runlocalai_bench.report.load import LoadedRun
from runlocalai_bench.report.model import RunView, build_run
from runlocalai_bench.review.source import Source

REPORT_HTML = "report.html"
REPRODUCTION_HTML = "reproduction.html"  # rla reproduce: the original (A) vs the re-run (B)


@dataclass(frozen=True)
class Report:
    title: str
    runs: tuple[RunView, ...]
    comparison: Comparison | None


def build_report(runs: list[LoadedRun]) -> Report:
    """One run's report, or runs of one benchmark compared (A the first, then B, C, …)."""
    check_comparable(runs)
    names = labels(len(runs)) if len(runs) > 1 else [runs[0].record.run_id]
    views = [build_run(run, label) for run, label in zip(runs, names, strict=True)]
    first = runs[0].record
    if len(runs) == 1:
        model = first.model.slug or first.model.name or first.model.id or "model"
        title = f"{first.benchmark.slug}: {model}, run {first.run_id}"
        return Report(title, tuple(views), None)
    title = f"{first.benchmark.slug}: " + " vs ".join(
        f"{run.record.run_id} ({view.label})" for run, view in zip(runs, views, strict=True))
    return Report(title, tuple(views), build_comparison(runs, views))


def write_run_report(run_path: Path) -> Path:
    """A finished run's own report.html, in its run directory."""
    from runlocalai_bench.report.load import load_path

    return write_report(build_report([load_path(run_path)]), run_path / REPORT_HTML)


def refresh_run_report(run_path: Path) -> Path | None:
    """report.html written again once rla changed the run's record (signed it, published it),
    so the page never shows a stale signature or Gist; nothing where the run has no report."""
    return write_run_report(run_path) if (run_path / REPORT_HTML).is_file() else None


def write_reproduction_report(original: Source, rerun: Path, directory: Path) -> Path:
    """The original run compared with its re-run, beside reproduction.json."""
    from runlocalai_bench.report.load import load_path, load_source

    report = build_report([load_source(original), load_path(rerun)])
    return write_report(report, directory / REPRODUCTION_HTML)


def write_report(report: Report, path: Path) -> Path:
    """The page, written whole to a temporary file and moved into place."""
    from runlocalai_bench.report.page import render_parts

    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".tmp")
    with scratch.open("w", encoding="utf-8") as out:
        for part in render_parts(report):
            out.write(part)
    os.replace(scratch, path)
    return path
