"""README.md of a run's Gist: the headline, the rig, the per-subtask table (a speed run: every
measured run) and how to rerun it. A pure function of the record; it names every file the Gist
holds and each one's sha256."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runlocalai_bench.publish.gist import gist_name
from runlocalai_bench.results.recordtypes import Model, Record, Scored, Speed


def _pct(value: Any) -> str:
    return f"{value * 100:.2f}%" if isinstance(value, int | float) else "?"


def _tps(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else "?"


def _ms(value: Any) -> str:
    return f"{value:.0f}" if isinstance(value, int | float) else "?"


def _provenance(record: Record, started_at: str, finished_at: str) -> list[str]:
    """The rla line and the reproduction command, the same for every kind of run."""
    return [
        f"- **rla** {record.rla.version} ({record.rla.git_commit or 'no git'});"
        f" run `{record.run_id}`, {started_at} → {finished_at}",
        "",
        "## Reproduce",
        "",
        "```sh",
        record.command.reproduce,
        "```",
        "",
    ]


def _model_name(model: Model) -> str | None:
    return model.slug or model.id


def gist_description(record: Record) -> str:
    model = record.model
    name = _model_name(model) or "model"
    quant = f" {model.quantization}" if model.quantization else ""
    if isinstance(record.body, Speed):
        speed = record.body.speed
        return (f"rla {record.benchmark.slug} ({speed.profile}): {name}{quant}"
                f" on {record.rig} {_tps(speed.summary.decode_tps.median)} tok/s decode")
    results = record.body.results
    partial = " (partial)" if results.partial else ""
    return (f"rla {record.benchmark.slug}: {name}{quant} on {record.rig}"
            f" {_pct(results.score)}{partial}")


def render_readme(record: Record, files: Mapping[str, str], omitted: Sequence[str] = ()) -> str:
    """`files`: name → sha256 of each other file in the Gist; `omitted`: why a file is not."""
    if isinstance(record.body, Speed):
        return _speed_readme(record, record.body, files)
    return _scored_readme(record, record.body, files, omitted)


def _scored_readme(record: Record, body: Scored, files: Mapping[str, str],
                   omitted: Sequence[str]) -> str:
    bench, results, model = record.benchmark, body.results, record.model
    dataset, sampling = body.dataset, record.sampling.settings
    lines = [
        f"# {bench.slug}: {_pct(results.score)}"
        f" ± {_pct(results.stderr)}" + (" (partial run)" if results.partial else ""),
        "",
        f"- **rig** `{record.rig}`",
        f"- **model** {_model_name(model) or '?'}"
        + (f" ({model.quantization})" if model.quantization else "")
        + (f", {model.parameters:,} parameters" if model.parameters else "")
        + (f", file sha256 `{model.file_sha256}`" if model.file_sha256 else ""),
        f"- **benchmark** {bench.title or bench.slug};"
        f" spec `{record.runner.task_spec}` sha256 `{bench.spec_sha256[:16]}`;"
        f" prompt style {bench.prompt_style}",
        f"- **data** {dataset.dataset} @ {dataset.revision or '?'}; content sha256"
        f" `{dataset.content_sha256[:16]}`" + ("" if dataset.pinned else " **unpinned**")
        + f"; {results.n}/{results.expected_n} samples",
        f"- **sampling** greedy: temperature {sampling.temperature}, n {sampling.n},"
        f" seed {sampling.seed}, cache_prompt {str(sampling.cache_prompt).lower()}",
        *_provenance(record, body.timings.started_at, body.timings.finished_at),
        "## Scores",
        "",
        "| subtask | category | n | score |",
        "|---|---|---:|---:|",
    ]
    for name, row in results.subtasks.items():
        lines.append(f"| {name} | {row.category or ''} | {row.n} | {_pct(row.score)} |")
    for name, row in results.categories.items():
        lines.append(f"| **{name}** | | {row.n} | {_pct(row.score)} |")
    lines.append(f"| **all (micro)** | | {results.n} | **{_pct(results.score)}** |")
    lines.append(f"| **macro** | | | {_pct(results.macro)} |")
    lines += ["", "## Files", "", "| file | sha256 |", "|---|---|"]
    for name, sha in files.items():
        lines.append(f"| {name} | `{sha}` |")
    for note in omitted:
        lines.append(f"| {note} | |")
    lines += ["", "run.log is the run's full stdout and stderr, verbatim (secrets and the home"
              " directory redacted). record.json here is the record as the run wrote it; the"
              " local copy gains this Gist's URL after upload.", ""]
    return "\n".join(lines)


def _speed_readme(record: Record, body: Speed, files: Mapping[str, str]) -> str:
    bench, model, speed = record.benchmark, record.model, body.speed
    summary, plaus, env = speed.summary, speed.plausibility, speed.environment
    decode, prefill, ttft = summary.decode_tps, summary.prefill_tps, summary.ttft_ms
    spread = summary.spread
    lines = [
        f"# {bench.slug} ({speed.profile}): {_tps(decode.median)} tok/s decode",
        "",
        f"- **rig** `{record.rig}`",
        f"- **model** {_model_name(model) or '?'}"
        + (f" ({model.quantization})" if model.quantization else "")
        + (f", {model.size_bytes:,} bytes" if model.size_bytes else "")
        + (f", file sha256 `{model.file_sha256}`" if model.file_sha256 else ""),
        f"- **protocol** spec `{record.runner.task_spec}` sha256"
        f" `{bench.spec_sha256[:16]}`; {speed.protocol.warmup_runs} warm-up discarded,"
        f" {summary.runs} counted runs, {speed.n_predict} tokens each, batch 1;"
        f" prompt sha256 `{speed.prompt['sha256'][:16]}`"
        + (f" ({summary.prompt_tokens} tokens)" if summary.prompt_tokens else ""),
        f"- **result** decode {_tps(decode.median)} tok/s (min {_tps(decode.minimum)},"
        f" max {_tps(decode.maximum)}), prefill {_tps(prefill.median)} tok/s, TTFT"
        f" {_ms(ttft.median)} ms; spread"
        f" {f'{spread:.1%}' if isinstance(spread, int | float) else '?'};"
        f" reproduced {str(speed.reproduced).lower()}, confidence {speed.confidence}",
        f"- **ceiling** {plaus.basis}",
        f"- **environment** runtime {env.runtime or '?'}, driver {env.driver or '-'},"
        f" OS {env.os or '?'}",
        f"- **logs** sha256 of the counted runs' logs concatenated: `{speed.logs_sha256}`",
        *_provenance(record, body.timings.started_at, body.timings.finished_at),
        "## Runs",
        "",
        "| run | counted | decode tok/s | prefill tok/s | TTFT ms | tokens | log |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for run in [*speed.warmup, *speed.runs]:
        m, counted = run.metrics, "yes" if run.counted else "no"
        lines.append(f"| {run.label} (set {run.attempt}) | {counted}"
                     f" | {_tps(m.decode_tps)} | {_tps(m.prefill_tps)} | {_ms(m.ttft_ms)}"
                     f" | {m.generated_tokens if m.generated_tokens is not None else '?'}"
                     f" | {gist_name(run.log)} |")
    lines += ["", "## Files", "", "| file | sha256 |", "|---|---|"]
    for name, sha in files.items():
        lines.append(f"| {name} | `{sha}` |")
    lines += ["", "run.log is the run's full stdout and stderr, verbatim; runs-*.log are each run's"
              " own output with the engine's timing object and the token arrival times (secrets"
              " and the home directory redacted). record.json here is the record as the run"
              " wrote it; the local copy gains this Gist's URL after upload.", ""]
    return "\n".join(lines)
