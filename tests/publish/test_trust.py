"""The trust gate over real runs: every failing item listed, nothing else."""

from __future__ import annotations

import copy
import json

import pytest

from runlocalai_bench.publish.flow import publish_run
from runlocalai_bench.publish.gist import GistClient
from runlocalai_bench.publish.retry import RetryPolicy
from runlocalai_bench.publish.trust import check_gate, publishable_specs
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import Record
from tests.publish.fakes import VALID_TOKEN


def publish(run, github) -> dict:
    with GistClient(VALID_TOKEN, api_url=github.url,
                    retry=RetryPolicy(sleep=lambda s: None)) as gh:
        publish_run(run.path, gh)
    return load_record(run.record).to_json()


def test_publishable_benchmarks_are_the_scored_ones_and_speed_but_the_smoke_test():
    slugs = set(publishable_specs())
    assert {"mmlu", "turkish-mmlu-generative", "humaneval-plus", "speed"} <= slugs
    assert "selfcheck" not in slugs


def test_an_unpublished_smoke_test_run_fails_on_every_count(selfcheck_run):
    verdict = check_gate(load_record(selfcheck_run.record), selfcheck_run.path,
                         publishable_specs())
    assert not verdict.ok
    text = "\n".join(verdict.reasons)
    assert "benchmark 'selfcheck' is not published on the leaderboard" in text
    assert "bundled sample" in text
    assert "results are partial" in text
    assert "test_run_log_url is not set" in text
    assert len(verdict.reasons) == 4, verdict.reasons


def test_a_published_smoke_test_still_fails_on_what_publishing_cannot_fix(selfcheck_run,
                                                                        github):
    record = publish(selfcheck_run, github)
    reasons = check_gate(Record.from_json(record), selfcheck_run.path, publishable_specs()).reasons
    assert len(reasons) == 3 and not any("test_run_log_url" in r for r in reasons)


@pytest.mark.integration
def test_a_published_full_pinned_run_passes(full_run, github):
    record = publish(full_run, github)
    verdict = check_gate(Record.from_json(record), full_run.path, publishable_specs())
    assert verdict.ok, verdict.reasons
    assert record["results"]["n"] == record["results"]["expected_n"] == 900


def _set(record: dict, path: str, value) -> dict:
    out = copy.deepcopy(record)
    node = out
    *parents, last = path.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    return out


@pytest.mark.integration
@pytest.mark.parametrize(("path", "value", "reason"), [
    ("sampling.settings.temperature", 0.7, "sampling is not greedy: temperature 0.7"),
    ("sampling.sent.temperature", 0.2, "requests were sent with temperature 0.2"),
    ("sampling.settings.n", 5, "more than one sample per question: n 5"),
    ("results.partial", True, "the results are partial"),
    ("dataset.source", "bundled", "bundled sample"),
    ("dataset.pinned", False, "the data is not pinned"),
    ("results.n", 899, "only 899 of 900 samples were scored"),
    ("results.counts.error", 3, "3 sample(s) are failed requests"),
    ("benchmark.spec_sha256", "0" * 64, "tasks/turkish-mmlu-generative.toml changed since"),
    ("benchmark.slug", "selfcheck", "benchmark 'selfcheck' is not published"),
    ("model.quantization", None, "the model's quantization (e.g. Q4_K_M) is missing"),
    ("runtime.version", None, "the runtime version is missing"),
    ("hardware.hardware_slug", "unknown", "the hardware slug is missing"),
    ("test_run_log_url", None, "test_run_log_url is not set"),
    ("gist.verified", False, "the Gist was not verified"),
    ("gist.html_url", "https://gist.github.com/someone/else", "is not the verified Gist's URL"),
    ("files.samples.jsonl", "f" * 64, "samples.jsonl changed after the record was written"),
    ("runtime.concurrency", 4, "4 requests were in flight at once (--concurrency 4)"),
    ("sampling.settings.cache_prompt", True, "the server's prompt cache was on"),
    ("runtime.slots", 4, "the server has 4 slots (llama-server --parallel 4)"),
    ("runtime.slots", None, "the server's slot count (/props total_slots) was not recorded"),
    ("results.score", 0.114, "the score 11.4% is below chance (20%, guessing among 5 options)"),
    ("results.counts.unparsed", 120, "120 of 900 answers (13%) could not be read"),
    ("runtime.n_ctx", 100, "prompt(s) reached the context of 100 tokens"),
    ("model.quantization_source", "file-name", "the quantization Q4_K_M was read from a file"),
    ("model.size_bytes", 536_196_352, "the model file has 16.00 bits per weight"),
    ("rla.git_commit", "0123abc-dirty", "rla ran from a checkout with uncommitted changes"),
    ("rla.version", "", "rla's own version is unknown"),
])
def test_each_failure_is_named(published_full_run, path, value, reason):
    run = published_full_run
    record = load_record(run.record).to_json()
    if path == "files.samples.jsonl":
        record["files"]["samples.jsonl"] = value
    else:
        record = _set(record, path, value)
    reasons = check_gate(Record.from_json(record), run.path, publishable_specs()).reasons
    assert any(reason in r for r in reasons), reasons


@pytest.mark.integration
def test_all_failures_are_listed_at_once(published_full_run):
    record = load_record(published_full_run.record).to_json()
    for path, value in (("sampling.settings.temperature", 1.0), ("results.partial", True),
                        ("dataset.pinned", False), ("model.quantization", None)):
        record = _set(record, path, value)
    reasons = check_gate(Record.from_json(record), published_full_run.path,
                         publishable_specs()).reasons
    assert len(reasons) >= 4
    for needle in ("temperature 1.0", "partial", "not pinned", "quantization"):
        assert any(needle in r for r in reasons), (needle, reasons)


@pytest.mark.integration
def test_a_server_default_rla_did_not_override_is_refused_in_one_line(published_full_run):
    record = load_record(published_full_run.record).to_json()
    assert record["sampling"]["sent"]["repeat_penalty"] == 1.0
    record = _set(record, "runtime.sampler_defaults.repeat_penalty", 1.3)
    ok = check_gate(Record.from_json(record), published_full_run.path, publishable_specs())
    assert ok.ok, ok.reasons  # sent neutral on every request: overridden
    del record["sampling"]["sent"]["repeat_penalty"]  # as an rla that did not send it
    reasons = check_gate(Record.from_json(record), published_full_run.path,
                         publishable_specs()).reasons
    assert reasons == ("the server's default repeat_penalty 1.3 changes greedy output and was"
                       " not overridden (neutral: 1.0): restart the server without it, or use"
                       " an rla that sends it",)


def _rewrite_samples(run, keep) -> dict:
    """samples.jsonl cut down to the lines `keep` returns, the record's hash and counters made
    to agree with it, as a submitter covering their tracks would."""
    from runlocalai_bench.results import rundir

    lines = run.samples.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = keep(lines)
    run.samples.write_text("".join(kept), encoding="utf-8")
    record = load_record(run.record).to_json()
    record["files"]["samples.jsonl"] = rundir.sha256_file(run.samples)
    record["results"]["n"] = record["results"]["expected_n"] = len(kept)
    record["results"]["partial"] = False
    return record


@pytest.mark.integration
@pytest.mark.parametrize(("keep", "reason"), [
    (lambda lines: lines[::10],
     "the samples cover 90 of the pinned dataset's 900 items (by subtask:"),
    (lambda lines: [line for line in lines if json.loads(line)["subtask"] != "biology"],
     "the samples cover 800 of the pinned dataset's 900 items (by subtask: biology 0/100)"),
    (lambda lines: [*lines[:-1], lines[0]], "1 sample id(s) appear more than once"),
])
def test_coverage_is_the_pinned_item_ids_whatever_the_counters_say(published_full_run, keep,
                                                                   reason):
    record = _rewrite_samples(published_full_run, keep)
    reasons = check_gate(Record.from_json(record), published_full_run.path,
                         publishable_specs()).reasons
    assert any(r.startswith(reason) for r in reasons), reasons
    assert not any("partial" in r or "samples were scored" in r for r in reasons)


@pytest.mark.integration
def test_data_other_than_the_spec_s_pin_is_refused_whatever_the_record_says(published_full_run):
    record = load_record(published_full_run.record).to_json()
    record["dataset"]["content_sha256"] = record["dataset"]["expected_sha256"] = "ab" * 32
    reasons = check_gate(Record.from_json(record), published_full_run.path,
                         publishable_specs()).reasons
    assert any(r.startswith("the dataset's content sha256 abababababab is not the one"
                            " tasks/turkish-mmlu-generative.toml pins") for r in reasons), reasons


@pytest.mark.integration
@pytest.mark.parametrize(("path", "value", "reason"), [
    ("benchmark.prompt_style", "chat",
     "the run used the chat prompt style, not tasks/turkish-mmlu-generative.toml's default"
     " completion: a leaderboard row uses the spec's methodology as it is (a variant is its own"
     " benchmark slug)"),
    ("benchmark.metric", "macro_accuracy",
     "the record states metric 'macro_accuracy', tasks/turkish-mmlu-generative.toml says"
     " 'accuracy'"),
    ("benchmark.scoring_method", "loglikelihood",
     "the record states scoring method 'loglikelihood', tasks/turkish-mmlu-generative.toml says"
     " 'generative'"),
])
def test_a_row_uses_the_spec_s_methodology_as_it_is(published_full_run, path, value, reason):
    record = _set(load_record(published_full_run.record).to_json(), path, value)
    reasons = check_gate(Record.from_json(record), published_full_run.path,
                         publishable_specs()).reasons
    assert reason in reasons, reasons
