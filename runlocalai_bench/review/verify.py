"""`rla verify`: is a submission internally consistent and untouched since its run?

Checks, in order, each a list of findings that name the file and the field:

    schema     record.json against the record schema (the publishing code's validator)
    files      run.log, samples.jsonl, results.json hash to the sha256 in record.json
    results    results.json states the same scores as record.json
    samples    samples.jsonl has one line per scored sample, and their recorded scores
               aggregate to the claimed numbers (no data needed)
    coverage   the samples' ids are exactly the item ids of the data this rla's spec pins
               (datasets/coverage.py), whatever results.partial and expected_n say; a run
               that says it is a slice is skipped here, naming what it covers
    rescore    the recorded generations scored again by this rla's scorer on the real data
               give the same samples and the same numbers (skipped when the data is not here)
    log        run.log agrees with the record: rla version, run id, start, benchmark, rig,
               data hash, command, sample counts, headline
    signature  record.sig is a valid signature of record.json (skipped when unsigned)

A speed run (`rla bench speed`, benchmark.kind "speed") is checked against speed-record-v1 and
has its own `speed` check in place of the scored ones:

    files      run.log and every run log the record lists (runs/<label>.log) hash as recorded
    speed      `speed_gate`: every run's figures re-derived from its raw observations, the
               summary from the counted runs, the memory-bandwidth ceiling, the consistency
               checks, the environment; the counted runs' logs, concatenated, hash to
               speed.logs_sha256, and each run's log_sha256 is the one `files` lists
    results, samples, coverage, rescore   skipped: a speed run has no scored samples
    log        run.log agrees with the record (version, run, benchmark and profile, rig, each
               run's decode line, the summary, the logs' sha256), and each run's own log holds
               the raw observations the record states for it (logcheck.py)

A failed check makes the submission invalid; a skipped one is shown with why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runlocalai_bench import schemas, signing
from runlocalai_bench.errors import DataError, RlaError
from runlocalai_bench.evals import KINDS
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import Record, Scored, Speed, SpeedRun, SpeedSection
from runlocalai_bench.results.sampleline import read_sample_lines
from runlocalai_bench.review.evidence import check_compact, check_coverage
from runlocalai_bench.review.findings import Finding
from runlocalai_bench.review.logcheck import (
    check_log,
    check_run_log,
    check_shard_log,
    check_speed_run_log,
)
from runlocalai_bench.review.rescore import Rescore, eval_for, recorded_aggregate, rescore_run
from runlocalai_bench.review.scores import results_block, score_mismatches
from runlocalai_bench.review.source import Source, is_run_log

HASHED = (rundir.RUN_LOG, rundir.SAMPLES, rundir.RESULTS)
CHECKS = ("schema", "files", "results", "samples", "coverage", "rescore", "log", "signature")
SPEED_CHECKS = ("schema", "files", "speed", "results", "samples", "coverage", "rescore", "log",
                "signature")
NOT_SCORED = "a speed run has no scored samples"



@dataclass(frozen=True)
class VerifyReport:
    origin: str
    run_id: str | None
    findings: tuple[Finding, ...]
    signer: str | None = None  # the key id of a valid signature
    rescore: Rescore | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status == "failed")

    @property
    def unchecked(self) -> tuple[Finding, ...]:
        """Skipped checks the verdict needs (Finding.needed)."""
        return tuple(f for f in self.findings if f.status == "skipped" and f.needed)

    @property
    def verified(self) -> bool:
        """No failure and every needed check done: what `rla verify` calls verified."""
        return self.ok and not self.unchecked

    def __rich__(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        verdict = ("verified" if self.verified else f"{len(self.failures)} problem(s)"
                   if self.failures else f"not verified: {len(self.unchecked)} check(s) skipped")
        table = Table(title=Text(f"verify {self.run_id or '?'} ({self.origin}): {verdict}"),
                      title_justify="left")
        for column in ("", "check", "file:field", "finding"):
            table.add_column(column)
        for f in self.findings:
            hint = f" (hint: {f.hint})" if f.hint and f.status != "ok" else ""
            table.add_row(Text(f.status), Text(f.check), Text(f.where()),
                          Text(f.message + hint))
        return table

    def to_json(self) -> dict[str, Any]:
        return {"origin": self.origin, "run_id": self.run_id, "ok": self.ok,
                "verified": self.verified,
                "signer": self.signer,
                "findings": [{"check": f.check, "status": f.status, "file": f.file,
                              "field": f.field, "message": f.message, "hint": f.hint}
                             for f in self.findings]}


def check_schema(record: Mapping[str, Any]) -> list[Finding]:
    name = schemas.record_schema(record)
    errors = schemas.validate(record, schemas.load_schema(name))
    out = [Finding("schema", "failed", error.split(": ", 1)[-1], rundir.RECORD,
                   error.split(": ", 1)[0].removeprefix("$").lstrip(".") or None)
           for error in errors]
    return out or [Finding("schema", "ok", f"record.json matches schema {name}")]


def _speed_entries(speed: SpeedSection) -> list[SpeedRun]:
    """Every run of a speed record, warm-ups first, as the record lists them."""
    return [*speed.warmup, *speed.runs]


def check_files(source: Source, record: Record) -> list[Finding]:
    listed = record.files
    speed = record.body.speed if isinstance(record.body, Speed) else None
    required: tuple[str, ...] = HASHED
    shards = record.body.shards if isinstance(record.body, Scored) else None
    shard_logs = {s.log: s.log_sha256 for s in shards or ()}
    if shards:  # a merged run: each shard's run.log beside its own
        required = (*HASHED, *shard_logs)
    if speed is not None:  # run.log and each run's own log; no results or samples
        logs = [e.log for e in _speed_entries(speed)]
        required = (rundir.RUN_LOG, *(name for name in logs if is_run_log(name)))
    out: list[Finding] = []
    for name in required:
        if name not in listed:
            out.append(Finding("files", "failed", f"record.json lists no sha256 of {name}",
                               rundir.RECORD, f"files.{name}"))
    for name, expected in listed.items():
        known = is_run_log(name) if speed is not None else name in required
        if not known:
            message = (f"record.json lists a file a speed run does not write: {name!r}"
                       if speed is not None else f"record.json lists an unknown file {name!r}")
            out.append(Finding("files", "failed", message, rundir.RECORD, f"files.{name}"))
            continue
        path = source.run.path / name
        if not path.is_file():
            absent = name in source.missing  # the origin (a Gist) does not hold it
            omitted = absent and name == rundir.SAMPLES
            out.append(Finding("files", "skipped" if omitted else "failed",
                               f"{name} is missing" + (f" from {source.origin}" if absent
                                                       else ""), name, f"files.{name}",
                               hint="a Gist leaves out samples.jsonl over 10 MB" if omitted
                               else None, needed=omitted))
        elif rundir.sha256_file(path) != expected:
            out.append(Finding("files", "failed", f"{name} does not hash to the sha256 in "
                               "record.json (it changed after the run)", name,
                               f"files.{name}"))
        elif name in shard_logs and shard_logs[name] != expected:
            out.append(Finding("files", "failed", f"{name} is not the log its shard's record"
                               " states (shards[].log_sha256 differs)", rundir.RECORD,
                               f"files.{name}"))
    if not out:
        shown = (f"run.log and {len(listed) - 1} run logs" if speed is not None
                 else ", ".join(HASHED) + (f" and {len(shard_logs)} shard logs" if shards
                                           else ""))
        out.append(Finding("files", "ok", f"{shown} match their sha256"))
    return out


def check_speed(source: Source, record: Record, speed: SpeedSection) -> list[Finding]:
    """The capture protocol re-derived from the raw observations, and the logs that hold them."""
    from runlocalai_bench.speed.plausibility import speed_gate

    out = [Finding("speed", "failed", reason, rundir.RECORD, "speed")
           for reason in speed_gate(record.to_json())]
    counted = [e.log for e in speed.runs if e.counted]
    if list(speed.logs) != counted:
        out.append(Finding("speed", "failed", "speed.logs does not list the counted runs' logs "
                           "in order", rundir.RECORD, "speed.logs"))
    for entry in _speed_entries(speed):
        if record.files.get(entry.log) != entry.log_sha256:
            out.append(Finding("speed", "failed", f"{entry.label}: its log_sha256 is not "
                               f"the sha256 files lists for {entry.log}", rundir.RECORD,
                               f"files.{entry.log}"))
    paths = [source.run.path / name for name in counted if is_run_log(name)]
    if paths and len(paths) == len(counted) and all(p.is_file() for p in paths) and \
            rundir.sha256_files(paths) != speed.logs_sha256:
        out.append(Finding("speed", "failed", "the counted runs' logs, concatenated, do not "
                           "hash to speed.logs_sha256", rundir.RECORD, "speed.logs_sha256"))
    if out:
        return out
    median, cap = speed.summary.decode_tps.median, speed.plausibility.limit_tps
    bound = (f"under the {cap:.1f} tok/s ceiling" if cap
             else f"ceiling not checked ({speed.plausibility.basis})")
    decode = f"{median:.1f}" if median is not None else "?"
    return [Finding("speed", "ok", f"{len(counted)} counted runs re-derived from their "
                    f"observations: decode {decode} tok/s, {bound}; their logs hash to "
                    "speed.logs_sha256")]


def check_speed_logs(source: Source, record: Record, speed: SpeedSection) -> list[Finding]:
    """run.log and each run's own log against the record; a missing log is a files finding."""
    out: list[Finding] = []
    if source.run.run_log.is_file():
        text = source.run.run_log.read_text(encoding="utf-8", errors="replace")
        out += [Finding("log", "failed", f.message, rundir.RUN_LOG, f.field)
                for f in check_speed_run_log(text, record, speed)]
    runs = 0
    for kind, entries in (("warmup", speed.warmup), ("runs", speed.runs)):
        for i, entry in enumerate(entries):
            path = source.run.path / entry.log
            if not is_run_log(entry.log) or not path.is_file():
                continue
            runs += 1
            text = path.read_text(encoding="utf-8", errors="replace")
            out += [Finding("log", "failed", f.message, entry.log, f.field)
                    for f in check_run_log(text, entry, f"speed.{kind}[{i}]")]
    return out or [Finding("log", "ok", f"run.log agrees with the record (version, run, "
                           f"benchmark, rig, runs, summary, logs sha256); {runs} run logs hold "
                           "the raw observations the record states")]


def check_results_file(source: Source, scored: Scored) -> list[Finding]:
    if not source.run.results.is_file():
        return []  # already a files finding
    try:
        stated = rundir.read_json(source.run.results)
    except RlaError as exc:
        return [Finding("results", "failed", exc.message, rundir.RESULTS)]
    if not isinstance(stated, Mapping):
        kind = {list: "an array", str: "a string", type(None): "null"}.get(type(stated),
                                                                           "a number")
        return [Finding("results", "failed", f"results.json holds {kind}, not the object of a"
                        " run's results", rundir.RESULTS)]
    mismatches = score_mismatches(scored.results, stated, fields=(
        "metric", "score", "stderr", "macro", "n", "expected_n", "partial"))
    out = [Finding("results", "failed", m.describe().replace("recomputed", "results.json says"),
                   rundir.RECORD, m.field) for m in mismatches]
    return out or [Finding("results", "ok", "results.json states the record's scores")]


def check_samples(source: Source, record: Record, scored: Scored) -> list[Finding]:
    if not source.run.samples.is_file():
        return [Finding("samples", "skipped", "no samples.jsonl to recount", rundir.SAMPLES,
                        needed=True)]
    lines = read_sample_lines(source.run.samples)
    claimed = results_block(scored.results)
    out: list[Finding] = []
    if len(lines) != claimed.get("n"):
        out.append(Finding("samples", "failed", f"samples.jsonl has {len(lines)} complete lines,"
                           f" the record claims n={claimed.get('n')}", rundir.SAMPLES,
                           "results.n"))
    failed = [line.id for line in lines if line.status == "error"]
    if failed:  # an older rla recorded such a run as complete, its failed requests scored 0
        out.append(Finding("samples", "failed", f"{len(failed)} samples are failed requests"
                           f" (error rows, first {failed[0]}), scored as wrong answers: the run"
                           " is not complete", rundir.SAMPLES, "status",
                           hint=f"rla bench … --resume --run-id {source.run.id} asks them again"
                           " and writes a new record"))
    ids = [line.id for line in lines]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        out.append(Finding("samples", "failed", f"ids appear twice: {', '.join(repeated[:5])}",
                           rundir.SAMPLES, "id"))
    eval_ = eval_for(record)
    try:
        again = recorded_aggregate(eval_, lines, int(claimed.get("expected_n") or 0))
    finally:
        eval_.close()
    for m in score_mismatches(claimed, results_block(again)):
        out.append(Finding("samples", "failed", m.describe() + " from the samples' own scores",
                           rundir.RECORD, m.field))
    return out or [Finding("samples", "ok", f"{len(lines)} samples aggregate to the claimed "
                           "scores")]



def check_rescore(source: Source, record: Record, data_dir: Path | None,
                  cache_dir: Path | None = None) -> tuple[list[Finding], Rescore | None]:
    if not source.run.samples.is_file():
        return [Finding("rescore", "skipped", "no samples.jsonl to rescore", rundir.SAMPLES,
                        needed=True)], None
    try:
        result = rescore_run(source.run, record, data_dir=data_dir, cache_dir=cache_dir)
    except DataError as exc:
        return [Finding("rescore", "skipped", f"the data is not available here: {exc.message}",
                        hint=exc.hint or "pass --data-dir", needed=True)], None
    out = [Finding("rescore", "failed", p, rundir.SAMPLES) for p in result.problems]
    for c in result.changes[:50]:
        out.append(Finding("rescore", "failed", f"sample {c.id}: recorded {c.field} "
                           f"{c.recorded!r}, the scorer gives {c.rescored!r}", rundir.SAMPLES,
                           f"{c.id}.{c.field}"))
    if len(result.changes) > 50:
        out.append(Finding("rescore", "failed", f"… and {len(result.changes) - 50} more sample "
                           "changes", rundir.SAMPLES))
    out += [Finding("rescore", "failed", m.describe(), rundir.RECORD, m.field)
            for m in result.mismatches]
    return out or [Finding("rescore", "ok", f"{result.results.n} samples rescored: same "
                           f"answers, {result.slug} {result.results.score * 100:.2f}% as "
                           "claimed")], result


def check_log_file(source: Source, record: Record, scored: Scored) -> list[Finding]:
    if not source.run.run_log.is_file():
        return []  # already a files finding
    text = source.run.run_log.read_text(encoding="utf-8", errors="replace")
    found = check_log(text, record, scored)
    out = [Finding("log", "failed", f.message, rundir.RUN_LOG, f.field) for f in found]
    for k, shard in enumerate(scored.shards or ()):  # a merged run: each shard's own log
        path = source.run.path / shard.log
        if path.is_file():  # else a files finding
            out += [Finding("log", "failed", f.message, shard.log, f.field) for f in
                    check_shard_log(path.read_text(encoding="utf-8", errors="replace"), shard,
                                    f"shards[{k}]")]
    also = f" and its {len(scored.shards)} shards' logs" if scored.shards else ""
    return out or [Finding("log", "ok", "run.log agrees with the record (version, run, "
                           f"benchmark, rig, data, samples, headline){also}")]


def check_signature_file(source: Source,
                         record: Mapping[str, Any]) -> tuple[list[Finding], str | None]:
    path = source.run.path / signing.SIGNATURE
    try:
        signature = signing.read_signature(path)
    except RlaError as exc:
        return [Finding("signature", "failed", exc.message, signing.SIGNATURE)], None
    if signature is None:
        return [Finding("signature", "skipped", "the record is unsigned",
                        hint="the operator can sign it with `rla keys sign RUN_DIR`")], None
    check = signing.check_signature(record, signature)
    if not check.valid:
        return [Finding("signature", "failed", check.problem or "invalid signature",
                        signing.SIGNATURE, "signature")], None
    signer = f"{check.key_id}" + (f" as {check.handle}" if check.handle else "")
    return [Finding("signature", "ok", f"signed by {signer}")], check.key_id


def verify_source(source: Source, *, data_dir: Path | None = None,
                  cache_dir: Path | None = None) -> VerifyReport:
    try:
        typed = load_record(source.record_path)
    except RlaError as exc:
        return VerifyReport(origin=source.origin, run_id=None, findings=(
            Finding("schema", "failed", exc.message, rundir.RECORD,
                    getattr(exc, "field", None), hint=exc.hint),))
    record = typed.to_json()
    findings = check_schema(record)
    if isinstance(typed.body, Scored):
        findings += check_compact(source, typed, data_dir, cache_dir)
    findings += check_files(source, typed)
    rescored: Rescore | None = None
    if isinstance(typed.body, Speed):
        findings += _speed_findings(source, typed, typed.body.speed)
    else:
        part, rescored = _scored_findings(source, typed, typed.body, data_dir, cache_dir)
        findings += part
    signature_findings, signer = check_signature_file(source, record)
    findings += signature_findings
    return VerifyReport(origin=source.origin, run_id=record.get("run_id"),
                        findings=tuple(findings), signer=signer, rescore=rescored)


def _scored_findings(source: Source, record: Record, scored: Scored, data_dir: Path | None,
                     cache_dir: Path | None) -> tuple[list[Finding], Rescore | None]:
    findings = check_results_file(source, scored)
    if record.benchmark.kind not in KINDS:
        return [*findings, Finding("rescore", "skipped", "not a scored benchmark: nothing to "
                                   "rescore")], None
    try:
        findings += check_samples(source, record, scored)
    except RlaError as exc:
        findings.append(Finding("samples", "failed", exc.message, rundir.RECORD,
                                getattr(exc, "field", None), hint=exc.hint))
    try:
        findings += check_coverage(source, record, scored)
    except RlaError as exc:
        findings.append(Finding("coverage", "failed", exc.message, rundir.SAMPLES,
                                getattr(exc, "field", None), hint=exc.hint))
    rescored: Rescore | None = None
    try:
        part, rescored = check_rescore(source, record, data_dir, cache_dir)
    except RlaError as exc:
        part = [Finding("rescore", "failed", exc.message, rundir.RECORD,
                        getattr(exc, "field", None), hint=exc.hint)]
    return findings + part + check_log_file(source, record, scored), rescored


def _speed_findings(source: Source, record: Record, speed: SpeedSection) -> list[Finding]:
    findings = check_speed(source, record, speed)
    findings += [Finding(check, "skipped", NOT_SCORED)
                 for check in ("results", "samples", "coverage", "rescore")]
    return findings + check_speed_logs(source, record, speed)
