"""The leaderboard submission: a pure function of the published record and the hashes of the
Gist's files (publish/evidence.py reads them back), shaped by
`runlocalai_bench/schemas/submission-v2.json` for a scored run and `speed-submission-v2.json` for
a speed run (`rla schema NAME`; docs/submission-api.md).

Every field the leaderboard's contract asks for is here: the Gist URL, the exact reproduction
command, model slug and quantization, runtime and version, hardware slug (with the hardware as a
union on `hw_class`), the sampling sent, the rla version and commit, and the submitter handle
(null: anonymous). A scored run adds the per-subtask breakdown and the dataset pin; a speed run
adds the capture protocol's figures, every counted run with the engine's own timing object, the
sha256 of the concatenated run logs, the memory-bandwidth ceiling, and the driver, runtime and OS.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runlocalai_bench import __version__
from runlocalai_bench.publish.notes import clean_field
from runlocalai_bench.redact import redact_tree
from runlocalai_bench.results import compact
from runlocalai_bench.results.jsontypes import encode
from runlocalai_bench.results.recordtypes import Record, Score, Scored, Speed, SpeedRun
from runlocalai_bench.schemas import SPEED_KIND
from runlocalai_bench.speed.protocol import Stat
from runlocalai_bench.types import RigInfo

SUBMISSION_VERSION = 2
_GB = 1e9


@dataclass(frozen=True)
class Evidence:
    """What the Gist holds, as fetched when the payload was built: the sha256 of its record.json
    (None only for a run not yet published, which the gate refuses) and of every file."""

    record_sha256: str | None
    files: Mapping[str, str]


def idempotency_key(record: Record, evidence: Evidence) -> str:
    """The same run always gets the same key, so a retried or repeated submit never counts
    twice: the whole published record (its sha256), the run's id, its methodology and the
    hashes of its log, samples and results. Any other published record is another key."""
    basis = {
        "run_id": record.run_id,
        "spec_sha256": record.benchmark.spec_sha256,
        "files": dict(record.files),
        "record_sha256": evidence.record_sha256,
    }
    blob = json.dumps(basis, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"rla-submission-v{SUBMISSION_VERSION}\n{blob}".encode()).hexdigest()


def build_payload(record: Record, evidence: Evidence, *, handle: str | None,
                  notes: str) -> dict[str, Any]:
    """The submission for one record. `handle` and `notes` must already be checked and cleaned
    (cli/submit.py does); the result is redacted once more as a last line of defence."""
    if isinstance(record.body, Speed):
        return _speed_payload(record, record.body, evidence, handle=handle, notes=notes)
    return _scored_payload(record, record.body, evidence, handle=handle, notes=notes)


def _scored_payload(record: Record, body: Scored, evidence: Evidence, *, handle: str | None,
                    notes: str) -> dict[str, Any]:
    results, dataset = body.results, body.dataset
    gist_files = record.gist.files if record.gist is not None else {}
    payload: dict[str, Any] = {
        **_head(record, "quality", evidence),
        "score": {
            "value": results.score,
            "stderr": results.stderr,
            "macro": results.macro,
            "n": results.n,
            "expected_n": results.expected_n,
            "counts": dict(results.counts),
        },
        "subtasks": _rows(results.subtasks),
        "categories": _rows(results.categories),
        **_rig_blocks(record),
        "dataset": {
            "id": dataset.dataset,
            "revision": dataset.revision,
            "content_sha256": dataset.content_sha256,
            "pinned": dataset.pinned,
            "source": dataset.source,
        },
        "sampling": _sampling(record),
        "reproduction": _reproduction(record),
        "evidence": {
            **_evidence_head(record, evidence),
            "samples_sha256": record.files["samples.jsonl"],
            "results_sha256": record.files["results.json"],
            # whole, or in compact parts (results/compact.py)
            "samples_in_gist": "samples.jsonl" in gist_files or bool(
                compact.part_names(gist_files)),
        },
        "timings": encode(body.timings),
        "submitter": {"handle": handle},
        "notes": notes,
    }
    return redact_tree(payload)  # type: ignore[no-any-return]


def _speed_payload(record: Record, body: Speed, evidence: Evidence, *, handle: str | None,
                   notes: str) -> dict[str, Any]:
    """A hardware row: the capture protocol's figures with the evidence behind them."""
    speed = body.speed
    summary, plaus, env = speed.summary, speed.plausibility, speed.environment
    payload: dict[str, Any] = {
        **_head(record, SPEED_KIND, evidence),
        "speed": {
            "profile": speed.profile,
            "prompt_sha256": speed.prompt["sha256"],
            "prompt_tokens": summary.prompt_tokens,
            "n_predict": speed.n_predict,
            "batch": record.runtime.concurrency,
            "decode_tps": _stat(summary.decode_tps),
            "prefill_tps": _stat(summary.prefill_tps),
            "ttft_ms": _stat(summary.ttft_ms),
            "generated_tokens": _stat(summary.generated_tokens),
            "spread": summary.spread,
            "runs": [_speed_run(run) for run in speed.runs if run.counted],
            "reproduced": speed.reproduced,
            "confidence": speed.confidence,
            "attempts": speed.attempts,
            "ceiling": {
                "bandwidth_gbps": plaus.bandwidth_gbps,
                "bandwidth_source": plaus.bandwidth_source,
                "bytes_per_token": plaus.bytes_per_token,
                "tps": plaus.tps,
                "limit_tps": plaus.limit_tps,
                "factor": plaus.factor,
                "basis": plaus.basis,
                "checked": plaus.limit_tps is not None,
            },
        },
        **_rig_blocks(record),
        "environment": encode(env),
        "sampling": _sampling(record),
        "reproduction": _reproduction(record),
        "evidence": {
            **_evidence_head(record, evidence),
            "run_logs": {name: sha for name, sha in record.files.items() if name != "run.log"},
            "logs_sha256": speed.logs_sha256,
            "logs_sha256_prefix": speed.logs_sha256_prefix,
        },
        "timings": encode(body.timings),
        "submitter": {"handle": handle},
        "notes": notes,
    }
    return redact_tree(payload)  # type: ignore[no-any-return]


def _evidence_head(record: Record, evidence: Evidence) -> dict[str, Any]:
    """The public log, the Gist's copy of the record and every file of the Gist, the same for
    every kind of run."""
    gist = record.gist
    return {
        "test_run_log_url": record.test_run_log_url,
        "gist_id": gist.id if gist is not None else None,
        "run_log_sha256": record.files["run.log"],
        "record_sha256": evidence.record_sha256,
        "files": dict(sorted(evidence.files.items())),
    }


def _head(record: Record, kind: str, evidence: Evidence) -> dict[str, Any]:
    bench = record.benchmark
    return {
        "schema_version": SUBMISSION_VERSION,
        "kind": kind,
        "idempotency_key": idempotency_key(record, evidence),
        "client": {"name": "rla", "version": record.rla.version,
                   "git_commit": record.rla.git_commit, "submitted_with": __version__},
        "benchmark": {
            "slug": bench.slug,
            "title": bench.title,
            "metric": bench.metric,
            "scoring_method": bench.scoring_method,
            "spec_sha256": bench.spec_sha256,
            "prompt_style": bench.prompt_style,
        },
    }


def _rig_blocks(record: Record) -> dict[str, Any]:
    """model, runtime, hardware and rig: what makes a row, the same for every kind."""
    model, runtime = record.model, record.runtime
    return {
        "model": {  # slug, name and family come from the GGUF or the server: free text
            "slug": clean_field(model.slug),
            "name": clean_field(model.name),
            "family": clean_field(model.family),
            "parameters": model.parameters,
            "tuning": model.tuning,
            "quantization": model.quantization,
            "file_sha256": model.file_sha256,
            "size_bytes": model.size_bytes,
        },
        "runtime": {
            "engine": runtime.engine,
            "version": runtime.version,
            "slug": runtime.slug,
            "build": runtime.build,
            "commit": runtime.commit,
            "backend": record.hardware.accelerator,
            "settings": {
                "slots": runtime.slots,
                "n_ctx": runtime.n_ctx,
                "concurrency": runtime.concurrency,
                "sampler_defaults": dict(runtime.sampler_defaults),
                "server": dict(runtime.settings),
            },
        },
        "hardware": hardware_union(record.hardware),
        "rig": record.rig,
    }


def _sampling(record: Record) -> dict[str, Any]:
    settings = record.sampling.settings
    return {
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "top_k": settings.top_k,
        "n": settings.n,
        "seed": settings.seed,
        "cache_prompt": settings.cache_prompt,
        "sent": dict(record.sampling.sent),
    }


def _reproduction(record: Record) -> dict[str, Any]:
    out = {
        "command": record.command.reproduce,
        "task_spec": record.runner.task_spec,
        "runtime_spec": record.runner.runtime_spec,
    }
    launch = record.runtime.settings.get("launch")
    if isinstance(launch, str) and launch:
        out["server_launch"] = launch  # how to start the same server, as far as it says
    return out


def _stat(stat: Stat) -> dict[str, Any]:
    return {"median": stat.median, "min": stat.minimum, "max": stat.maximum}


def _speed_run(run: SpeedRun) -> dict[str, Any]:
    metrics, raw = run.metrics, run.raw
    return {
        "label": run.label,
        "decode_tps": metrics.decode_tps,
        "decode_source": metrics.decode_source,
        "prefill_tps": metrics.prefill_tps,
        "prefill_source": metrics.prefill_source,
        "ttft_ms": metrics.ttft_ms,
        "prompt_tokens": metrics.prompt_tokens,
        "generated_tokens": metrics.generated_tokens,
        "log_sha256": run.log_sha256,
        "engine_timings_raw": raw.engine,
        "prefill_engine_timings_raw": raw.prefill.engine if raw.prefill is not None else None,
    }


def hardware_union(hardware: RigInfo) -> dict[str, Any]:
    """The rig as a union on `hw_class`: DISCRETE_GPU (gpu_name, gpu_count, vram_gb, driver,
    cuda), UNIFIED (chip, unified_memory_gb) or CPU_ONLY (cpu_name), with the OS, CPU and RAM
    every class shares."""
    cpu, os_info, gpus = hardware.cpu, hardware.os, hardware.gpus
    memory = hardware.memory_bytes
    out: dict[str, Any] = {
        "hw_class": hardware.hw_class,
        "slug": hardware.hardware_slug,
        "accelerator": hardware.accelerator,
        "ram_gb": round(memory / _GB, 1) if memory else None,
        "cpu": {"brand": cpu.brand, "vendor": cpu.vendor, "family": cpu.family,
                "cores": cpu.cores, "threads": cpu.threads},
        "os": {"system": os_info.system, "release": os_info.release, "distro": os_info.distro,
               "machine": os_info.machine},
    }
    first = gpus[0] if gpus else None
    if hardware.hw_class == "DISCRETE_GPU":
        vram = first.memory_bytes if first else None
        out.update(gpu_name=first.name if first else None, gpu_count=len(gpus),
                   vram_gb=round(vram / _GB, 1) if vram else None,
                   driver=first.driver if first else None, cuda=first.cuda if first else None,
                   rocm=first.rocm if first else None)
    elif hardware.hw_class == "UNIFIED":
        out.update(chip=(first.name if first else None) or cpu.brand,
                   unified_memory_gb=out["ram_gb"])
    else:
        out.update(cpu_name=cpu.brand)
    if hardware.declared:  # another machine's, stated with --hardware, not detected
        out["declared"] = True
    return out


def _rows(scores: Mapping[str, Score]) -> list[dict[str, Any]]:
    return [{"name": name, "category": row.category, "n": row.n, "score": row.score,
             "stderr": row.stderr} for name, row in scores.items()]
