"""One run, start to finish:

    config → rig and runtime → dataset → prompts → backend requests → scoring → results
           → run.log, samples.jsonl, results.json, record.json → run index

The pure parts (item selection, the settings fingerprint, error rows) are plain functions; the
I/O lives in `run_benchmark` and the helpers it calls. The run directory, index row, run.log
capture, interrupt and resume are the lifecycle every run shares (results/lifecycle.py); a
scored run plugs its work and record into it (`_ScoredRun`). Its requests go out over one
endpoint or several (dispatch.py), its answers are scored here as they land. The UI is a small
protocol so the CLI can draw rich progress while tests and scripts pass their own.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from runlocalai_bench import dispatch
from runlocalai_bench.backends import replicas
from runlocalai_bench.backends.base import Backend
from runlocalai_bench.config import RunConfig
from runlocalai_bench.errors import BackendError, ConfigError
from runlocalai_bench.evals import Eval, load_eval
from runlocalai_bench.redact import redact, redact_tree
from runlocalai_bench.report import write_run_report
from runlocalai_bench.results import lifecycle, rundir, runlog
from runlocalai_bench.results import record as record_mod
from runlocalai_bench.results.capture import RunLog
from runlocalai_bench.results.sampleline import SampleLine, iter_sample_lines
from runlocalai_bench.runtime import greedy
from runlocalai_bench.scoring import plausibility
from runlocalai_bench.shards import PARTITION, select_shard
from runlocalai_bench.types import (
    Dataset,
    Generation,
    Item,
    MCItem,
    Prompt,
    PromptStyle,
    Results,
    RigInfo,
    RuntimeInfo,
    SampleResult,
    to_dict,
)


class RunUI(Protocol):
    def begin(self, log: RunLog, header: Sequence[str], total: int, done: int) -> None: ...

    def advance(self, result: SampleResult) -> None: ...

    def end(self, results: Results | None, flags: Sequence[str] = ()) -> None: ...


@dataclass(frozen=True)
class RunOutcome:
    run: rundir.RunDir
    results: Results
    record: Mapping[str, Any]


# -- pure helpers --------------------------------------------------------------------------


def select_items(items: Sequence[Item], limit: int | None,
                 limit_per_subtask: int | None) -> list[Item]:
    """The slice a run covers: the first N per subtask (stratified), then the first N overall
    taken round-robin across subtasks so a small --limit still spans subjects."""
    chosen: list[Item] = list(items)
    if limit_per_subtask is not None:
        seen: dict[str, int] = defaultdict(int)
        kept = []
        for item in chosen:
            if seen[item.subtask] < limit_per_subtask:
                seen[item.subtask] += 1
                kept.append(item)
        chosen = kept
    if limit is not None and limit < len(chosen):
        by_subtask: dict[str, list[Item]] = defaultdict(list)
        for item in chosen:
            by_subtask[item.subtask].append(item)
        queues = [list(v) for v in by_subtask.values()]
        picked: list[Item] = []
        while len(picked) < limit:
            for queue in queues:
                if queue and len(picked) < limit:
                    picked.append(queue.pop(0))
        keep = {id(i) for i in picked}
        chosen = [i for i in chosen if id(i) in keep]  # original order: shared prefixes together
    return chosen


def target_of(item: Item) -> str:
    return item.answer if isinstance(item, MCItem) else item.entry_point


def error_row(item: Item, prompt: Prompt, exc: BaseException) -> SampleResult:
    """A failed request is logged as an error row, never a silent skip, and never scored: a run
    with error rows stops unfinished (`incomplete`) and --resume asks those items again."""
    return SampleResult(
        id=item.id, subtask=item.subtask, prompt=prompt.rendered(), response="",
        target=target_of(item), extracted=None, score=0.0, status="error",
        error=str(exc),
    )


def incomplete(failed: Sequence[SampleResult], n_items: int) -> BackendError:
    """A run whose requests failed for some items is not finished: it is never scored, and
    --resume asks exactly those items again."""
    first = failed[0]
    again = f"rerun the same command with --resume: it asks only those {len(failed)} again"
    refused = plausibility.context_use((), (line.error for line in failed), None).refused
    return BackendError(
        f"{len(failed)} of {n_items} requests failed, so the run is not complete (the first,"
        f" {first.id}: {first.error})",
        hint=f"{refused} exceeded the server's context: restart it with a larger context"
        f" (llama-server -c; for Ollama rla's --n-ctx sets num_ctx), then {again}" if refused
        else f"once the server answers again, {again}",
        fatal=True,
    )


def sample_line(result: SampleResult, generation: Generation | None) -> dict[str, Any]:
    """One samples.jsonl line, redacted: a prompt, reply, token or error never carries a
    secret. Only the free-text fields are scanned; numbers and keys are ours."""
    line = SampleLine.of(result, generation).to_json()
    for key in ("prompt", "response", "extracted", "error", "target"):
        if isinstance(line.get(key), str):
            line[key] = redact(line[key])
    line["details"] = redact_tree(line.get("details") or {})
    gen = line.get("generation")
    if gen is not None:
        gen["text"] = redact(gen["text"])
        for key in ("top_logprobs", "candidate_logprobs"):
            if gen[key]:
                gen[key] = [[redact(token), lp] for token, lp in gen[key]]
    return line


def result_settings(config: RunConfig, eval_: Eval, runtime: RuntimeInfo, style: PromptStyle,
                    dataset: Dataset, n_items: int) -> dict[str, Any]:
    """Everything that decides what a run computes; its hash guards `--resume`."""
    return {
        "slug": config.slug,
        "spec_sha256": eval_.spec.sha256,
        "engine": runtime.engine,
        "model": runtime.model.id or runtime.model.path,
        "model_sha256": runtime.model.sha256,
        "prompt_style": style,
        "data_source": dataset.pin.source,
        "data_sha256": dataset.pin.content_sha256,
        "limit": config.limit,
        "limit_per_subtask": config.limit_per_subtask,
        "n_items": n_items,
        "sampling": to_dict(config.sampling),
        "n_ctx": config.n_ctx if config.in_process else None,
        # only on a shard, so an unsharded run's settings (and --resume of one) are as before
        **({"shard": str(config.shard), "partition": PARTITION} if config.shard else {}),
    }


# -- the run -------------------------------------------------------------------------------


def run_benchmark(
    config: RunConfig,
    ui: RunUI,
    *,
    open_backend: Callable[[RunConfig], Backend],
    detect_rig: Callable[[], RigInfo],
) -> RunOutcome:
    outcome = _run(config, ui, open_backend=open_backend, detect_rig=detect_rig)
    # written once the run's dataset, prompts and engines are let go: the report reads the
    # samples back, and a full MMLU run's would otherwise sit in memory beside them
    write_run_report(outcome.run.path)
    return outcome


def _run(config: RunConfig, ui: RunUI, *, open_backend: Callable[[RunConfig], Backend],
         detect_rig: Callable[[], RigInfo]) -> RunOutcome:
    eval_ = load_eval(config.slug, cache_dir=config.cache_dir)
    style: PromptStyle = config.prompt_style or eval_.spec.default_style
    backends: list[Backend] = []
    scored: _ScoredRun | None = None
    try:
        for one in replicas.replica_configs(config):  # each endpoint probed
            backends.append(open_backend(one))
        runtimes = [backend.runtime() for backend in backends]
        if config.replicas:
            replicas.check_replicas(config.endpoints, runtimes)
        runtime, backend = runtimes[0], backends[0]
        dataset = eval_.load(config.data)
        items = select_shard(select_items(dataset.items, config.limit, config.limit_per_subtask),
                             config.shard)
        if not items:
            raise ConfigError("the selection holds no items",
                              hint="check --limit, --shard and the data")
        first_prompt = eval_.build_prompt(items[0], dataset, style)
        sent = backend.sent_params(first_prompt)  # a backend that cannot send it stops here
        rig = detect_rig()
        plan = lifecycle.RunPlan(
            slug=config.slug,
            settings=result_settings(config, eval_, runtime, style, dataset, len(items)),
            model=runtime.model.id or runtime.model.path, runtime=runtime.slug,
            hardware=rig.hardware_slug, expected_n=len(items),
            partial=len(items) < len(dataset.items) or dataset.pin.source == "bundled",
        )
        scored = _ScoredRun(config=config, ui=ui, eval_=eval_, style=style, backends=backends,
                            runtime=runtime, rig=rig, dataset=dataset, items=items, sent=sent)
        run, work, finished = lifecycle.execute(config, plan, scored)
        return RunOutcome(run=run, results=work.results, record=finished.record)
    finally:
        if scored is None or not scored.closed:  # they close on the event loop that used them
            asyncio.run(dispatch.close(backends))
        eval_.close()


@dataclass(frozen=True)
class _Scored:
    results: Results
    lines: list[SampleResult]
    wall_start: float


@dataclass
class _ScoredRun:
    """A scored run's part of the lifecycle: send, score and log the items not yet done, then
    aggregate into results.json; once run.log is closed, the record."""

    config: RunConfig
    ui: RunUI
    eval_: Eval
    style: PromptStyle
    backends: list[Backend]  # one per endpoint (replicas), the first the record's runtime
    runtime: RuntimeInfo
    rig: RigInfo
    dataset: Dataset
    items: list[Item]
    sent: Mapping[str, Any]
    closed: bool = False  # the backend's client, by the run's own event loop

    def work(self, started: lifecycle.Started, log: RunLog) -> _Scored:
        run, items, eval_ = started.run, self.items, self.eval_
        if started.resumed:
            rundir.drop_failed(run.samples)  # their items are asked again
        done = {line.id for line in iter_sample_lines(run.samples)} if started.resumed else set()
        todo = [item for item in items if item.id not in done]
        header = _header_lines(self.config, eval_, self.runtime, self.rig, self.dataset,
                               self.style, len(items), len(done))
        wall_start = time.perf_counter()
        self.ui.begin(log, header, total=len(items), done=len(done))
        samples_log = rundir.SampleLog(run.samples)
        try:
            asyncio.run(_execute_then_close(
                todo, lambda item: eval_.build_prompt(item, self.dataset, self.style),
                dispatch.endpoints_of(self.config.endpoints, self.backends), eval_, samples_log,
                self.ui.advance, self.config.concurrency, log.note))
            self.closed = True
        finally:
            samples_log.close()
        lines, prompt_tokens = read_back(run.samples)
        failed = [line for line in lines if line.status == "error"]
        if failed:
            self.ui.end(None)
            raise incomplete(failed, len(items))
        results = eval_.aggregate(lines, expected_n=len(items))
        results = _with_partial(results, self.dataset, len(items))
        rundir.write_json_atomic(run.results, to_dict(results))
        # quality_flags' context flags, from the lines just read rather than a second read
        n_ctx = plausibility.context_of(self.runtime.n_ctx, self.sent)
        self.ui.end(results, [
            *plausibility.quality_flags(eval_.spec.data, score=results.score, n=results.n,
                                        counts=results.counts, samples=None, n_ctx=n_ctx),
            *plausibility.context_flags(plausibility.context_use(
                prompt_tokens, (line.error for line in lines), n_ctx), n_ctx)])
        return _Scored(results=results, lines=lines, wall_start=wall_start)

    def finish(self, started: lifecycle.Started, work: _Scored) -> lifecycle.Finished:
        finished_at = lifecycle.now()
        wall_s = time.perf_counter() - work.wall_start
        record = record_mod.build_record(
            run=started.run, config=self.config, eval_spec=self.eval_.spec, style=self.style,
            runtime=self.runtime, rig=self.rig, dataset=self.dataset, results=work.results,
            samples=work.lines, sent_params=self.sent, started_at=started.started_at,
            finished_at=finished_at, wall_s=wall_s,
        )
        return lifecycle.Finished(record=record, finished_at=finished_at, columns={
            "score": work.results.score, "n": work.results.n, "partial": work.results.partial})


async def _execute_then_close(todo: Sequence[Item], prompt_for: Callable[[Item], Prompt],
                              endpoints: Sequence[dispatch.Endpoint], eval_: Eval,
                              samples_log: rundir.SampleLog,
                              on_sample: Callable[[SampleResult], None], concurrency: int,
                              note: Callable[[str], None]) -> None:
    try:
        await _execute(todo, prompt_for, endpoints, eval_, samples_log, on_sample, concurrency,
                       note)
    finally:
        await dispatch.close([endpoint.backend for endpoint in endpoints])


async def _execute(todo: Sequence[Item], prompt_for: Callable[[Item], Prompt],
                   endpoints: Sequence[dispatch.Endpoint], eval_: Eval,
                   samples_log: rundir.SampleLog, on_sample: Callable[[SampleResult], None],
                   concurrency: int, note: Callable[[str], None]) -> None:
    """Send the items over the endpoints (dispatch.py: at most `concurrency` in flight per
    endpoint, each item to whichever is free); score and log each as it lands, with up to
    max(the requests in flight, the eval's score workers) samples scoring at once while the
    next requests go out (a slow scorer, code execution, no longer holds the engine up). A
    request that failed for good (BackendError, not fatal) is an error row."""
    workers = eval_.score_workers()

    async def settle(item: Item, prompt: Prompt, generation: Generation | None,
                     error: BackendError | None) -> None:
        if generation is None:
            assert error is not None
            result = error_row(item, prompt, error)
        elif workers:
            result = await asyncio.to_thread(eval_.score, item, prompt, generation)
        else:
            result = eval_.score(item, prompt, generation)
        samples_log.append(sample_line(result, generation))
        on_sample(result)

    await dispatch.send_all(todo, prompt_for, endpoints, concurrency, settle=settle,
                            settling=max(concurrency * len(endpoints), workers), note=note)


def read_back(path: Path) -> tuple[list[SampleResult], list[int | None]]:
    """What aggregation and the record read back from samples.jsonl, and each line's prompt
    tokens (for the context flags). Prompt and response text are left empty, and the file is
    read a line at a time: on a full MMLU run they are most of its 50 MB."""
    lines, prompt_tokens = [], []
    for line in iter_sample_lines(path):
        lines.append(replace(line.result(), prompt="", response=""))
        prompt_tokens.append(line.generation.prompt_tokens if line.generation else None)
    return lines, prompt_tokens


def _with_partial(results: Results, dataset: Dataset, n_selected: int) -> Results:
    partial = (results.partial or n_selected < len(dataset.items)
               or dataset.pin.source == "bundled")
    return replace(results, partial=partial, expected_n=n_selected)


def _batching_value(slots: int | None, concurrency: int) -> str:
    server = f"the server has {slots} slots, " if slots and slots > 1 else ""
    return (f"{server}{concurrency} request(s) in flight per endpoint: requests share batches,"
            " an exploration run, not a leaderboard row")


def _header_lines(config: RunConfig, eval_: Eval, runtime: RuntimeInfo, rig: RigInfo,
                  dataset: Dataset, style: str, total: int, done: int) -> list[str]:
    model = runtime.model
    pin = dataset.pin
    return [
        runlog.field_line("command", redact(shlex.join(config.argv)) if config.argv
                          else "(api)"),
        runlog.field_line("benchmark", runlog.benchmark_value(config.slug, eval_.spec.sha256)),
        runlog.field_line("rig", f"{runtime.slug} {rig.hardware_slug}"),
        *([runlog.field_line("endpoints", f"{len(config.endpoints)} replicas: "
                             + ", ".join(redact(url) for url in config.endpoints))]
          if config.replicas else []),
        *([runlog.field_line("batching", _batching_value(runtime.slots, config.concurrency))]
          if greedy.batching(slots=runtime.slots, concurrency=config.concurrency,
                             endpoints=len(config.endpoints))["batched"] else []),
        runlog.field_line("model", f"{model.id or model.path or '?'}"
                          + (f" ({model.quantization})" if model.quantization else "")),
        runlog.field_line("data", runlog.data_value(pin.dataset, pin.source,
                                                    pin.content_sha256, pinned=pin.pinned)),
        runlog.field_line("prompt", f"{style}; greedy (temperature"
                          f" {config.sampling.temperature}, seed {config.sampling.seed},"
                          f" cache_prompt {config.sampling.cache_prompt})"),
        *eval_.describe(),
        *([runlog.field_line("shard", f"{config.shard} ({PARTITION}, from"
                             f" {config.shard.source})")] if config.shard else []),
        runlog.field_line("samples", runlog.samples_value(total, done)),
    ]
