"""`rla reproduce --queue FILE`: one record or Gist URL a line, reproduced one after another
against one served model, resumable, ending in a summary.

    FILE              records, run dirs, ids or Gist URLs; blank lines and `#` comments skipped
    FILE.state.json   what each finished line gave (verdict, delta, report), and the first
                      re-run's record: the served model. A line already there is not run again

What is served is learned from the first re-run; from then on a record whose model,
quantization or runtime differ from it (a speed row: or its hardware) is skipped without a run,
and named with the reason: its re-run could only be a related benchmark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from runlocalai_bench.errors import ConfigError
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import Record
from runlocalai_bench.review.dimensions import Setup, compare_dimensions, setup_of
from runlocalai_bench.review.reproduce import Reproduction
from runlocalai_bench.review.speed import SpeedComparison

STATE_SUFFIX = ".state.json"
SKIPPED = "skipped"


@dataclass(frozen=True)
class Outcome:
    record: str
    verdict: str
    delta: str = ""
    report: str = ""
    why: str = ""


def read_queue(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the queue {path}: {exc.strerror}",
                          hint="one record, run directory or Gist URL a line") from exc
    refs = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    if not refs:
        raise ConfigError(f"the queue {path} lists no records",
                          hint="one record, run directory or Gist URL a line")
    return refs


def off_dimensions(record: Record, served: Setup) -> list[str]:
    """Why `record` cannot be reproduced on what is served: each dimension that does not match
    (a quality row's hardware may differ: the editor's own rig)."""
    return [f"{d.name} {d.status}: {d.reason}" for d in compare_dimensions(setup_of(record), served)
            if d.status != "match"
            and not (d.name == "hardware" and d.status == "differs" and not record.is_speed)]


def outcome_of(ref: str, result: Reproduction, report: Path) -> Outcome:
    if result.comparison is not None and result.comparison.headline.delta_pp is not None:
        delta = f"{result.comparison.headline.delta_pp:+.1f} pp"
    elif isinstance(result.speed, SpeedComparison) and result.speed.decode.change is not None:
        delta = f"{result.speed.decode.change * 100:+.1f}% decode"
    else:
        delta = ""
    return Outcome(ref, result.verdict, delta, str(report), result.reasons[0]
                   if result.reasons else "")


def run_queue(queue: Path, one: Callable[[str, Setup | None], tuple[Outcome, Path | None]]
              ) -> list[Outcome]:
    """Each line of `queue` not yet in its state file through `one(ref, served)`, which gives
    the outcome and the re-run's directory (None when nothing ran); the state is saved after
    each line."""
    refs = read_queue(queue)
    state_path = queue.with_name(queue.name + STATE_SUFFIX)
    state: dict[str, Any] = rundir.read_json(state_path) if state_path.is_file() \
        else {"served": None, "done": {}}
    done: dict[str, Outcome] = {ref: Outcome(**o) for ref, o in state["done"].items()}
    served = setup_of(load_record(Path(state["served"]))) if state["served"] else None
    for ref in refs:
        if ref in done:
            continue
        outcome, rerun = one(ref, served)
        if served is None and rerun is not None:
            state["served"] = str(rundir.RunDir(rerun).record)
            served = setup_of(load_record(Path(state["served"])))
        done[ref] = outcome
        state["done"] = {r: asdict(o) for r, o in done.items()}
        rundir.write_json_atomic(state_path, state)
    return [done[ref] for ref in refs]


def summary(outcomes: list[Outcome]) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(f"queue: {len(outcomes)} records"), title_justify="left")
    for column in ("record", "verdict", "delta", "report", "why"):
        table.add_column(column)
    for o in outcomes:
        table.add_row(Text(o.record), Text(o.verdict), o.delta, Text(o.report), Text(o.why))
    return table
