"""Publish a finished run as a Gist, then submit it to the leaderboard.

    publish_run(run dir, GistClient)
        record.json → check the run's files still hash as recorded → README.md → refuse if any
        file holds a secret → POST /gists, its description marked with the run id and a nonce
        (an unanswered POST is looked for by that marker before it is sent again, so one publish
        makes one Gist) → fetch every raw URL back and compare sha256 with the local bytes →
        write the Gist URL into record.json and the run index
    prepare_submission(run dir, handle, notes, GistClient)   (reads the Gist, sends nothing)
        record + handle + cleaned notes → the trust gate → the Gist read back and checked
        (publish/evidence.py) → the payload from the published record and its idempotency key
    submit_prepared(submission, LeaderboardClient)
        POST → submission.json in the run dir, the record's submitter and notes, the run index

The Gist holds record.json as the run wrote it (test_run_log_url still empty: the URL does not
exist before the Gist does); the local record gains the URL and the verified file hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runlocalai_bench import jsonio, schemas
from runlocalai_bench.errors import ConfigError, PublishError, RunDirError
from runlocalai_bench.publish.evidence import (
    LOCAL_FIELDS,
    evidence_reasons,
    fetch_published,
    recomputed_results,
    record_differences,
)
from runlocalai_bench.publish.gist import MAX_RAW_BYTES, GistClient, gist_name, new_marker
from runlocalai_bench.publish.leaderboard import LeaderboardClient, Receipt
from runlocalai_bench.publish.notes import HANDLE, MAX_HANDLE, clean_handle, clean_notes
from runlocalai_bench.publish.payload import Evidence, build_payload, idempotency_key
from runlocalai_bench.publish.readme import gist_description, render_readme
from runlocalai_bench.publish.trust import GateVerdict, check_gate
from runlocalai_bench.redact import redact, redact_tree, redact_url
from runlocalai_bench.report import refresh_run_report
from runlocalai_bench.results import compact, rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import Gist, GistFile, Record, Scored
from runlocalai_bench.results.runlog import is_shard_log
from runlocalai_bench.results.store import RunIndex

README = "README.md"
SUBMISSION = "submission.json"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- publish ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GistBundle:
    files: Mapping[str, bytes]  # name → the exact bytes uploaded
    omitted: tuple[str, ...]  # files left out, each with why


@dataclass(frozen=True)
class Published:
    url: str
    gist_id: str
    files: Mapping[str, str]  # name → sha256, verified against the raw URL
    omitted: tuple[str, ...]
    already: bool = False  # the record already named a verified Gist; nothing was uploaded


SIGNATURE = "record.sig"


def gist_bundle(run: rundir.RunDir, record: Record,
                max_bytes: int = MAX_RAW_BYTES) -> GistBundle:
    """run.log, record.json, results.json, samples.jsonl (in compact parts when it is over
    `max_bytes`: results/compact.py), record.sig when the run is signed, and README.md; for
    a speed run, each run's own log in place of results and samples, and for a merged run each
    shard's run.log beside the rest (named by `gist_name`: runs/run-1.log is runs-run-1.log,
    shards/shard-0.log shards-shard-0.log)."""
    changed = [name for name, sha in record.files.items()
               if not (run.path / name).is_file() or rundir.sha256_file(run.path / name) != sha]
    if changed:
        raise RunDirError(f"{', '.join(changed)} changed after the record was written",
                          hint="publish only a run's own files; rerun the benchmark")
    files: dict[str, bytes] = {}
    omitted: list[str] = []
    names = [rundir.RUN_LOG, rundir.RECORD, rundir.RESULTS, rundir.SAMPLES]
    if record.is_speed:
        # no results or samples: each run's own log is the evidence, beside run.log
        names = [rundir.RUN_LOG, rundir.RECORD, *(n for n in record.files if n != rundir.RUN_LOG)]
    else:  # a merged run: every shard's run.log beside the merged one
        names += [n for n in record.files if is_shard_log(n)]
    for name in names:
        path = run.path / name
        size = path.stat().st_size
        if size > max_bytes:
            if name == rundir.SAMPLES:  # every sample, each prompt as its sha256 (compact.py)
                parts = compact.compact(path.read_bytes(), max_bytes)
                files.update(parts)
                omitted.append(f"{name} is published in compact form: {size:,} bytes, over the"
                               f" {max_bytes:,} a raw Gist URL serves, so each prompt is"
                               f" stored as its sha256 and the lines gzipped in base64, in"
                               f" {len(parts)} part(s) ({', '.join(parts)}: concatenated,"
                               " `base64 -d | gunzip`); rla verify --data-dir rebuilds them")
                continue
            raise PublishError(f"{name} is {size:,} bytes, over the {max_bytes:,} a Gist's raw"
                               " URL serves", hint="the log cannot be published whole")
        files[gist_name(name)] = path.read_bytes()
    signature = run.path / SIGNATURE
    if signature.is_file():  # the operator's ed25519 signature (rla keys), checked by verify
        files[SIGNATURE] = signature.read_bytes()
    readme = render_readme(record, {n: _sha256(b) for n, b in files.items()}, omitted)
    return GistBundle(files={README: readme.encode("utf-8"), **files}, omitted=tuple(omitted))


def find_secrets(files: Mapping[str, bytes], extra: tuple[str, ...] = ()) -> list[str]:
    """Names of files that still hold something `redact` would hide (a token, a key, the home
    directory). JSON is compared value by value, so escaping cannot fool the check."""
    found = []
    parts = compact.part_names(files)
    readable = {n: d for n, d in files.items() if n not in parts}
    compacted = ", ".join(parts)
    if parts:  # compact samples (gzipped) are read for what they hold, as one JSON-lines file
        readable[compacted] = compact.compact_text({n: files[n] for n in parts})
    for name, data in readable.items():
        text = data.decode("utf-8", "replace")
        if any(secret and secret in text for secret in extra):
            found.append(name)
        elif name.endswith(".jsonl") or (parts and name == compacted):
            lines = [jsonio.loads(line, f"{name} line") for line in text.splitlines()
                     if line.strip()]
            if any(redact_tree(line, extra=extra) != line for line in lines):
                found.append(name)
        elif name.endswith(".json"):
            value = jsonio.loads(text, name)
            if redact_tree(value, extra=extra) != value:
                found.append(name)
        elif redact(text, extra=extra) != text:
            found.append(name)
    return found


def publish_run(run_path: Path, client: GistClient, *, secrets: tuple[str, ...] = (),
                index: RunIndex | None = None, now: Callable[[], str] = _now,
                max_bytes: int = MAX_RAW_BYTES) -> Published:
    run = rundir.RunDir(run_path)
    record = load_record(run.record)
    if record.test_run_log_url and record.gist is not None and record.gist.verified:
        return Published(url=record.test_run_log_url, gist_id=record.gist.id,
                         files={n: f.sha256 for n, f in record.gist.files.items()},
                         omitted=(), already=True)
    bundle = gist_bundle(run, record, max_bytes)
    leaking = find_secrets(bundle.files, secrets)
    if leaking:
        raise PublishError(f"{', '.join(leaking)} would publish a secret or your home path",
                           hint="nothing was uploaded; remove it from the run directory's files"
                           " or rerun the benchmark")
    try:
        texts = {name: data.decode("utf-8") for name, data in bundle.files.items()}
    except UnicodeDecodeError as exc:
        raise PublishError(f"a run file is not UTF-8 text: {exc}",
                           hint="Gists hold text; rerun the benchmark") from exc
    created = client.create(gist_description(record), texts,
                            marker=new_marker(record.run_id))
    verified: dict[str, GistFile] = {}
    for name, data in bundle.files.items():
        entry = created.files.get(name)
        if entry is None:
            raise PublishError(f"the Gist {created.html_url} lacks {name}",
                               hint="delete that Gist and publish again")
        copy = client.fetch_raw(entry.raw_url)
        if _sha256(copy) != _sha256(data):
            raise PublishError(
                f"the Gist's copy of {name} differs from the local file (sha256"
                f" {_sha256(copy)[:12]} ≠ {_sha256(data)[:12]})",
                hint=f"{created.html_url} is not a faithful copy: delete it and publish again")
        verified[name] = GistFile(raw_url=entry.raw_url, sha256=_sha256(data), size=len(data))
    gist = Gist(id=created.id, html_url=created.html_url, files=verified, verified=True,
                verified_at=now())
    record = replace(record, test_run_log_url=created.html_url, gist=gist)
    rundir.write_json_atomic(run.record, record.to_json())
    refresh_run_report(run.path)  # the page names the Gist and the gate's verdict with it
    if index is not None:
        index.update(run.id, gist_url=created.html_url)
    return Published(url=created.html_url, gist_id=created.id,
                     files={n: v.sha256 for n, v in verified.items()},
                     omitted=bundle.omitted)


# -- submit ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    run: rundir.RunDir
    record: Mapping[str, Any]  # with the submitter and notes of this submission
    payload: Mapping[str, Any]
    key: str
    verdict: GateVerdict


def check_handle(handle: str | None, *, source: str = "--handle") -> str | None:
    """The handle as sent (see `clean_handle`), None for anonymous; an invalid one is an error
    naming where it came from."""
    cleaned = clean_handle(handle)
    if cleaned is None:
        return None
    if len(cleaned) > MAX_HANDLE or not HANDLE.fullmatch(cleaned):
        raise ConfigError(f"{source} {cleaned[:80]!r} is not a valid handle",
                          hint="a GitHub login (letters, digits, '-', '_' or '.', at most 39,"
                          " starting with a letter or digit) or an email address; leave it out"
                          " to submit anonymously")
    return cleaned


def prepare_submission(run_path: Path, *, handle: str | None, notes: str | None,
                       publishable: Mapping[str, str],
                       gist: GistClient | None) -> Submission:
    """The gate's verdict and the exact payload, sending nothing. A published run's payload is
    built from its Gist (read through `gist`), not from the local record: the Gist's files are
    fetched and hash-checked, the local record must equal the published one but for
    LOCAL_FIELDS, and the results are recomputed from the published samples."""
    run = rundir.RunDir(run_path)
    typed = load_record(run.record)
    # flag or record: both are cleaned, a record may have been edited by hand
    typed = replace(typed,
                    submitter=(check_handle(handle) if handle is not None else
                               check_handle(typed.submitter,
                                            source="record.json's submitter")),
                    notes=clean_notes(notes if notes is not None else typed.notes))
    record = typed.to_json()
    reasons = list(check_gate(typed, run.path, publishable).reasons)
    source, evidence = typed, Evidence(record_sha256=None, files={})
    if typed.gist is not None and typed.gist.verified and typed.test_run_log_url:
        if gist is None:
            raise ConfigError("a published run is submitted from its Gist, and no Gist client"
                              " was given", hint="this is a bug in rla: please report it")
        source, evidence, found = _from_gist(typed, gist, publishable)
        reasons += found
    payload = build_payload(source, evidence, handle=typed.submitter, notes=typed.notes)
    return Submission(run=run, record=record, payload=payload,
                      key=idempotency_key(source, evidence),
                      verdict=GateVerdict(tuple(dict.fromkeys(reasons))))


def _from_gist(local: Record, client: GistClient, publishable: Mapping[str, str]
               ) -> tuple[Record, Evidence, list[str]]:
    """The record the payload is built from (the published one, with this submission's Gist,
    submitter and notes, and its results recomputed), the Gist's hashes, and every way the
    local record or the Gist does not hold up."""
    published = fetch_published(local, client)
    reasons = [f"record.json differs from the one published in the Gist at {path} (only"
               f" {', '.join(LOCAL_FIELDS)} may differ): publish the run as it is, or submit"
               " the published record" for path in record_differences(local, published.record)]
    reasons += evidence_reasons(published)
    source = replace(published.record, test_run_log_url=local.test_run_log_url,
                     gist=local.gist, submitter=local.submitter, notes=local.notes)
    if isinstance(source.body, Scored) and source.benchmark.slug in publishable:
        results, found = recomputed_results(published)
        reasons += found
        source = replace(source, body=replace(source.body, results=results))
    return source, Evidence(record_sha256=published.record_sha256, files=published.files), \
        reasons


def payload_errors(payload: Mapping[str, Any]) -> list[str]:
    return schemas.validate(payload, schemas.load_schema(schemas.submission_schema(payload)))


def submit_prepared(submission: Submission, client: LeaderboardClient, *,
                    index: RunIndex | None = None, now: Callable[[], str] = _now) -> Receipt:
    if not submission.verdict.ok:
        raise PublishError(f"the trust gate refused this run ({len(submission.verdict.reasons)}"
                           " reasons); nothing was sent",
                           hint="fix each reason listed above")
    errors = payload_errors(submission.payload)
    if errors:
        schema = schemas.submission_schema(submission.payload)
        raise PublishError(f"the payload does not match schema {schema}: {errors[0]}",
                           hint="this is a bug in rla: please report it with record.json")
    receipt = client.submit(submission.payload, submission.key)
    path = submission.run.path / SUBMISSION
    earlier = rundir.read_json(path) if path.is_file() else {}
    submitted_at = earlier.get("submitted_at") if earlier.get("id") == receipt.id else None
    rundir.write_json_atomic(path, {
        "id": receipt.id, "status": receipt.status, "duplicate": receipt.duplicate,
        "api_url": redact_url(client.api_url), "idempotency_key": submission.key,
        "submitted_at": submitted_at or now(),
        "rate_limit_remaining": receipt.rate_limit_remaining,
        "rate_limit_reset": receipt.rate_limit_reset,
    })
    rundir.write_json_atomic(submission.run.record, dict(submission.record))
    if index is not None:
        index.update(submission.run.id, submission_id=receipt.id,
                     submission_status=receipt.status)
    return receipt
