"""How runs show themselves in the terminal: the live progress UI and the results table."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from runlocalai_bench.results.capture import RunLog
from runlocalai_bench.results.runlog import ProgressLine, ScoredHeadline
from runlocalai_bench.scoring.metrics import wilson_interval
from runlocalai_bench.types import Results, SampleResult, to_dict


def results_table(results: Results, *, max_rows: int = 80, flags: Sequence[str] = ()) -> Table:
    """The scores by category and subtask, the headline, the outcomes, and under them each
    implausibility of the run (scoring/plausibility.py), which the trust gate refuses."""
    metric = results.metric
    # The title is run.log's headline, which `rla verify` reads back: written by runlog.
    table = Table(title=ScoredHeadline.of(results).line(), title_justify="left")
    table.add_column("subtask")
    table.add_column("n", justify="right")
    table.add_column(metric, justify="right")
    table.add_column("± se", justify="right")
    table.add_column("95% Wilson", justify="right")
    categories = [(f"category: {c.name}", c) for c in results.categories]
    rows = categories + [(s.name, s) for s in results.subtasks]
    shown = rows[:max_rows]
    for i, (name, row) in enumerate(shown):
        last = i == len(shown) - 1 or i == len(categories) - 1
        table.add_row(Text(name), str(row.n), f"{row.score * 100:.1f}",
                      f"{row.stderr * 100:.1f}", _wilson(row.score, row.n), end_section=last)
    if len(rows) > max_rows:
        table.add_row(f"… {len(rows) - max_rows} more in results.json", "", "", "", "",
                      end_section=True)
    table.add_row("micro (headline)", str(results.n), f"{results.score * 100:.2f}",
                  f"{results.stderr * 100:.2f}", _wilson(results.score, results.n))
    table.add_row("macro", "", f"{results.macro * 100:.2f}", "", "")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(results.counts.items()) if v)
    caption = [f"outcomes: {counts}"] if counts else []
    caption += [f"implausible: {flag}" for flag in flags]
    if caption:
        table.caption = "\n".join(caption)
    return table


def _wilson(score: float, n: int) -> str:
    """A score's 95% Wilson interval in percent (scoring.metrics)."""
    low, high = wilson_interval(score * n, n)
    return f"{low * 100:.1f}–{high * 100:.1f}"


class RichRunUI:
    """Header and results on stdout (logged); a live bar on the terminal; milestones in run.log."""

    def __init__(self, console: Console, diagnostics: Console, *,
                 json_output: bool = False) -> None:
        self.console = console
        self.diagnostics = diagnostics
        self._base = 0
        self.json_output = json_output
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._log: RunLog | None = None
        self._total = 0
        self._done = 0
        self._started = 0.0
        self._next_note = 0
        self._errors = 0

    def begin(self, log: RunLog, header: Sequence[str], total: int, done: int) -> None:
        self._log = log
        self._total, self._done = total, done
        self._started = time.perf_counter()
        self._next_note = done + max(1, total // 10)
        self._base = done
        target = self.diagnostics if self.json_output else self.console
        for line in header:
            target.print(line, highlight=False, markup=False)
        if log.terminal_is_tty():
            log.settle()  # the header reaches the terminal through the tee; the bar does not
        terminal = Console(file=log.terminal(), force_terminal=log.terminal_is_tty(),
                           no_color=self.console.no_color)
        self._progress = Progress(
            TextColumn("[progress.description]{task.description}"), BarColumn(),
            MofNCompleteColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
            TextColumn("eta"), TimeRemainingColumn(), console=terminal, transient=False,
            disable=not log.terminal_is_tty(),
        )
        self._task = self._progress.add_task("samples", total=total, completed=done, rate="")
        self._progress.start()
        log.note(ProgressLine.start(done, total))

    def advance(self, result: SampleResult) -> None:
        self._done += 1
        self._errors += result.status == "error"
        rate = self._rate()
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=1, rate=f"{rate:.2f}/s")
        if self._log is not None and (self._done >= self._next_note or self._done == self._total):
            self._next_note = self._done + max(1, self._total // 10)
            self._log.note(self._milestone(rate))

    def _rate(self) -> float:
        elapsed = time.perf_counter() - self._started
        return 0.0 if elapsed <= 0 else (self._done - self._base) / elapsed

    def _milestone(self, rate: float, *, final: bool = False) -> str:
        return ProgressLine(done=self._done, total=self._total,
                            elapsed_s=time.perf_counter() - self._started, rate=rate,
                            errors=self._errors, final=final).line()

    def end(self, results: Results | None, flags: Sequence[str] = ()) -> None:
        if self._progress is not None:
            self._progress.stop()
        if self._log is not None:
            self._log.note(self._milestone(self._rate(), final=True))
        if results is None:
            return
        if self.json_output:
            self.console.print_json(json.dumps(to_dict(results)))
            for flag in flags:
                self.diagnostics.print(f"implausible: {flag}", highlight=False, markup=False)
        else:
            self.console.print(results_table(results, flags=flags))


def print_json(console: Console, data: Any) -> None:
    console.print_json(json.dumps(data, default=str))
