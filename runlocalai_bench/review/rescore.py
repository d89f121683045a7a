"""Rescoring: a run's recorded generations replayed through this rla's scorer, without a model.

    record.json → the task spec (its sha256 must equal the record's) → the dataset (the gold
    answers come from the data, never from the samples) → for each line of samples.jsonl: the
    item by id, the prompt rebuilt and compared with the one recorded, the recorded generation
    scored again → the aggregate → every difference from what the run claimed

Error rows stay error rows (score 0): a failed request has no generation to replay. The
comparison is exact: the same scorer on the same generations gives the same numbers.

`recorded_aggregate` is the cheaper check that needs no data: the samples' own recorded scores
aggregated again, which catches a record or results.json whose numbers were edited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from runlocalai_bench.errors import ConfigError
from runlocalai_bench.evals import Eval, load_eval
from runlocalai_bench.results import compact, rundir
from runlocalai_bench.results.recordtypes import Record, Scored
from runlocalai_bench.results.sampleline import SampleLine, read_sample_lines
from runlocalai_bench.review.scores import Mismatch, results_block, score_mismatches
from runlocalai_bench.types import (
    Dataset,
    DatasetPin,
    DataSource,
    Item,
    MCItem,
    PromptStyle,
    Results,
    SampleResult,
)

COMPARED = ("score", "extracted", "status")


class RecordMismatch(ConfigError):
    """The record names something this machine cannot match (`field` says which)."""

    def __init__(self, field: str, message: str, hint: str | None = None) -> None:
        super().__init__(f"{field}: {message}", hint)
        self.field = field


@dataclass(frozen=True)
class SampleChange:
    """One sample whose recorded value differs from the rescored one (`field` names which)."""

    id: str
    subtask: str
    field: str  # score | extracted | status | prompt | target
    recorded: Any
    rescored: Any


@dataclass(frozen=True)
class Rescore:
    slug: str
    spec_sha256: str
    data: DatasetPin
    results: Results
    mismatches: tuple[Mismatch, ...]  # record.json's results vs the recomputed ones
    changes: tuple[SampleChange, ...]  # samples.jsonl lines the scorer now judges differently
    problems: tuple[str, ...]  # lines that cannot be rescored at all (unknown or repeated ids)

    @property
    def ok(self) -> bool:
        return not (self.mismatches or self.changes or self.problems)


def target_of(item: Item) -> str:
    return item.answer if isinstance(item, MCItem) else item.entry_point


def data_source_for(pin: DatasetPin, data_dir: Path | None = None) -> DataSource:
    """Where to read the data of a run (its record's `dataset`) here: the bundled sample for a
    sample run; else `data_dir` when given; the run's own --data-dir when this machine has it;
    else the pinned hub copy."""
    allow = not pin.pinned
    if pin.source == "bundled":
        return DataSource(kind="bundled", allow_unpinned=allow)
    if data_dir is not None:
        return DataSource(kind="dir", path=str(data_dir.expanduser().resolve()),
                          allow_unpinned=allow)
    location = pin.location
    if pin.source == "dir" and location and Path(location).is_dir():
        return DataSource(kind="dir", path=location, allow_unpinned=allow)
    return DataSource(kind="hub", allow_unpinned=allow)


def eval_for(record: Record, cache_dir: Path | None = None) -> Eval:
    """This rla's Eval for the record's benchmark, refusing a different methodology."""
    bench = record.benchmark
    eval_ = load_eval(bench.slug, cache_dir=cache_dir)
    if eval_.spec.sha256 != bench.spec_sha256:
        eval_.close()
        version = record.rla.version
        raise RecordMismatch(
            "benchmark.spec_sha256", f"the run used spec {bench.spec_sha256[:12]}, "
            f"this rla has {eval_.spec.sha256[:12]} for {bench.slug}",
            hint=f"rescore with the rla version that made the run (rla {version})")
    return eval_


def recorded_aggregate(eval_: Eval, lines: Sequence[SampleLine], expected_n: int) -> Results:
    """The samples' recorded scores aggregated again: no data, no scorer."""
    return eval_.aggregate([line.result() for line in lines], expected_n=expected_n)


def rescore_lines(eval_: Eval, dataset: Dataset, style: PromptStyle,
                  lines: Sequence[SampleLine]
                  ) -> tuple[list[SampleResult], list[SampleChange], list[str]]:
    """Each line scored again from its recorded generation: the new results, every value that
    changed, and the lines that could not be rescored."""
    items = {item.id: item for item in dataset.items}
    results: list[SampleResult] = []
    changes: list[SampleChange] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        sample_id, subtask = line.id, line.subtask
        if sample_id in seen:
            problems.append(f"samples.jsonl line {number}: id {sample_id!r} appears twice")
            continue
        seen.add(sample_id)
        item = items.get(sample_id)
        if item is None:
            problems.append(f"samples.jsonl line {number}: id {sample_id!r} is not in the data")
            continue
        if item.subtask != subtask:
            changes.append(SampleChange(sample_id, subtask, "subtask", subtask, item.subtask))
        if line.target != target_of(item):
            changes.append(SampleChange(sample_id, item.subtask, "target", line.target,
                                        target_of(item)))
        prompt = eval_.build_prompt(item, dataset, style)
        if line.prompt != prompt.rendered():
            changes.append(SampleChange(sample_id, item.subtask, "prompt", "(recorded prompt)",
                                        "(prompt rebuilt from the data differs)"))
        if line.status == "error":
            result = replace(line.result(), subtask=item.subtask, score=0.0)
        else:
            result = eval_.score(item, prompt, line.replayed())
        results.append(result)
        for field in COMPARED:
            if getattr(line, field) != getattr(result, field):
                changes.append(SampleChange(sample_id, item.subtask, field, getattr(line, field),
                                            getattr(result, field)))
    return results, changes, problems


def rescore_run(run: rundir.RunDir, record: Record, *,
                data_dir: Path | None = None, cache_dir: Path | None = None) -> Rescore:
    """Replay the run's samples through this rla's scorer and compare with what it claims."""
    scored = record.body
    assert isinstance(scored, Scored)  # a speed run has no samples: callers refuse it
    eval_ = eval_for(record, cache_dir)
    try:
        dataset = eval_.load(data_source_for(scored.dataset, data_dir))
        recorded_sha = scored.dataset.content_sha256
        if dataset.pin.content_sha256 != recorded_sha:
            raise RecordMismatch(
                "dataset.content_sha256", f"the data here hashes to "
                f"{dataset.pin.content_sha256[:12]}, the run used {str(recorded_sha)[:12]}",
                hint="pass --data-dir with the copy of the data the run used")
        lines = read_sample_lines(run.samples)
        style: PromptStyle = record.benchmark.prompt_style
        rescored, changes, problems = rescore_lines(eval_, dataset, style, lines)
        claimed = results_block(scored.results)
        results = eval_.aggregate(rescored, expected_n=int(claimed.get("expected_n") or 0))
    finally:
        eval_.close()
    return Rescore(slug=eval_.spec.slug, spec_sha256=eval_.spec.sha256, data=dataset.pin,
                   results=results,
                   mismatches=tuple(score_mismatches(claimed, results_block(results))),
                   changes=tuple(changes), problems=tuple(problems))


def rebuild_samples(run: rundir.RunDir, record: Record, *, data_dir: Path | None,
                    cache_dir: Path | None = None) -> list[str]:
    """samples.jsonl written back from its compact parts in the run directory (a Gist's copy),
    each prompt rebuilt from this rla's spec and the data and checked against its sha256; the
    lines whose prompt does not rebuild. Raises DataError when the data is not here."""
    scored = record.body
    assert isinstance(scored, Scored)
    eval_ = eval_for(record, cache_dir)
    try:
        dataset = eval_.load(data_source_for(scored.dataset, data_dir))
        items = {item.id: item for item in dataset.items}
        style: PromptStyle = record.benchmark.prompt_style

        def prompt_of(sample_id: str) -> str | None:
            item = items.get(sample_id)
            return None if item is None else eval_.build_prompt(item, dataset, style).rendered()

        parts = {name: (run.path / name).read_bytes()
                 for name in compact.part_names(p.name for p in run.path.iterdir())}
        data, problems = compact.expand(parts, prompt_of)
    finally:
        eval_.close()
    run.samples.write_bytes(data)
    return problems

