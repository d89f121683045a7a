"""One run's life, the same for scored runs (pipeline.py) and speed runs (speed/runner.py):

    run directory (created, or reopened for --resume) → index row `running`
      → the kind's work inside run.log's capture → the kind's record once run.log is closed
      → record.json → index row `complete`

Work that stops (an error, Ctrl-C) marks the row `interrupted` and leaves the directory as it
is, for `--resume` where the kind allows it. What differs by kind plugs in: the settings and
index columns in a `RunPlan`, the work and the record in a `RunKind`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from runlocalai_bench import __version__
from runlocalai_bench.config import RunConfig
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.results import rundir, runlog
from runlocalai_bench.results.capture import RunLog
from runlocalai_bench.results.store import RunIndex, RunRow

W = TypeVar("W")


@dataclass(frozen=True)
class RunPlan:
    """What the index and the run directory learn before any work: the settings (whose hash
    names the run and guards --resume) and the index row's descriptive columns."""

    slug: str
    settings: Mapping[str, Any]
    model: str | None
    runtime: str
    hardware: str
    expected_n: int
    partial: bool | None = None
    subdirs: tuple[str, ...] = ()  # made in a new run directory, before the index row


@dataclass(frozen=True)
class Started:
    run: rundir.RunDir
    started_at: str
    resumed: bool


@dataclass(frozen=True)
class Finished:
    """A kind's finished run: its record and the index columns it completes."""

    record: dict[str, Any]
    finished_at: str
    columns: Mapping[str, Any] = field(default_factory=dict)


class RunKind(Protocol[W]):
    def work(self, started: Started, log: RunLog) -> W:
        """Everything printed here lands in run.log."""
        ...

    def finish(self, started: Started, work: W) -> Finished:
        """Called once run.log is closed (its hash can join the record)."""
        ...


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def execute(config: RunConfig, plan: RunPlan,
            kind: RunKind[W]) -> tuple[rundir.RunDir, W, Finished]:
    index = RunIndex(config.index_path)
    run, resumed = open_run(config, plan, index)
    started = Started(run=run, started_at=now(), resumed=resumed)
    index.upsert(RunRow(
        id=run.id, slug=plan.slug, path=str(run.path.resolve()), status="running",
        fingerprint=rundir.fingerprint(plan.settings), started_at=started.started_at,
        model=plan.model, runtime=plan.runtime, hardware=plan.hardware,
        expected_n=plan.expected_n, partial=plan.partial,
    ))
    title = runlog.Title(version=__version__, run_id=run.id, started_at=started.started_at)
    try:
        with RunLog(run.run_log, header=title.line()) as log:
            work = kind.work(started, log)
    except BaseException:
        index.update(run.id, status="interrupted")
        raise
    finished = kind.finish(started, work)
    rundir.write_json_atomic(run.record, finished.record)
    index.update(run.id, status="complete", finished_at=finished.finished_at,
                 **finished.columns)
    return run, work, finished


def open_run(config: RunConfig, plan: RunPlan, index: RunIndex) -> tuple[rundir.RunDir, bool]:
    """A new run directory, or with --resume the one named (by id or path) or the slug's latest
    unfinished run, reopened only under the same settings; and whether it was reopened."""
    if not config.resume:
        fp = rundir.fingerprint(plan.settings)
        run_id = config.run_id or rundir.new_run_id(plan.slug, fp)
        run = rundir.create(config.output_dir, run_id, plan.settings, unique=not config.run_id)
        for name in plan.subdirs:
            (run.path / name).mkdir()
        return run, False
    if config.run_id:
        candidate = Path(config.run_id).expanduser()
        path = candidate if candidate.is_dir() else Path(index.get(config.run_id).path)
    else:
        # a shard continues its own part: several may share one index (a cluster's home)
        row = index.latest_unfinished(plan.slug, fingerprint=rundir.fingerprint(plan.settings)
                                      if config.shard else None)
        if row is None:
            raise ConfigError(f"--resume: no unfinished {plan.slug} run to continue",
                              hint="start a new run without --resume")
        path = Path(row.path)
    return rundir.open_for_resume(path, plan.settings), True
