"""The run lifecycle both kinds share, driven by a small kind of its own: run directory, index
row, run.log capture, finish, interrupt and resume."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runlocalai_bench import __version__
from runlocalai_bench.config import build_config
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.results import lifecycle, rundir, runlog
from runlocalai_bench.results.capture import RunLog
from runlocalai_bench.results.store import RunIndex


@dataclass
class Counting:
    """A kind that prints its items, or stops at `stop_at`; its record lists what it did."""

    items: tuple[str, ...] = ("a", "b", "c")
    stop_at: str | None = None
    seen: list[lifecycle.Started] = field(default_factory=list)

    def work(self, started: lifecycle.Started, log: RunLog) -> list[str]:
        self.seen.append(started)
        done = [line["id"] for line in rundir.read_samples(started.run.samples)]
        samples = rundir.SampleLog(started.run.samples)
        try:
            for item in self.items:
                if item in done:
                    continue
                if item == self.stop_at:
                    raise KeyboardInterrupt
                print(f"item {item}")
                samples.append({"id": item})
        finally:
            samples.close()
        return [line["id"] for line in rundir.read_samples(started.run.samples)]

    def finish(self, started: lifecycle.Started, work: list[str]) -> lifecycle.Finished:
        # run.log is closed by now: its last line is the closing one.
        lines = started.run.run_log.read_text().splitlines()
        assert runlog.is_closed(runlog.last_session(lines))
        return lifecycle.Finished(record={"run_id": started.run.id, "items": work},
                                  finished_at="2026-01-01T00:00:01+00:00",
                                  columns={"n": len(work), "score": 1.0})


def plan(**settings: object) -> lifecycle.RunPlan:
    return lifecycle.RunPlan(slug="selfcheck", settings={"slug": "selfcheck", **settings},
                             model="m.gguf", runtime="llama.cpp-b1", hardware="cpu-x",
                             expected_n=3, partial=True, subdirs=("runs",))


def config(out: Path, **flags: object):
    return build_config("selfcheck", {"endpoint": "http://127.0.0.1:9", "output_dir": out,
                                      "index_path": out / "runs.sqlite", **flags}, env={})


def test_a_run_gets_a_directory_a_row_a_log_and_a_record(tmp_path, capfd):
    run, work, finished = lifecycle.execute(config(tmp_path), plan(), Counting())
    assert work == ["a", "b", "c"]
    assert json.loads(run.record.read_text()) == finished.record
    assert (run.path / "runs").is_dir()
    saved = json.loads(run.config.read_text())
    assert saved["fingerprint"] == rundir.fingerprint(plan().settings)
    lines = run.run_log.read_text().splitlines()
    title = runlog.Title.parse(lines[0])
    assert title is not None and (title.version, title.run_id) == (__version__, run.id)
    assert [line for line in lines if line.startswith("item ")] == ["item a", "item b",
                                                                    "item c"]
    assert "item b" in capfd.readouterr().out  # the terminal sees it too
    row = RunIndex(tmp_path / "runs.sqlite").get(run.id)
    assert (row.status, row.slug, row.started_at, row.finished_at) == (
        "complete", "selfcheck", title.started_at, "2026-01-01T00:00:01+00:00")
    assert (row.model, row.runtime, row.hardware, row.expected_n, row.partial) == (
        "m.gguf", "llama.cpp-b1", "cpu-x", 3, True)
    assert (row.n, row.score, row.path) == (3, 1.0, str(run.path.resolve()))


def test_work_that_stops_marks_the_row_and_resume_continues_it(tmp_path):
    kind = Counting(stop_at="b")
    with pytest.raises(KeyboardInterrupt):
        lifecycle.execute(config(tmp_path), plan(), kind)
    started = kind.seen[0]
    index = RunIndex(tmp_path / "runs.sqlite")
    assert index.get(started.run.id).status == "interrupted"
    assert not started.run.record.exists()
    assert runlog.is_closed(started.run.run_log.read_text().splitlines())

    with pytest.raises(ConfigError, match="different configuration"):
        lifecycle.execute(config(tmp_path, resume=True), plan(n_items=4), Counting())
    resumed = Counting()
    run, work, _ = lifecycle.execute(config(tmp_path, resume=True), plan(), resumed)
    assert run == started.run and resumed.seen[0].resumed and not started.resumed
    assert work == ["a", "b", "c"]
    assert len(runlog.titles(run.run_log.read_text().splitlines())) == 2  # two sessions
    assert index.get(run.id).status == "complete"
    with pytest.raises(ConfigError, match="no unfinished selfcheck run"):
        lifecycle.execute(config(tmp_path, resume=True), plan(), Counting())


def test_resume_by_id_refuses_a_complete_run(tmp_path):
    run, _, _ = lifecycle.execute(config(tmp_path), plan(), Counting())
    with pytest.raises(ConfigError, match="already complete"):
        lifecycle.execute(config(tmp_path, resume=True, run_id=run.id), plan(), Counting())
