"""A run whose samples.jsonl is over what a raw Gist URL serves is published whole in compact
parts (each prompt as its sha256): rla verify --data-dir rebuilds every prompt from the pinned
data and the file byte for byte, and rla submit recomputes the results from the parts. The
full TurkishMMLU run stands in for full MMLU, with the size limit scaled down."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Callable

import pytest

from runlocalai_bench.publish.flow import prepare_submission, publish_run
from runlocalai_bench.publish.gist import GistClient
from runlocalai_bench.publish.trust import publishable_specs
from runlocalai_bench.results import compact
from runlocalai_bench.review.source import download_gist
from runlocalai_bench.review.verify import verify_source
from tests.publish.fakes import VALID_TOKEN
from tests.support.cli import rla
from tests.support.data import benchmark_data

pytestmark = pytest.mark.integration


@pytest.fixture
def compact_gist(full_run, github):
    """The full run published with a limit a third of its samples.jsonl; the Gist's URL."""
    limit = full_run.samples.stat().st_size // 3
    with GistClient(VALID_TOKEN, api_url=github.url) as client:
        done = publish_run(full_run.path, client, max_bytes=limit)
    (gist_id,) = github.gists
    names = compact.part_names(github.gists[gist_id])
    assert names and "samples.jsonl" not in github.gists[gist_id]
    assert all(name.endswith(".jsonl.gz.b64") for name in names)
    assert all(len(github.gists[gist_id][n]) <= limit for n in names)
    return done.url


def test_verify_rebuilds_every_prompt_and_the_file_from_the_pinned_data(compact_gist, github,
                                                                        tmp_path):
    data = benchmark_data("turkishmmlu") / "turkishmmlu"
    source = download_gist(compact_gist, tmp_path / "gist", api_url=github.url)
    report = verify_source(source, data_dir=data)
    assert report.ok, report.failures
    status = {(f.check, f.status) for f in report.findings}
    assert {("coverage", "ok"), ("rescore", "ok"), ("samples", "ok")} <= status
    assert any(f.message.startswith("samples.jsonl rebuilt from") for f in report.findings)
    assert report.rescore is not None and report.rescore.results.n == 900


def test_without_the_data_the_rebuild_is_named_as_skipped(compact_gist, github, tmp_path):
    source = download_gist(compact_gist, tmp_path / "gist", api_url=github.url)
    report = verify_source(source, data_dir=tmp_path / "no-data")
    skipped = [f for f in report.findings if f.status == "skipped" and f.check == "files"]
    assert skipped and "published in compact form" in skipped[0].message
    assert skipped[0].hint == "pass --data-dir with the pinned data"
    assert report.ok and not report.verified  # nothing failed, and not everything was checked
    assert {f.check for f in report.unchecked} == {"files", "samples", "coverage", "rescore"}


def test_rla_verify_without_the_data_exits_not_verified(compact_gist, github, tmp_path):
    proc = rla("verify", compact_gist, "--data-dir", str(tmp_path / "no-data"),
               "--github-api-url", github.url)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "not verified:" in proc.stdout
    assert "error: not verified: 5 check(s) could not run (files, samples, coverage," \
        " rescore)" in proc.stderr
    assert "hint: " in proc.stderr


def rewrite_compact(files: dict[str, bytes], edit: Callable[[list[dict]], None]) -> None:
    """A Gist's compact parts decoded, `edit`ed line by line and packed again as rla packs
    them (every hash a tamperer can recompute is recomputed), in as many parts."""
    names = compact.part_names(files)
    lines = [json.loads(raw) for raw in compact.compact_text(
        {n: files[n] for n in names}).decode().splitlines()]
    edit(lines)
    text = "".join(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n"
                   for line in lines).encode()
    stream = base64.b64encode(gzip.compress(text, mtime=0))
    size = -(-len(stream) // len(names) // 4) * 4
    for number, name in enumerate(names):
        files[name] = stream[number * size:(number + 1) * size]


def test_a_sample_edited_in_a_compact_part_is_found(compact_gist, github, tmp_path):
    """The answer of one sample changed, its scores left: the prompt still rebuilds, but the
    file no longer hashes as recorded."""
    data = benchmark_data("turkishmmlu") / "turkishmmlu"
    (gist_id,) = github.gists
    edited: list[dict] = []

    def edit(lines: list[dict]) -> None:
        lines[0]["prompt_sha256"] = "0" * 64
        edited.append(lines[0])

    rewrite_compact(github.gists[gist_id], edit)
    (line,) = edited
    source = download_gist(compact_gist, tmp_path / "gist", api_url=github.url)
    report = verify_source(source, data_dir=data)
    assert not report.ok
    messages = [f.message for f in report.failures]
    assert f"sample {line['id']}: the prompt rebuilt from the data does not hash to its" \
        " prompt_sha256" in messages
    assert any("samples.jsonl does not hash" in m for m in messages), messages


@pytest.fixture(scope="module")
def _letter_run(tmp_path_factory):
    """An MMLU slice scored by the first token's log-probabilities (a letter and a bare space
    among the alternatives, as llama-server answers), one question per subject."""
    from tests.publish.conftest import bench

    data = benchmark_data("mmlu") / "mmlu"
    return bench(tmp_path_factory.mktemp("letters"), "mmlu", "--data-dir", str(data),
                 "--limit-per-subtask", "1", policy=_guess)


@pytest.mark.parametrize("tamper", ["quiet", "decisive"])
def test_a_tampered_letter_logprob_in_the_gzipped_parts_is_caught(_letter_run, github,
                                                                  tmp_path, tamper):
    """quiet: a letter's log-probability nudged, the pick unchanged: only the rebuilt file's
    hash can tell. decisive: another letter given the top log-probability, the recorded
    answer left: the rescore finds the letter the scorer now reads, and the hash fails too."""
    from tests.publish.conftest import copy_run

    data = benchmark_data("mmlu") / "mmlu"
    run = copy_run(_letter_run, tmp_path / "runs")
    limit = run.samples.stat().st_size // 3
    with GistClient(VALID_TOKEN, api_url=github.url) as client:
        url = publish_run(run.path, client, max_bytes=limit).url
    (gist_id,) = github.gists
    assert compact.part_names(github.gists[gist_id]) == ["samples.compact-1.jsonl.gz.b64"]
    clean = verify_source(download_gist(url, tmp_path / "clean", api_url=github.url),
                          data_dir=data)
    assert clean.ok, clean.failures
    edited: list[dict] = []

    def edit(lines: list[dict]) -> None:
        line = lines[5]
        top = line["generation"]["top_logprobs"]
        (letter,) = [pair for pair in top if pair[0].strip() == line["extracted"]]
        if tamper == "quiet":
            letter[1] -= 0.01
        else:
            other = "B" if line["extracted"] != "B" else "C"
            top.insert(0, [f" {other}", 0.0])
        edited.append(line)

    rewrite_compact(github.gists[gist_id], edit)
    (line,) = edited
    report = verify_source(download_gist(url, tmp_path / "gist", api_url=github.url),
                           data_dir=data)
    assert not report.ok
    failed = {(f.check, f.message) for f in report.failures}
    assert any(check == "files" and "samples.jsonl does not hash" in message
               for check, message in failed), failed
    changed = {(f.check, f.field) for f in report.failures if f.check == "rescore"}
    if tamper == "quiet":
        assert not changed
    else:
        assert ("rescore", f"{line['id']}.extracted") in changed, report.failures


def test_submit_recomputes_the_results_from_the_compact_parts(compact_gist, full_run, github):
    with GistClient(None, api_url=github.url) as client:
        sub = prepare_submission(full_run.path, handle=None, notes=None,
                                 publishable=publishable_specs(), gist=client)
    assert sub.verdict.ok, sub.verdict.reasons
    assert sub.payload["evidence"]["samples_in_gist"] is True
    assert sub.payload["score"]["n"] == 900
    assert {n for n in sub.payload["evidence"]["files"] if n.startswith("samples.compact-")}


def test_reproduce_works_from_the_gist_of_a_full_run_in_compact_form(compact_gist, github,
                                                                     tmp_path):
    """The original's samples come from the compact parts (rebuilt with the data), so the
    re-run is compared sample by sample, not declared invalid for lack of sample ids."""
    from tests.support.llama_stub import StubLlamaServer

    data = benchmark_data("turkishmmlu") / "turkishmmlu"
    server = StubLlamaServer(policy=lambda p: "A")
    loop = server.start()
    try:
        proc = rla("reproduce", compact_gist, "--endpoint", loop.url, "--model", "stub",
                   "--data-dir", str(data), "--github-api-url", github.url,
                   "--output-dir", str(tmp_path / "reruns"), "--json")
    finally:
        loop.stop()
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["verdict"] == "reproduced", report
    assert report["comparison"]["samples"]["compared"] == 900
    assert report["comparison"]["samples"]["flipped"] == 0
    assert report["integrity"]["verified"] is True


def _guess(prompt: str) -> str:
    """A letter fixed by the prompt: chance-level, the same on every run (a constant letter
    scores below chance on MMLU, which the trust gate refuses as implausible)."""
    return "ABCD"[hashlib.sha256(prompt.encode()).digest()[0] % 4]


@pytest.mark.slow
def test_full_mmlu_publishes_every_sample_and_reproduces_from_its_gist(github, tmp_path):
    """Issue 12's full-size case end to end: 14,042 MMLU samples (about 50 MB as samples.jsonl)
    published under GitHub's real 10 MB limit, verified from the Gist with every prompt rebuilt,
    submitted from it, and reproduced from it."""
    from tests.publish.conftest import bench
    from tests.support.llama_stub import StubLlamaServer

    data = benchmark_data("mmlu") / "mmlu"
    run = bench(tmp_path / "runs", "mmlu", "--data-dir", str(data), "--concurrency", "1",
                policy=_guess)
    assert run.samples.stat().st_size > 10_000_000
    with GistClient(VALID_TOKEN, api_url=github.url) as client:
        url = publish_run(run.path, client).url
    (gist_id,) = github.gists
    stored = github.gists[gist_id]
    names = compact.part_names(stored)
    assert names and all(len(stored[n]) <= 10_000_000 for n in names)
    assert len(compact.lines_of({n: stored[n] for n in names})) == 14042
    assert len(stored) <= 6 + len(names)

    report = verify_source(download_gist(url, tmp_path / "gist", api_url=github.url),
                           data_dir=data)
    assert report.verified, [*report.failures, *report.unchecked]
    with GistClient(None, api_url=github.url) as client:
        sub = prepare_submission(run.path, handle=None, notes=None,
                                 publishable=publishable_specs(), gist=client)
    assert sub.verdict.ok, sub.verdict.reasons
    assert sub.payload["score"]["n"] == 14042

    server = StubLlamaServer(policy=_guess)
    loop = server.start()
    try:
        proc = rla("reproduce", url, "--endpoint", loop.url, "--model", "stub", "--data-dir",
                   str(data), "--github-api-url", github.url, "--output-dir",
                   str(tmp_path / "reruns"), "--json")
    finally:
        loop.stop()
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["verdict"] == "reproduced"
    assert result["comparison"]["samples"]["compared"] == 14042
