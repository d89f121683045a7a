"""`rla bench speed`, start to finish:

    config → streamer (server probe or in-process model) → prompt → rig → run directory
           → warm-up (logged, discarded) → measured set → spread ≥ threshold? re-run the set
           → summary, verdict, ceiling and consistency checks → record.json → run index

Run directory: config.json, run.log (everything printed), runs/warmup-1.log, runs/run-1.log …
(one per run, each the run's full output, engine timings and arrival times), record.json. The
run directory, index row and run.log capture are the lifecycle every run shares
(results/lifecycle.py); a speed run plugs its measuring and record into it (`_SpeedRun`).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from runlocalai_bench import __version__
from runlocalai_bench.backends.base import Experts, SpeedRequest, Streamer
from runlocalai_bench.config import RunConfig
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.report import write_run_report
from runlocalai_bench.results import lifecycle, rundir, runlog, speedlogs
from runlocalai_bench.results.capture import RunLog
from runlocalai_bench.rig import bandwidth_ceiling
from runlocalai_bench.speed.measure import Measurement, RawRun, measure
from runlocalai_bench.speed.plausibility import (
    Ceiling,
    Check,
    ceiling,
    check_run,
    generation_check,
)
from runlocalai_bench.speed.protocol import needs_rerun, summarize, verdict
from runlocalai_bench.speed.record import RunEntry, build_speed_record
from runlocalai_bench.speed.spec import SpeedPlan
from runlocalai_bench.types import RigInfo, RuntimeInfo

RUNS_DIR = "runs"


class SpeedUI(Protocol):
    def begin(self, log: RunLog, header: Sequence[str]) -> None: ...

    def run_done(self, label: str, measurement: Measurement, counted: bool) -> None: ...

    def note(self, line: str) -> None: ...

    def end(self, record: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class SpeedOutcome:
    run: rundir.RunDir
    record: Mapping[str, Any]

    @property
    def refusals(self) -> list[str]:
        return list(self.record["speed"]["refusals"])


# -- pure helpers --------------------------------------------------------------------------


def exact_prompt(tokenize: Callable[[str], list[int] | None], text: str,
                 n_tokens: int) -> list[int] | None:
    """`text` repeated (newline-separated) and cut to exactly `n_tokens` tokens, BOS included;
    None when the engine cannot tokenize."""
    one = tokenize(text)
    if one is None:
        return None
    if not one:
        raise ConfigError("the prompt tokenizes to nothing", hint="pass a non-empty --prompt")
    copies = max(1, math.ceil(n_tokens / len(one)))
    while True:
        tokens = tokenize("\n".join([text] * copies))
        if tokens is None:
            return None
        if len(tokens) >= n_tokens:
            return tokens[:n_tokens]
        copies += 1


def run_settings(config: RunConfig, plan: SpeedPlan, runtime: RuntimeInfo,
                 prompt: Mapping[str, Any]) -> dict[str, Any]:
    """What decides what a speed run measures; its hash names the run."""
    return {
        "slug": "speed",
        "spec_sha256": plan.spec_sha256,
        "profile": plan.profile,
        "prompt_sha256": prompt["sha256"],
        "prompt_tokens": plan.prompt_tokens,
        "n_predict": plan.n_predict,
        "ignore_eos": plan.ignore_eos,
        "split": plan.split,
        "engine": runtime.engine,
        "model": runtime.model.id or runtime.model.path,
        "model_sha256": runtime.model.sha256,
        "seed": config.sampling.seed,
        "n_ctx": config.n_ctx if config.in_process else None,
        "n_threads": config.n_threads if config.in_process else None,
    }


def run_log_text(label: str, stamp: str, parts: Sequence[tuple[str, Mapping[str, Any], RawRun]],
                 m: Measurement) -> str:
    """One run's own log: for each request (a split run has a prefill and a decode request)
    what was asked, the full output, the engine's timings as sent and the arrival times; then
    the figures derived from them (the layout is results/speedlogs.py's)."""
    sections = [speedlogs.RequestSection(
        name=name, request=request, output=raw.text, finish_reason=raw.finish_reason,
        engine_format=raw.engine_format, engine=raw.engine, prompt_tokens=raw.prompt_tokens,
        completion_tokens=raw.completion_tokens, arrivals_ms=raw.arrivals_ms,
        total_ms=raw.total_ms) for name, request, raw in parts]
    derived = speedlogs.DerivedFigures(
        decode_tps=m.decode_tps, decode_source=m.decode_source, prefill_tps=m.prefill_tps,
        prefill_source=m.prefill_source, ttft_ms=m.ttft_ms, prompt_tokens=m.prompt_tokens,
        generated_tokens=m.generated_tokens,
        engine_decode_tps=m.engine.decode_tps if m.engine else None,
        stream_decode_tps=m.stream.decode_tps)
    return speedlogs.text(speedlogs.title(__version__, label, stamp), sections, derived)


def rig_ceiling(rig: RigInfo, runtime: RuntimeInfo, plan: SpeedPlan,
                experts: Experts) -> Ceiling:
    bandwidth = bandwidth_ceiling(rig)
    sources = sorted({g.bandwidth_source or "unknown" for g in rig.gpus if g.slug})
    return ceiling(bandwidth, "+".join(sources) if bandwidth else None, runtime.model.size_bytes,
                   factor=plan.ceiling_factor, expert_count=experts.count,
                   expert_used_count=experts.used, hw_class=rig.hw_class,
                   cpu_family=rig.cpu.family)


# -- the run -------------------------------------------------------------------------------


def run_speed(
    config: RunConfig,
    plan: SpeedPlan,
    ui: SpeedUI,
    *,
    open_streamer: Callable[[RunConfig], Streamer],
    detect_rig: Callable[[], RigInfo],
) -> SpeedOutcome:
    streamer = open_streamer(config)
    try:
        return _run(config, plan, ui, streamer, detect_rig)
    finally:
        streamer.close()


def _run(config: RunConfig, plan: SpeedPlan, ui: SpeedUI, streamer: Streamer,
         detect_rig: Callable[[], RigInfo]) -> SpeedOutcome:
    runtime = streamer.runtime
    request, prefill, prompt = _request(config, plan, streamer)
    rig = detect_rig()
    run_plan = lifecycle.RunPlan(
        slug="speed", settings=run_settings(config, plan, runtime, prompt),
        model=runtime.model.id or runtime.model.path, runtime=runtime.slug,
        hardware=rig.hardware_slug, expected_n=plan.measured_runs, subdirs=(RUNS_DIR,),
    )
    kind = _SpeedRun(config=config, plan=plan, ui=ui, streamer=streamer, rig=rig,
                     request=request, prefill=prefill, prompt=prompt)
    run, _, finished = lifecycle.execute(config, run_plan, kind)
    write_run_report(run.path)
    return SpeedOutcome(run=run, record=finished.record)


@dataclass(frozen=True)
class _Measured:
    record: dict[str, Any]
    counted: int


@dataclass(frozen=True)
class _SpeedRun:
    """A speed run's part of the lifecycle: the warm-up, the measured sets (re-run while their
    spread reaches the threshold), the checks and the record; once run.log is closed, its
    hash joins the record."""

    config: RunConfig
    plan: SpeedPlan
    ui: SpeedUI
    streamer: Streamer
    rig: RigInfo
    request: SpeedRequest
    prefill: SpeedRequest | None
    prompt: dict[str, Any]

    def work(self, started: lifecycle.Started, log: RunLog) -> _Measured:
        plan, streamer, request, prefill = self.plan, self.streamer, self.request, self.prefill
        run, runtime, ui = started.run, streamer.runtime, self.ui
        cap = rig_ceiling(self.rig, runtime, plan, streamer.experts)
        wall_start = time.perf_counter()
        entries: list[RunEntry] = []
        ui.begin(log, _header(plan, runtime, self.rig, self.prompt, cap))

        def one(label: str, attempt: int) -> RunEntry:
            parts = []
            if prefill is not None:
                parts.append(("prefill", streamer.body(prefill), streamer.stream(prefill)))
            raw = streamer.stream(request)
            parts.append(("decode" if prefill else "generation", streamer.body(request), raw))
            if prefill is not None:
                raw = replace(raw, prefill=parts[0][2])
            m = measure(raw)
            path = run.path / RUNS_DIR / f"{label}.log"
            path.write_text(run_log_text(label, lifecycle.now(), parts, m), encoding="utf-8")
            entry = RunEntry(label=label, attempt=attempt, counted=False,
                             log=f"{RUNS_DIR}/{path.name}",
                             log_sha256=rundir.sha256_file(path), raw=raw, measurement=m)
            ui.run_done(label, m, attempt > 0)
            return entry

        for i in range(1, plan.warmup_runs + 1):
            entries.append(one(f"warmup-{i}", 0))
        attempt, number = 0, 0
        while True:
            attempt += 1
            batch = []
            for _ in range(plan.measured_runs):
                number += 1
                batch.append(one(f"run-{number}", attempt))
            entries.extend(batch)
            rates = [e.measurement.decode_tps for e in batch]
            if not needs_rerun(rates, plan.spread_threshold) or attempt > plan.max_reruns:
                break
            ui.note(f"decode spread of set {attempt} reached"
                    f" {plan.spread_threshold:.0%}: re-running the set"
                    f" ({attempt}/{plan.max_reruns})")
        counted = [replace(e, counted=True) if e.attempt == attempt else e for e in entries]
        measured = [e.measurement for e in counted if e.counted]
        summary = summarize(measured)
        result = verdict(summary, required_runs=plan.measured_runs,
                         threshold=plan.spread_threshold)
        checks: list[Check] = []
        for e in counted:
            if e.counted:
                checks.extend(check_run(e.label, e.measurement, cap, plan.consistency))
                short = generation_check(e.label, e.measurement, plan.n_predict)
                checks.extend([short] if short else [])
        logs_sha = rundir.sha256_files([run.path / e.log for e in counted if e.counted])
        record = build_speed_record(
            run=run, config=self.config, plan=plan, runtime=runtime, rig=self.rig,
            experts=streamer.experts, prompt=self.prompt, sent=streamer.body(request),
            entries=counted, summary=summary, verdict=result, attempts=attempt, cap=cap,
            checks=checks, logs_sha256=logs_sha, started_at=started.started_at,
            finished_at=lifecycle.now(), wall_s=time.perf_counter() - wall_start,
        )
        ui.end(record)
        return _Measured(record=record, counted=len(measured))

    def finish(self, started: lifecycle.Started, work: _Measured) -> lifecycle.Finished:
        record = work.record
        record["files"][rundir.RUN_LOG] = rundir.sha256_file(started.run.run_log)
        return lifecycle.Finished(record=record, finished_at=record["timings"]["finished_at"],
                                  columns={"n": work.counted, "partial": False})


def _request(config: RunConfig, plan: SpeedPlan, streamer: Streamer
             ) -> tuple[SpeedRequest, SpeedRequest | None, dict[str, Any]]:
    """The request each run sends, the separate prefill request of a split profile, and the
    prompt as the record describes it."""
    seed = config.sampling.seed
    if plan.prompt_tokens is None:
        request = SpeedRequest(n_predict=plan.n_predict, ignore_eos=plan.ignore_eos, seed=seed,
                               prompt=plan.prompt)
        return request, None, {"text": plan.prompt, "tokens": None, "exact": False,
                               "sha256": hashlib.sha256(plan.prompt.encode()).hexdigest()}
    ids = exact_prompt(streamer.tokenize, plan.prompt, plan.prompt_tokens)
    if ids is None:
        raise ConfigError(
            f"profile {plan.profile} needs a prompt of exactly {plan.prompt_tokens} tokens, and"
            f" {streamer.runtime.engine} cannot tokenize for rla",
            hint="use --profile standard, or run llama-server or --model-path")
    info = {"text": plan.prompt, "tokens": len(ids), "exact": True,
            "construction": "text repeated on new lines, cut to the token count",
            "sha256": hashlib.sha256(json.dumps(ids).encode()).hexdigest(),
            "split": plan.split}
    if not plan.split:
        return SpeedRequest(n_predict=plan.n_predict, ignore_eos=plan.ignore_eos, seed=seed,
                            token_ids=tuple(ids)), None, info
    # llama-bench's pp and tg: the prompt for one token, then decoding after its first token.
    prefill = SpeedRequest(n_predict=1, ignore_eos=plan.ignore_eos, seed=seed,
                           token_ids=tuple(ids))
    decode = SpeedRequest(n_predict=plan.n_predict, ignore_eos=plan.ignore_eos, seed=seed,
                          token_ids=tuple(ids[:1]))
    return decode, prefill, info


def _header(plan: SpeedPlan, runtime: RuntimeInfo, rig: RigInfo, prompt: Mapping[str, Any],
            cap: Ceiling) -> list[str]:
    model = runtime.model
    size = f", {model.size_bytes / 1e9:.3f} GB" if model.size_bytes else ""
    shape = (f"{prompt['tokens']} tokens (exact)" if prompt.get("exact")
             else repr(plan.prompt))
    if plan.split:
        shape += " for one token, then decode after its first token alone"
    field = runlog.field_line
    return [
        field("benchmark", runlog.speed_benchmark_value("speed", plan.profile,
                                                        plan.spec_sha256)),
        field("rig", f"{runtime.slug} {rig.hardware_slug}"),
        field("model", f"{model.id or model.path or '?'}"
              + (f" ({model.quantization}{size})" if model.quantization else size)),
        field("prompt", f"{shape}; generate {plan.n_predict} tokens"
              + ("" if plan.ignore_eos else ", stop at end of text")),
        field("protocol", f"{plan.warmup_runs} warm-up, {plan.measured_runs} measured runs,"
              f" re-run at spread ≥ {plan.spread_threshold:.0%} (at most {plan.max_reruns}x)"),
        field("ceiling", f"{cap.limit_tps:.1f} tok/s ({cap.basis})" if cap.limit_tps
              else f"not checked: {cap.basis}"),
    ]
