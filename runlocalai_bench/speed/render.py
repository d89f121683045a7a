"""How a speed run shows itself: one line per run as it lands, then a rich table of the runs
with the summary, the verdict, the ceiling and any reason the result cannot be submitted."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from runlocalai_bench.results.capture import RunLog
from runlocalai_bench.results.runlog import SpeedHeadline, SpeedRunLine, logs_sha_line
from runlocalai_bench.speed.measure import Measurement


def _f(value: Any, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def run_line(label: str, m: Measurement, counted: bool) -> str:
    return SpeedRunLine(label, m.decode_tps, m.decode_source, m.prefill_tps, m.ttft_ms,
                        m.generated_tokens, counted).line()


def speed_table(record: Mapping[str, Any]) -> Group:
    """The runs, the summary row and the verdict of a speed record."""
    speed = record["speed"]
    summary = speed["summary"]
    # The title and the logs' sha256 are run.log facts `rla verify` reads back: runlog writes them.
    title = SpeedHeadline(speed["profile"], summary["decode_tps"]["median"], summary["spread"],
                          speed["reproduced"], speed["confidence"]).line()
    table = Table(title=title, title_justify="left",
                  caption=f"tok/s; decode = engine's figure where it reports one, else stream;"
                          f" counted: set {speed['attempts']}")
    for column in ("run", "set", "decode", "engine", "stream", "prefill", "TTFT ms", "prompt",
                   "gen"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for run in speed["runs"]:
        m = run["metrics"]
        engine = (m.get("engine") or {}).get("decode_tps")
        table.add_row(run["label"], str(run["attempt"]), _f(m["decode_tps"]), _f(engine),
                      _f(m["stream"]["decode_tps"]), _f(m["prefill_tps"]), _f(m["ttft_ms"], 0),
                      str(m["prompt_tokens"] or ""), str(m["generated_tokens"] or ""),
                      style=None if run["counted"] else "dim")
    table.add_row("median", "", _f(summary["decode_tps"]["median"]), "", "",
                  _f(summary["prefill_tps"]["median"]), _f(summary["ttft_ms"]["median"], 0),
                  str(summary["prompt_tokens"] or ""),
                  _f(summary["generated_tokens"]["median"], 0), end_section=True)
    plaus = speed["plausibility"]
    lines = [Text(f"ceiling: {_f(plaus['limit_tps'])} tok/s ({plaus['basis']})"
                  if plaus["limit_tps"] else f"ceiling: not checked ({plaus['basis']})")]
    for check in plaus["checks"]:
        if not check["ok"]:
            lines.append(Text(f"{check['severity']}: {check['detail']}"))
    lines.append(Text(logs_sha_line(speed["logs_sha256_prefix"], speed["logs"])))
    refusals = speed["refusals"]
    if refusals:
        lines.append(Text("not submittable:", style="bold red"))
        lines.extend(Text(f"  - {r}") for r in refusals)
    else:
        lines.append(Text("submittable: passes the speed gate", style="green"))
    return Group(table, *lines)


class RichSpeedUI:
    """Header, per-run lines and the table on stdout (so they reach run.log); with --json the
    record goes to stdout and everything else to stderr."""

    def __init__(self, console: Console, diagnostics: Console, *,
                 json_output: bool = False) -> None:
        self.console = console
        self.diagnostics = diagnostics
        self.json_output = json_output

    @property
    def _text(self) -> Console:
        return self.diagnostics if self.json_output else self.console

    def begin(self, log: RunLog, header: Sequence[str]) -> None:
        for line in header:
            self._text.print(line, highlight=False, markup=False)

    def run_done(self, label: str, measurement: Measurement, counted: bool) -> None:
        self._text.print(run_line(label, measurement, counted), highlight=False, markup=False)

    def note(self, line: str) -> None:
        self._text.print(line, highlight=False, markup=False)

    def end(self, record: Mapping[str, Any]) -> None:
        if self.json_output:
            self.console.print(json.dumps(record["speed"], indent=2), highlight=False,
                               markup=False, soft_wrap=True)
        else:
            self.console.print(speed_table(record))
