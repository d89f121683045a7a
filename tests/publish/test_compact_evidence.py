"""A run whose samples.jsonl is over what a raw Gist URL serves is published whole in compact
parts (each prompt as its sha256): rla verify --data-dir rebuilds every prompt from the pinned
data and the file byte for byte, and rla submit recomputes the results from the parts. The
full TurkishMMLU run stands in for full MMLU, with the size limit scaled down."""

from __future__ import annotations

import hashlib
import json

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


def test_a_sample_edited_in_a_compact_part_is_found(compact_gist, github, tmp_path):
    """The answer of one sample changed, its scores left: the prompt still rebuilds, but the
    file no longer hashes as recorded."""
    data = benchmark_data("turkishmmlu") / "turkishmmlu"
    (gist_id,) = github.gists
    first = compact.part_names(github.gists[gist_id])[0]
    lines = github.gists[gist_id][first].decode().splitlines(keepends=True)
    line = json.loads(lines[0])
    line["prompt_sha256"] = "0" * 64
    lines[0] = json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n"
    github.gists[gist_id][first] = "".join(lines).encode()
    source = download_gist(compact_gist, tmp_path / "gist", api_url=github.url)
    report = verify_source(source, data_dir=data)
    assert not report.ok
    messages = [f.message for f in report.failures]
    assert f"sample {line['id']}: the prompt rebuilt from the data does not hash to its" \
        " prompt_sha256" in messages
    assert any("samples.jsonl does not hash" in m for m in messages), messages


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
    assert sum(len(compact.lines_of([stored[n]])) for n in names) == 14042
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
