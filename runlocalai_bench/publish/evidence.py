"""The published run, read back from its Gist: what a submission is derived from.

    fetch_published(local record, GistClient)
        GET /gists/{id} → every file the local record says it published is there, whole, on the
        Gist's raw host → each fetched and hash-checked against what publish verified → the
        Gist's record.json, typed → it and the local record agree in everything but the fields
        publish and submit themselves add (LOCAL_FIELDS) → the run's own files in the Gist hash
        as the published record states → the results recomputed from the published samples
        agree with the published record's

A local record.json is the submitter's file: anything in it may have been edited after the
Gist was made. The Gist is what anyone can download, so the leaderboard row is built from it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from runlocalai_bench import jsonio
from runlocalai_bench.errors import PublishError, RecordError
from runlocalai_bench.evals import load_eval
from runlocalai_bench.publish.gist import GistClient, gist_name
from runlocalai_bench.publish.gistread import raw_host
from runlocalai_bench.results import compact, rundir
from runlocalai_bench.results.jsontypes import decode, encode
from runlocalai_bench.results.recordtypes import Record, Results, Scored
from runlocalai_bench.results.sampleline import SampleLine
from runlocalai_bench.review.scores import results_block, score_mismatches

# What `rla publish` adds to the local record once the Gist exists (the Gist's own copy cannot
# hold its URL), and what `rla submit` sets: the only fields in which the local record may
# differ from the published one.
PUBLISH_FIELDS = ("test_run_log_url", "gist")
SUBMIT_FIELDS = ("submitter", "notes")
LOCAL_FIELDS = (*PUBLISH_FIELDS, *SUBMIT_FIELDS)


@dataclass(frozen=True)
class Published:
    record: Record  # the Gist's record.json
    record_sha256: str
    files: Mapping[str, str]  # Gist file name → sha256 of its bytes as fetched
    contents: Mapping[str, bytes]


def fetch_published(local: Record, client: GistClient) -> Published:
    gist = local.gist
    if gist is None or not local.test_run_log_url:
        raise PublishError("the run has no published Gist to submit from",
                           hint="rla publish RUN_DIR")
    hint = f"the Gist {gist.html_url} is not the run as published: publish the run again"
    listing = client.get(gist.id)
    if listing.html_url != gist.html_url:
        raise PublishError(f"GET /gists/{gist.id} answers {listing.html_url}, not the record's"
                           f" {gist.html_url}", hint=hint)
    if listing.truncated:
        raise PublishError(f"GitHub lists only part of the Gist {gist.html_url}'s files"
                           " (truncated)", hint="a run's Gist holds a few files: publish the"
                           " run again to a new Gist")
    host = raw_host(client.api_url)
    contents: dict[str, bytes] = {}
    for name, stated in gist.files.items():
        entry = listing.files.get(name)
        if entry is None:
            raise PublishError(f"the Gist lacks {name}", hint=hint)
        if urlsplit(entry.raw_url).hostname != host:
            raise PublishError(f"the Gist's {name} is served from"
                               f" {urlsplit(entry.raw_url).hostname}, not {host}", hint=hint)
        data = client.fetch_raw(entry.raw_url)
        if _sha256(data) != stated.sha256:
            raise PublishError(f"the Gist's {name} is not the file publish verified (sha256"
                               f" {_sha256(data)[:12]} ≠ {stated.sha256[:12]})", hint=hint)
        contents[name] = data
    if rundir.RECORD not in contents:
        raise PublishError("the Gist lacks record.json", hint=hint)
    try:
        published = Record.from_json(jsonio.loads(contents[rundir.RECORD],
                                                  "the Gist's record.json"),
                                     "the Gist's record.json")
    except RecordError as exc:
        raise PublishError(f"the Gist's record.json cannot be read: {exc.message}",
                           hint=hint) from exc
    return Published(record=published, record_sha256=_sha256(contents[rundir.RECORD]),
                     files={n: _sha256(b) for n, b in contents.items()}, contents=contents)


def record_differences(local: Record, published: Record) -> list[str]:
    """The dotted paths at which the local record differs from the published one, leaving out
    LOCAL_FIELDS."""
    a, b = local.to_json(), published.to_json()
    for name in LOCAL_FIELDS:
        a.pop(name, None)
        b.pop(name, None)
    return _diff(a, b, "")


def _diff(a: Any, b: Any, path: str) -> list[str]:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out = []
        for key in [*a, *(k for k in b if k not in a)]:
            where = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                out.append(where)
            else:
                out += _diff(a[key], b[key], where)
        return out
    return [] if a == b and type(a) is type(b) else [path or "(the whole record)"]


def evidence_reasons(published: Published) -> list[str]:
    """The run's own files in the Gist against the hashes the published record states: run.log
    always; results.json and samples.jsonl for a scored run, each run's log for a speed run."""
    out = []
    record = published.record
    for name, sha in record.files.items():
        got = published.files.get(gist_name(name))
        if got is None and name == rundir.SAMPLES and compact_parts(published):
            continue  # every sample, in compact form: rla verify --data-dir rebuilds the file
        if got is None:
            out.append(f"the Gist lacks {name}: the row's evidence must be published whole")
        elif got != sha:
            out.append(f"the Gist's {gist_name(name)} does not hash as its record.json states"
                       f" ({got[:12]} ≠ {sha[:12]})")
    if isinstance(record.body, Scored) and rundir.SAMPLES not in record.files:
        out.append("the published record lists no samples.jsonl")
    return out


def recomputed_results(published: Published) -> tuple[Results, list[str]]:
    """The published samples' scores aggregated again, as the record's results block, and every
    way the published record's results differ from them (empty when they agree). Without
    samples in the Gist the published results stand (`evidence_reasons` names the absence)."""
    record = published.record
    assert isinstance(record.body, Scored)
    stated = record.body.results
    data = published.contents.get(gist_name(rundir.SAMPLES))
    parts = compact_parts(published)
    if data is None and not parts:
        return stated, []
    try:
        if data is not None:
            raws = [jsonio.loads(raw, f"the Gist's samples.jsonl line {n}")
                    for n, raw in enumerate(data.splitlines(), 1) if raw.strip()]
        else:  # the prompt is not scored: its hash stands in for it here
            raws = [{**{k: v for k, v in line.items() if k != "prompt_sha256"}, "prompt": ""}
                    for line in compact.lines_of({p: published.contents[p] for p in parts})]
        lines = [SampleLine.from_json(raw, f"the Gist's sample {n}")
                 for n, raw in enumerate(raws, 1)]
    except RecordError as exc:
        return stated, [f"the Gist's samples cannot be read: {exc.message}"]
    eval_ = load_eval(record.benchmark.slug)
    try:
        computed = eval_.aggregate([replace(line.result(), prompt="", response="")
                                    for line in lines], expected_n=stated.expected_n)
    finally:
        eval_.close()
    block = {**results_block(computed), "expected_n": stated.expected_n,
             "partial": stated.partial}
    reasons = [f"the published results are not what its samples add up to ({m.describe()})"
               for m in score_mismatches(encode(stated), block)]
    return decode(Results, block, "the recomputed results"), reasons


def compact_parts(published: Published) -> list[str]:
    """The compact parts of samples.jsonl in the Gist (results/compact.py), in order."""
    return compact.part_names(published.contents)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
