"""The run report: one self-contained HTML file to look at a run, or at runs side by side.

    load.py        run dirs, record files or Gist URLs → LoadedRun (record, samples, what is
                   missing), through review/source.py
    model.py       LoadedRun → RunView: the run card, headline, per-subject bars, samples, speed
    comparison.py  RunViews → Comparison: card diff; A against each other run: paired deltas,
                   flips
    page.py        Report → the HTML page: summary rendered here (works without JS), the
                   sample browser filled by assets/report.js from the embedded JSON
    assets/        report.css and report.js, inlined into every page (no CDN, no network)

Everything but load.py is a pure function of its inputs. The DOM hooks the browser tests use
are fixed in docs/report-contract.md.
"""

from runlocalai_bench.report.build import (
    REPORT_HTML,
    Report,
    build_report,
    refresh_run_report,
    write_report,
    write_reproduction_report,
    write_run_report,
)

__all__ = ["REPORT_HTML", "Report", "build_report", "refresh_run_report", "write_report",
           "write_reproduction_report", "write_run_report"]
