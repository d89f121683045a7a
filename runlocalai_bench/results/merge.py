"""`rla merge`: the shards of one sharded run (`rla bench … --shard i/N`) joined into one run
directory that publishes, submits and verifies like any other.

    shard run dirs → each record read and its files checked against their hashes
      → refused unless every field that defines the row is the same (`row_fields`), named
      → the samples joined: refused unless they are exactly the selected items, each once
        (an item two shards ran is named, and whether their answers agree)
      → <out>/samples.jsonl (the shards' lines, byte for byte, by shard index)
      → results.json recomputed from those samples (the shards' own results are not used)
      → shards/shard-<i>.log (each shard's run.log), run.log (what the merge printed)
      → record.json: the shards' common record with the merged run's id, results, files,
        times, `shards` (each shard's run id, rig and the sha256 of its log, samples, record)
        and `endpoints` (every shard's, each once)

The item set is the pinned data's (datasets/coverage.py) for a run of the whole benchmark; a
run of a slice (--limit, --sample, data rla knows no item set for) is checked against the
selection rebuilt from the data, as `rla bench` made it.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from runlocalai_bench import __version__
from runlocalai_bench.datasets.coverage import ItemSet, Sampled, coverage_reasons, pinned_item_set
from runlocalai_bench.errors import ConfigError, RlaError, RunDirError
from runlocalai_bench.evals import Eval, load_eval
from runlocalai_bench.pipeline import select_items
from runlocalai_bench.redact import redact
from runlocalai_bench.report import write_run_report
from runlocalai_bench.results import rundir, runlog
from runlocalai_bench.results.record import (
    file_hashes,
    load_record,
    results_json,
    rla_git_commit,
)
from runlocalai_bench.results.recordtypes import Record, Scored, ShardRun
from runlocalai_bench.results.sampleline import iter_sample_lines
from runlocalai_bench.results.store import RunIndex, RunRow
from runlocalai_bench.types import DataSource, Results, SampleResult, to_dict

SHARD_LOG = "shards/shard-{index}.log"


@dataclass(frozen=True)
class Shard:
    run: rundir.RunDir
    record: Record
    body: Scored


@dataclass(frozen=True)
class Merged:
    run: rundir.RunDir
    results: Results
    lines: tuple[str, ...]  # what the merge printed, as run.log holds it


class MergeError(ConfigError):
    """Shards that cannot be one row; the message names the field or the items."""


# -- the pure checks -------------------------------------------------------------------------


def row_fields(record: Record) -> dict[str, Any]:
    """Everything that defines a leaderboard row (a row is one rig), by its record path: two
    shards of one row agree on all of them."""
    body = record.body
    assert isinstance(body, Scored)
    model, runtime, request = record.model, record.runtime, record.request
    return {
        "benchmark.slug": record.benchmark.slug,
        "benchmark.spec_sha256": record.benchmark.spec_sha256,
        "benchmark.prompt_style": record.benchmark.prompt_style,
        "dataset.content_sha256": body.dataset.content_sha256,
        "dataset.pinned": body.dataset.pinned,
        "model.file_sha256": model.file_sha256,
        "model.quantization": model.quantization,
        "model.slug": model.slug,
        "model.chat_template_sha256": model.chat_template_sha256,
        "runtime.engine": runtime.engine,
        "runtime.version": runtime.version,
        "runtime.build": runtime.build,
        "runtime.slots": runtime.slots,
        "runtime.n_ctx": runtime.n_ctx,
        "runtime.settings": dict(runtime.settings),
        "runtime.sampler_defaults": dict(runtime.sampler_defaults),
        "runtime.concurrency": runtime.concurrency,
        "sampling.sent": dict(record.sampling.sent),
        "sampling.settings": record.sampling.settings,
        "hardware.hardware_slug": record.hardware.hardware_slug,
        "rig": record.rig,
        "request.limit": request.limit if request else None,
        "request.limit_per_subtask": request.limit_per_subtask if request else None,
        "request.n_ctx": request.n_ctx if request else None,
        "batching.batched": body.batching.batched if body.batching else None,
        "shard.count": body.shard.count if body.shard else None,
        "shard.partition": body.shard.partition if body.shard else None,
    }


def row_differences(shards: Sequence[Shard]) -> list[str]:
    """Each row-defining field in which a shard differs from the first, naming both."""
    first = row_fields(shards[0].record)
    out = []
    for shard in shards[1:]:
        for name, value in row_fields(shard.record).items():
            if value != first[name]:
                out.append(f"{name}: {_short(first[name])} in {shards[0].run.id}, "
                           f"{_short(value)} in {shard.run.id}")
    return out


def index_reasons(shards: Sequence[Shard]) -> list[str]:
    """Every shard index of the partition given exactly once."""
    count = shards[0].body.shard.count if shards[0].body.shard else 0
    seen: dict[int, list[str]] = {}
    for shard in shards:
        assert shard.body.shard is not None
        seen.setdefault(shard.body.shard.index, []).append(shard.run.id)
    out = [f"shard {i}/{count} is given {len(ids)} times ({', '.join(ids)})"
           for i, ids in sorted(seen.items()) if len(ids) > 1]
    missing = [str(i) for i in range(count) if i not in seen]
    if missing:
        out.append(f"shard(s) {', '.join(missing)} of {count} are missing")
    return out


@dataclass(frozen=True)
class Answer:
    shard: str
    subtask: str
    extracted: Any
    score: float


def repeated_items(answers: Mapping[str, Sequence[Answer]]) -> list[str]:
    """Items that more than one shard ran: those whose answers differ, named with each
    answer (a free cross-machine determinism check), then how many agree."""
    twice = {i: a for i, a in answers.items() if len(a) > 1}
    differ = sorted(i for i, a in twice.items()
                    if len({(x.extracted, x.score) for x in a}) > 1)
    out = [f"{i} was answered differently: " + "; ".join(
        f"{_short(x.extracted)} (score {x.score:g}) in {x.shard}" for x in twice[i])
        for i in differ[:5]]
    if len(differ) > 5:
        out.append(f"… and {len(differ) - 5} more items answered differently")
    if len(twice) > len(differ):
        out.append(f"{len(twice) - len(differ)} item(s) appear in more than one shard with the"
                   " same answer (e.g. " + min(set(twice) - set(differ)) + ")")
    return out


def selection_reasons(got: Sequence[Sampled], expected: Sequence[str]) -> list[str]:
    """The joined samples against the selection's ids (a slice's run)."""
    have, want = {s.id for s in got}, set(expected)
    out = []
    if want - have:
        missing = sorted(want - have)
        out.append(f"{len(missing)} selected item(s) are in no shard (e.g. {missing[0]})")
    if have - want:
        extra = sorted(have - want)
        out.append(f"{len(extra)} sample(s) are not of the selection (e.g. {extra[0]})")
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- the merge -------------------------------------------------------------------------------


def read_shard(path: Path) -> Shard:
    """A finished shard's run directory: its record, its files as recorded."""
    run = rundir.RunDir(path)
    if not path.is_dir():
        raise RunDirError(f"{path} is not a run directory", hint="pass each shard's run dir")
    record = load_record(run.record)
    if not isinstance(record.body, Scored) or record.body.shard is None:
        raise MergeError(f"{run.id} is not a shard: its record has no `shard`",
                         hint="rla merge joins runs of `rla bench SLUG --shard i/N`")
    for name, sha in record.files.items():
        if not (path / name).is_file() or rundir.sha256_file(path / name) != sha:
            raise MergeError(f"{run.id}'s {name} changed after its record was written",
                             hint="merge only shards' own files; rerun that shard")
    return Shard(run=run, record=record, body=record.body)


def merge_shards(paths: Sequence[Path], out: Path, *, argv: Sequence[str] = (),
                 data_dir: Path | None = None, index_path: Path | None = None) -> Merged:
    """The merged run directory at `out`, listed in the run index at `index_path` (when given)
    like a finished `rla bench` run; MergeError naming what keeps the shards from one row."""
    if not paths:
        raise MergeError("no shards to merge", hint="rla merge SHARD_DIR… -o RUN_DIR")
    shards = sorted((read_shard(p) for p in paths),
                    key=lambda s: (s.body.shard.index if s.body.shard else 0, s.run.id))
    _refuse("the shards are not of one row", row_differences(shards),
            "a row is one model, quantization, runtime, data pin, spec, sampling and rig:"
            " rerun the odd shard on the same rig")
    eval_ = load_eval(shards[0].record.benchmark.slug)
    try:
        answers: dict[str, list[Answer]] = {}
        lines: list[SampleResult] = []  # what aggregation reads: no prompt or response text
        for shard in shards:
            for line in iter_sample_lines(shard.run.samples):
                result = replace(line.result(), prompt="", response="")
                lines.append(result)
                answers.setdefault(result.id, []).append(Answer(
                    shard.run.id, result.subtask, result.extracted, result.score))
        sampled = [Sampled(id=i, subtask=a[0].subtask) for i, a in answers.items()]
        _refuse("the shards overlap", repeated_items(answers),
                "each item belongs to one shard: merge one run of each shard index")
        _refuse("the shards do not make up the run", index_reasons(shards),
                "pass one finished run directory for each shard index")
        _refuse("the shards do not cover the selected items",
                _coverage(shards[0], eval_, sampled, data_dir),
                "merge every shard of the run, each finished (--resume an unfinished one)")
        merged = _write(shards, eval_, lines, out, argv)
    finally:
        eval_.close()
    if index_path is not None:
        _index(merged, shards, index_path)
    return merged


def _index(merged: Merged, shards: Sequence[Shard], index_path: Path) -> None:
    record, results = load_record(merged.run.record), merged.results
    RunIndex(index_path).upsert(RunRow(
        id=merged.run.id, slug=record.benchmark.slug, path=str(merged.run.path.resolve()),
        # not resumable, so no settings hash guards it: its record's sha256 names it instead
        status="complete", fingerprint=rundir.sha256_file(merged.run.record),
        started_at=min(s.body.timings.started_at for s in shards),
        finished_at=max(s.body.timings.finished_at for s in shards),
        model=record.model.id or record.model.path, runtime=record.runtime.slug,
        hardware=record.hardware.hardware_slug, score=results.score, n=results.n,
        expected_n=results.expected_n, partial=results.partial))


def _refuse(what: str, reasons: Sequence[str], hint: str) -> None:
    if reasons:
        raise MergeError(f"{what}: {'; '.join(reasons)}", hint=hint)


def _coverage(first: Shard, eval_: Eval, sampled: Sequence[Sampled],
              data_dir: Path | None) -> list[str]:
    """Every way the joined samples are not the selected items, each once."""
    request, pin = first.record.request, first.body.dataset
    whole = request is None or (request.limit is None and request.limit_per_subtask is None)
    expected = pinned_item_set(eval_.spec.data, pin.content_sha256)
    if whole and isinstance(expected, ItemSet):
        return coverage_reasons(sampled, expected)
    source = (DataSource(kind="dir", path=str(data_dir), allow_unpinned=True) if data_dir
              else request.data if request and request.data else DataSource())
    try:
        dataset = eval_.load(source)
    except (RlaError, OSError) as exc:
        raise MergeError(f"the shards' selection cannot be rebuilt: {exc}",
                         hint="pass --data-dir with a local copy of the data") from exc
    if dataset.pin.content_sha256 != pin.content_sha256:
        return [f"the data at hand hashes to {dataset.pin.content_sha256[:12]}, the shards ran"
                f" {pin.content_sha256[:12]}"]
    items = select_items(dataset.items, request.limit if request else None,
                         request.limit_per_subtask if request else None)
    return selection_reasons(sampled, [i.id for i in items])


def _write(shards: Sequence[Shard], eval_: Eval, lines: Sequence[SampleResult], out: Path,
           argv: Sequence[str]) -> Merged:
    """The merged run directory; `lines`: the shards' samples in shard order, as written."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunDirError(f"{out} already exists and is not an empty directory",
                          hint="name a new directory with -o")
    run = rundir.RunDir(out)
    try:
        (out / "shards").mkdir(parents=True)
    except OSError as exc:
        raise RunDirError(f"cannot create {out}: {exc.strerror}",
                          hint="pass -o with a folder you can write to") from exc
    with run.samples.open("wb") as fh:
        for shard in shards:
            with shard.run.samples.open("rb") as src:
                shutil.copyfileobj(src, fh)
    for shard in shards:
        assert shard.body.shard is not None
        shutil.copyfile(shard.run.run_log, out / SHARD_LOG.format(index=shard.body.shard.index))
    expected_n = sum(s.body.results.expected_n for s in shards)
    results = eval_.aggregate(lines, expected_n=expected_n)
    results = replace(results, expected_n=expected_n,
                      partial=results.partial or _slice(shards[0]))
    rundir.write_json_atomic(run.results, to_dict(results))
    started = min(s.body.timings.started_at for s in shards)
    finished = max(s.body.timings.finished_at for s in shards)
    printed = tuple(_log_lines(shards, results, lines, argv, run.id))
    title = runlog.Title(version=__version__, run_id=run.id, started_at=started)
    run.run_log.write_text("\n".join([title.line(), *printed,
                                      runlog.closing_line(finished)]) + "\n", encoding="utf-8")
    record = _record(shards, run, results, argv, started, finished)
    rundir.write_json_atomic(run.record, record.to_json())
    write_run_report(run.path)
    return Merged(run=run, results=results, lines=printed)


def _slice(shard: Shard) -> bool:
    request = shard.record.request
    return (shard.body.dataset.source == "bundled" or request is None
            or request.limit is not None or request.limit_per_subtask is not None)


def _log_lines(shards: Sequence[Shard], results: Results, lines: Sequence[SampleResult],
               argv: Sequence[str], run_id: str) -> Iterator[str]:
    session = runlog.last_session(shards[0].run.run_log.read_text(
        encoding="utf-8", errors="replace").splitlines())
    head = runlog.fields(session, ("benchmark", "rig", "model", "data", "prompt", "scoring"))
    yield runlog.field_line("command", redact(shlex.join(argv)) if argv else "(api)")
    for name in ("benchmark", "rig", "model", "data", "prompt", "scoring"):
        if name in head:
            yield runlog.field_line(name, head[name])
    for shard in shards:
        assert shard.body.shard is not None
        of = shard.body.shard
        yield runlog.field_line("shard", f"{of.index}/{of.count}: run {shard.run.id},"
                                f" {shard.record.rig}, n={shard.body.results.n}, log sha256"
                                f" {shard.record.files[rundir.RUN_LOG][:12]}")
    yield runlog.field_line("samples", runlog.samples_value(results.expected_n, 0))
    yield runlog.ProgressLine(done=len(lines), total=results.expected_n, elapsed_s=0.0,
                              rate=0.0, errors=0, final=True).line()
    yield runlog.ScoredHeadline.of(results).line()
    yield f"merged {len(shards)} shards into run {run_id}"


def _record(shards: Sequence[Shard], run: rundir.RunDir, results: Results,
            argv: Sequence[str], started: str, finished: str) -> Record:
    base = shards[0].record.to_json()
    reproduce = shlex.split(base["command"]["reproduce"])
    if "--shard" in reproduce:  # the whole run's command
        at = reproduce.index("--shard")
        del reproduce[at:at + 2]
    wall = sum(s.body.timings.wall_s for s in shards)
    engine = [s.body.timings.engine_s for s in shards]
    base.update({
        "run_id": run.id,
        "results": results_json(results),
        "rla": {"version": __version__, "git_commit": rla_git_commit()},
        "command": {"reproduce": shlex.join(reproduce),
                    "invoked": redact(shlex.join(argv)) if argv else None},
        "shard": None,
        "shards": [to_dict(_shard_run(s)) for s in shards],
        "endpoints": list(dict.fromkeys(url for s in shards for url in s.body.endpoints or ())),
        "timings": {"started_at": started, "finished_at": finished, "wall_s": round(wall, 3),
                    "engine_s": None if any(e is None for e in engine)
                    else round(sum(e or 0.0 for e in engine), 3)},
        "files": {**file_hashes(run), **{
            SHARD_LOG.format(index=i): rundir.sha256_file(run.path / SHARD_LOG.format(index=i))
            for i in sorted(s.body.shard.index for s in shards if s.body.shard)}},
        "test_run_log_url": None, "gist": None, "submitter": None, "notes": "",
    })
    return Record.from_json(base, "the merged record")


def _shard_run(shard: Shard) -> ShardRun:
    of = shard.body.shard
    assert of is not None
    return ShardRun(
        index=of.index, count=of.count, partition=of.partition, run_id=shard.run.id,
        rig=shard.record.rig, log=SHARD_LOG.format(index=of.index),
        log_sha256=shard.record.files[rundir.RUN_LOG],
        samples_sha256=shard.record.files[rundir.SAMPLES],
        record_sha256=rundir.sha256_file(shard.run.record), n=shard.body.results.n,
        started_at=shard.body.timings.started_at, finished_at=shard.body.timings.finished_at)
