"""`rla verify PAYLOAD.json`: a submission payload (what `rla submit` sends, or the leaderboard's
copy of it) checked against the Gist it names.

The payload's Gist (evidence.test_run_log_url) is verified like any Gist, then every field the
payload states is held to it (the `payload` check): the Gist is the one named (gist_id, the
sha256 of its record.json and of each file), and the score, subtasks, benchmark, model,
quantization, runtime, hardware, rig and dataset are the Gist's record's. The handle is not in
the evidence (the Gist's record is published before anyone submits it) and is named as such.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from runlocalai_bench import jsonio, schemas
from runlocalai_bench.errors import ConfigError, RlaError
from runlocalai_bench.publish.gistread import gist_id_from_url
from runlocalai_bench.results import compact, rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import Record, Scored, Speed
from runlocalai_bench.review.findings import Finding
from runlocalai_bench.review.source import Source
from runlocalai_bench.review.verify import VerifyReport, verify_source


def read_payload(path: Path) -> Mapping[str, Any] | None:
    """The submission payload in `path`, or None when the file is not one (a record.json)."""
    if not path.is_file() or path.suffix != ".json":
        return None
    try:
        data = jsonio.read(path)
    except RlaError:
        return None
    if isinstance(data, Mapping) and "schema_version" in data and "evidence" in data:
        return data
    return None


def payload_gist_url(payload: Mapping[str, Any]) -> str:
    evidence = payload.get("evidence")
    url = evidence.get("test_run_log_url") if isinstance(evidence, Mapping) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError("the payload names no Gist (evidence.test_run_log_url)",
                          hint="a submission payload carries its Gist's URL; pass the Gist URL"
                          " or the run directory instead")
    return url


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int) and \
            not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    return bool(a == b)


def _stated(payload: Mapping[str, Any], path: str) -> Any:
    node: Any = payload
    for key in path.split("."):
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def check_payload(payload: Mapping[str, Any], run: rundir.RunDir,
                  record: Record) -> list[Finding]:
    """Every field the payload states against the Gist's files and record (in `run`)."""
    out = [Finding("payload", "failed", error.split(": ", 1)[-1], "payload",
                   error.split(": ", 1)[0].removeprefix("$").lstrip(".") or None)
           for error in schemas.validate(payload, schemas.load_schema(
               schemas.submission_schema(payload)))]
    url = payload_gist_url(payload)
    claims: dict[str, tuple[Any, Any]] = {
        "evidence.gist_id": (_stated(payload, "evidence.gist_id"), gist_id_from_url(url)),
        "evidence.record_sha256": (_stated(payload, "evidence.record_sha256"),
                                   rundir.sha256_file(run.record)),
        "evidence.run_log_sha256": (_stated(payload, "evidence.run_log_sha256"),
                                    record.files.get(rundir.RUN_LOG)),
        "benchmark.slug": (_stated(payload, "benchmark.slug"), record.benchmark.slug),
        "benchmark.spec_sha256": (_stated(payload, "benchmark.spec_sha256"),
                                  record.benchmark.spec_sha256),
        "model.slug": (_stated(payload, "model.slug"), record.model.slug),
        "model.quantization": (_stated(payload, "model.quantization"),
                               record.model.quantization),
        "runtime.engine": (_stated(payload, "runtime.engine"), record.runtime.engine),
        "runtime.version": (_stated(payload, "runtime.version"), record.runtime.version),
        "hardware.slug": (_stated(payload, "hardware.slug"), record.hardware.hardware_slug),
        "rig": (_stated(payload, "rig"), record.rig),
    }
    files = _stated(payload, "evidence.files")
    for name in (rundir.RECORD, rundir.RUN_LOG, rundir.RESULTS, rundir.SAMPLES,
                 *compact.part_names(p.name for p in run.path.iterdir())):
        path = run.path / name
        if isinstance(files, Mapping) and name in files and path.is_file():
            claims[f"evidence.files.{name}"] = (files[name], rundir.sha256_file(path))
    if isinstance(record.body, Scored):
        results = record.body.results
        claims |= {"score.value": (_stated(payload, "score.value"), results.score),
                   "score.n": (_stated(payload, "score.n"), results.n),
                   "dataset.content_sha256": (_stated(payload, "dataset.content_sha256"),
                                              record.body.dataset.content_sha256)}
        rows = _stated(payload, "subtasks")
        stated_rows = {str(r.get("name")): r for r in rows if isinstance(r, Mapping)} \
            if isinstance(rows, list) else {}
        for name in sorted(set(stated_rows) | set(results.subtasks)):
            row, real = stated_rows.get(name, {}), results.subtasks.get(name)
            claims[f"subtasks.{name}.score"] = (row.get("score"),
                                                real.score if real else None)
            claims[f"subtasks.{name}.n"] = (row.get("n"), real.n if real else None)
    elif isinstance(record.body, Speed):
        claims["speed.decode_tps.median"] = (_stated(payload, "speed.decode_tps.median"),
                                             record.body.speed.summary.decode_tps.median)
    out += [Finding("payload", "failed", f"the payload states {stated!r}, its Gist"
                    f" {actual!r}", "payload", field)
            for field, (stated, actual) in claims.items() if not _same(stated, actual)]
    if out:
        return out
    return [Finding("payload", "ok", f"every field the payload states is its Gist's"
                    f" ({len(claims)} checked)"),
            Finding("payload", "skipped", "the submitter's handle is not in the evidence (the"
                    " Gist's record is published before it is submitted)", "payload",
                    "submitter.handle")]


def verify_payload(payload: Mapping[str, Any], source: Source, *, data_dir: Path | None = None,
                   cache_dir: Path | None = None) -> VerifyReport:
    """The payload's Gist (`source`) verified, and the payload held to it."""
    report = verify_source(source, data_dir=data_dir, cache_dir=cache_dir)
    try:
        record = load_record(source.record_path)
    except RlaError:
        return report  # the schema finding already says why
    return replace(report, origin=f"payload for {source.origin}",
                   findings=report.findings + tuple(check_payload(payload, source.run, record)))

