"""Issue 15, item 4: the report of a full MMLU run (14,042 samples) in headless Chromium.

A full `rla bench mmlu` against an instant local stub llama-server that answers as a real one
sizes an answer (20 top log-probabilities, benchmarks/evidence_size.py's stub; a letter fixed by
the prompt, so about a quarter right), then `rla report RUN -o report.html` in a process of its
own (wall and peak RSS). Measured:

- the report's size in bytes (goal ≤ 10 MB: the repeated few-shot context stored once);
- time to interactive: navigation start to `<html data-ready="1">` by the page's own clock, in
  Debian's headless Chromium (tests/support/browser.py), a fresh browser and profile each round
  (goal ≤ 2 s), beside the wall time from the driver's request to the ready mark seen;
- the console's SEVERE entries (none expected) and the sample count the page shows.

Every figure carries the machine's load average when it was taken.

    .venv/bin/python benchmarks/report_scale.py [--data-dir ../shared/data] [--rounds 5]
                                                [--limit N]

--limit makes a smaller run that only prints its figures (a check that the script works, not
the issue's figure). Needs the shared data (../shared/data/mmlu beside the checkout, or
--data-dir; RLA_TEST_DATA is read as the tests read it) and Chromium (scripts/setup.sh
--server). Writes benchmarks/results/report_scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.evidence_size import RealSizedStub  # noqa: E402
from benchmarks.measure import measure, rla_argv  # noqa: E402
from runlocalai_bench.results import rundir  # noqa: E402
from tests.support.browser import Page, absent  # noqa: E402
from tests.support.data import data_root  # noqa: E402

GOAL_BYTES, GOAL_READY_S = 10_000_000, 2.0
FULL_MMLU = 14_042


def load() -> float:
    return round(os.getloadavg()[0], 2)


def rla(args: list[str], log: Path, env: dict[str, str]) -> dict[str, Any]:
    """`rla ARGS` measured on its own (benchmarks/measure.py): wall, peak RSS, load."""
    load_at_start = load()
    ran = measure(rla_argv(*args), log, env)
    if ran.exit_code != 0:
        raise SystemExit(f"rla {' '.join(args[:2])} failed:\n{ran.tail()}")
    return {"wall_s": round(ran.wall_s, 2), "peak_rss_mb": round(ran.peak_rss_mb, 1),
            "load_average": load_at_start}


def full_run(data: Path, out: Path, limit: int | None, env: dict[str, str]) -> rundir.RunDir:
    server = RealSizedStub(policy=lambda prompt: "ABCD"[len(prompt) % 4]).start()
    try:
        figures = rla(["bench", "mmlu", "--endpoint", server.url, "--model", "stub",
                       "--data-dir", str(data), "--concurrency", "8", "--output-dir", str(out),
                       *(["--limit", str(limit)] if limit else [])], out.with_suffix(".log"),
                      env)
    finally:
        server.stop()
    (path,) = [p for p in out.iterdir() if p.is_dir()]
    print(f"rla bench mmlu: {figures['wall_s']} s; load average {figures['load_average']}")
    return rundir.RunDir(path)


def open_rounds(report: Path, rounds: int, scratch: Path) -> list[dict[str, Any]]:
    """Open `report` in a fresh Chromium `rounds` times: the ready time each round."""
    figures = []
    for round_ in range(1, rounds + 1):
        page = Page(scratch / f"profile-{round_}")
        try:
            load_at_start, started = load(), time.perf_counter()
            ready_s = page.open(report, timeout=120)
            wall_s = time.perf_counter() - started
            count = int(page.one("#sample-count").get_attribute("data-count"))
            errors = page.console_errors()
        finally:
            page.close()
        figures.append({"round": round_, "ready_s": round(ready_s, 3),
                        "get_to_ready_seen_s": round(wall_s, 3), "sample_count": count,
                        "console_errors": errors, "load_average": load_at_start})
        print(f"round {round_}: interactive after {ready_s:.3f} s (seen {wall_s:.3f} s),"
              f" {count} samples shown, {len(errors)} console errors;"
              f" load average {load_at_start}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=data_root())
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--limit", type=int, help="a smaller run, to check the script works")
    args = parser.parse_args()
    if (reason := absent()) is not None:
        raise SystemExit(f"error: no browser to measure with: {reason}")
    data: Path = (args.data_dir / "mmlu").resolve()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    figures: dict[str, Any] = {"load_average_before": os.getloadavg(),
                               "questions": args.limit or FULL_MMLU}
    with tempfile.TemporaryDirectory(prefix="rla-report-scale-") as tmp:
        scratch = Path(tmp)
        env["RLA_HOME"] = str(scratch / "home")
        run = full_run(data, scratch / "runs", args.limit, env)
        report = scratch / "report.html"
        figures["rla_report"] = rla(["report", str(run.path), "-o", str(report)],
                                    scratch / "report.log", env)
        size = report.stat().st_size
        figures["samples_jsonl_bytes"] = run.samples.stat().st_size
        figures["report_bytes"] = size
        print(f"rla report: {size:,} bytes (samples.jsonl {run.samples.stat().st_size:,}) in"
              f" {figures['rla_report']['wall_s']} s, peak RSS"
              f" {figures['rla_report']['peak_rss_mb']} MB;"
              f" load average {figures['rla_report']['load_average']}")
        figures["rounds"] = open_rounds(report, args.rounds, scratch)
    ready = sorted(r["ready_s"] for r in figures["rounds"])
    figures["ready_s_median"] = ready[len(ready) // 2]
    figures["within_goals"] = {
        "report_bytes": size <= GOAL_BYTES,
        "ready_s_median": figures["ready_s_median"] <= GOAL_READY_S,
        "no_console_errors": not any(r["console_errors"] for r in figures["rounds"]),
        "every_sample_counted": all(r["sample_count"] == figures["questions"]
                                    for r in figures["rounds"])}
    figures["load_average_after"] = os.getloadavg()
    print(f"median time to interactive {figures['ready_s_median']} s (goal ≤ {GOAL_READY_S}),"
          f" {size:,} bytes (goal ≤ {GOAL_BYTES:,}); within goals: {figures['within_goals']}")
    if args.limit is None:
        out = ROOT / "benchmarks" / "results" / "report_scale.json"
        out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
