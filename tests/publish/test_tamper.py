"""The tamper suite, submit side: a run edited after its Gist was made, or a Gist that does not
hold up, is refused by `rla submit` with a reason that names what was changed; the payload is
built from the Gist, never from the edited local files (loopback Gist and leaderboard APIs)."""

from __future__ import annotations

import hashlib
import json

import pytest

from runlocalai_bench.errors import PublishError
from runlocalai_bench.publish.evidence import LOCAL_FIELDS
from runlocalai_bench.publish.flow import prepare_submission, publish_run
from runlocalai_bench.publish.gist import GistClient
from runlocalai_bench.publish.payload import Evidence, idempotency_key
from runlocalai_bench.publish.trust import publishable_specs
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from tests.publish.fakes import LEADERBOARD_TOKEN, VALID_TOKEN
from tests.support.cli import assert_user_error, rla

pytestmark = pytest.mark.integration


def prepare(run, gist_api):
    with GistClient(None, api_url=gist_api.url) as client:
        return prepare_submission(run.path, handle=None, notes=None,
                                  publishable=publishable_specs(), gist=client)


def edit_record(run, edit) -> None:
    record = rundir.read_json(run.record)
    edit(record)
    rundir.write_json_atomic(run.record, record)


def test_the_fields_publish_and_submit_add_are_the_only_ones_allowed_to_differ():
    assert LOCAL_FIELDS == ("test_run_log_url", "gist", "submitter", "notes")


def test_an_untouched_published_run_passes_and_states_the_gist_s_hashes(published_full_run,
                                                                        published_gist):
    sub = prepare(published_full_run, published_gist)
    assert sub.verdict.ok, sub.verdict.reasons
    evidence = sub.payload["evidence"]
    stored = published_gist.gists[evidence["gist_id"]]
    assert evidence["files"] == {name: hashlib.sha256(data).hexdigest()
                                 for name, data in stored.items()}
    assert evidence["record_sha256"] == hashlib.sha256(stored["record.json"]).hexdigest()
    assert {"run.log", "record.json", "results.json", "samples.jsonl", "README.md"} <= set(
        evidence["files"])


def test_a_score_edited_after_publishing_is_refused_and_not_sent(published_full_run,
                                                                 published_gist, leaderboard):
    honest = load_record(published_full_run.record).body.results.score
    edit_record(published_full_run, lambda r: r["results"].update(score=0.91))
    sub = prepare(published_full_run, published_gist)
    assert ("record.json differs from the one published in the Gist at results.score (only"
            " test_run_log_url, gist, submitter, notes may differ): publish the run as it is,"
            " or submit the published record") in sub.verdict.reasons
    assert sub.payload["score"]["value"] == honest != 0.91
    env = {"RLA_SUBMIT_TOKEN": LEADERBOARD_TOKEN, "RLA_LEADERBOARD_URL": leaderboard.url}
    proc = rla("submit", str(published_full_run.path), "--yes", env=env)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "differs from the one published in the Gist at results.score" in proc.stderr
    assert leaderboard.requests == []


def test_results_json_edited_and_rehashed_is_refused(published_full_run, published_gist):
    run = published_full_run
    results = rundir.read_json(run.results)
    results["score"] = 0.91
    rundir.write_json_atomic(run.results, results)
    edit_record(run, lambda r: r["files"].update({"results.json": rundir.sha256_file(
        run.results)}))
    reasons = prepare(run, published_gist).verdict.reasons
    assert any("published in the Gist at files.results.json" in r for r in reasons), reasons


def test_a_gist_changed_after_publishing_is_an_error_naming_the_file(full_run, github):
    with GistClient(VALID_TOKEN, api_url=github.url) as client:
        publish_run(full_run.path, client)
    (gist_id,) = github.gists
    github.gists[gist_id]["results.json"] = b"{}"
    with pytest.raises(PublishError, match=r"the Gist's results\.json is not the file publish"
                                           r" verified"):
        prepare(full_run, github)
    github.gists[gist_id].pop("results.json")
    with pytest.raises(PublishError, match=r"the Gist lacks results\.json"):
        prepare(full_run, github)


def test_a_published_record_whose_results_its_samples_do_not_add_up_to_is_refused(full_run,
                                                                                  github):
    """Edited before publishing, every hash recomputed: the Gist is self-consistent, but its
    samples say otherwise."""
    run = full_run
    results = rundir.read_json(run.results)
    results["score"] = 0.91
    rundir.write_json_atomic(run.results, results)
    edit_record(run, lambda r: (r["results"].update(score=0.91),
                                r["files"].update({"results.json":
                                                   rundir.sha256_file(run.results)})))
    with GistClient(VALID_TOKEN, api_url=github.url) as client:
        publish_run(run.path, client)
    sub = prepare(run, github)
    assert any(r.startswith("the published results are not what its samples add up to"
                            " (results.score: claimed 0.91, recomputed") for r in
               sub.verdict.reasons), sub.verdict.reasons
    assert sub.payload["score"]["value"] != 0.91


def test_the_idempotency_key_covers_the_whole_published_record(published_full_run):
    record = load_record(published_full_run.record)
    one = idempotency_key(record, Evidence(record_sha256="a" * 64, files={}))
    assert one == idempotency_key(record, Evidence(record_sha256="a" * 64, files={}))
    assert one != idempotency_key(record, Evidence(record_sha256="b" * 64, files={}))


def test_a_dry_run_shows_the_payload_from_the_gist(published_full_run, published_gist):
    edit_record(published_full_run, lambda r: r["results"].update(score=0.91))
    proc = rla("submit", str(published_full_run.path), "--dry-run")
    assert proc.returncode != 0
    shown = json.loads(proc.stdout)
    assert shown["payload"]["score"]["value"] != 0.91
    assert not shown["gate"]["ok"]


# -- verify's side: coverage against the pinned data ------------------------------------------


def _verify(run):
    from runlocalai_bench.review.source import local_source
    from runlocalai_bench.review.verify import verify_source

    return verify_source(local_source(run.path))


def test_a_full_run_covers_exactly_the_pinned_items(full_run):
    report = _verify(full_run)
    coverage = [f for f in report.findings if f.check == "coverage"]
    assert [(f.status, f.message) for f in coverage] == [
        ("ok", "the samples are exactly the 900 item ids of turkish-mmlu-generative's pinned"
               " data")]


def test_subjects_dropped_and_counters_fixed_fail_verify(full_run):
    """A forger drops a subject, fixes n, expected_n and partial, and rehashes every file:
    the recount agrees, the ids do not."""
    from runlocalai_bench.results.record import file_hashes

    run = full_run
    lines = run.samples.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if json.loads(line)["subtask"] != "biology"]
    run.samples.write_text("".join(kept), encoding="utf-8")
    record = rundir.read_json(run.record)
    record["results"].update(n=800, expected_n=800, partial=False)
    record["files"] = file_hashes(run)
    rundir.write_json_atomic(run.record, record)
    report = _verify(run)
    assert ("coverage", "samples.jsonl", "id") in {(f.check, f.file, f.field)
                                                    for f in report.failures}
    assert any(f.message == "the samples cover 800 of the pinned dataset's 900 items (by"
               " subtask: biology 0/100)" for f in report.failures), report.failures
    assert not report.ok


def test_a_dataset_revision_changed_in_the_record_fails_verify(full_run):
    from runlocalai_bench.results.record import file_hashes

    record = rundir.read_json(full_run.record)
    record["dataset"]["content_sha256"] = record["dataset"]["expected_sha256"] = "cd" * 32
    record["files"] = file_hashes(full_run)
    rundir.write_json_atomic(full_run.record, record)
    report = _verify(full_run)
    assert any(f.check == "coverage" and f.field == "dataset.content_sha256" and
               f.message.startswith("the dataset's content sha256 cdcdcdcdcdcd is not the one"
                                    " tasks/turkish-mmlu-generative.toml pins")
               for f in report.failures), report.failures


# -- bad input -------------------------------------------------------------------------------


def test_a_gist_whose_files_github_lists_only_in_part_is_an_error(published_full_run,
                                                                 published_gist):
    published_gist.truncated_listing = True
    try:
        with pytest.raises(PublishError, match=r"lists only part of the Gist .* \(truncated\)"):
            prepare(published_full_run, published_gist)
    finally:
        published_gist.truncated_listing = False


def test_raw_files_on_another_host_than_the_gist_api_s_are_refused(published_full_run,
                                                                  published_gist):
    other = published_gist.url.replace("127.0.0.1", "localhost")
    assert other != published_gist.url
    with GistClient(None, api_url=other) as client, \
            pytest.raises(PublishError, match=r"is served from 127\.0\.0\.1, not localhost"):
        prepare_submission(published_full_run.path, handle=None, notes=None,
                           publishable=publishable_specs(), gist=client)


def test_verify_refuses_a_gist_listed_in_part_or_served_from_another_host(published_full_run,
                                                                         published_gist):
    url = load_record(published_full_run.record).test_run_log_url
    published_gist.truncated_listing = True
    try:
        proc = rla("verify", url, "--github-api-url", published_gist.url)
    finally:
        published_gist.truncated_listing = False
    assert_user_error(proc, "lists only part of Gist", "(truncated)")
    other = published_gist.url.replace("127.0.0.1", "localhost")
    proc = rla("verify", url, "--github-api-url", other)
    assert_user_error(proc, "is served from 127.0.0.1, not localhost")


def test_a_refused_submission_through_the_cli_is_one_error_and_one_hint(published_full_run,
                                                                        published_gist):
    published_gist.truncated_listing = True
    try:
        proc = rla("submit", str(published_full_run.path), "--dry-run")
    finally:
        published_gist.truncated_listing = False
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("error: GitHub lists only part of the Gist")
    assert lines[1].startswith("hint: ") and len(lines) == 2


# -- rla verify PAYLOAD.json -------------------------------------------------------------------


def _payload_findings(run, gist_api, tmp_path, edit=lambda p: None):
    payload = json.loads(json.dumps(prepare(run, gist_api).payload))
    edit(payload)
    path = tmp_path / "payload.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    proc = rla("verify", str(path), "--json")
    return proc, json.loads(proc.stdout)


def test_verify_holds_every_field_of_a_payload_to_its_gist(published_full_run, published_gist,
                                                          tmp_path):
    proc, report = _payload_findings(published_full_run, published_gist, tmp_path)
    assert proc.returncode == 0, proc.stderr
    payload = [f for f in report["findings"] if f["check"] == "payload"]
    assert payload[0]["status"] == "ok" and payload[0]["message"].startswith(
        "every field the payload states is its Gist's")
    assert payload[1]["field"] == "submitter.handle" and payload[1]["status"] == "skipped"


@pytest.mark.parametrize(("edit", "field"), [
    (lambda p: p["score"].update(value=0.91), "score.value"),
    (lambda p: p["subtasks"][0].update(score=1.0), "subtasks.biology.score"),
    (lambda p: p["model"].update(quantization="Q8_0"), "model.quantization"),
    (lambda p: p["hardware"].update(slug="h100-sxm"), "hardware.slug"),
    (lambda p: p["evidence"].update(gist_id="f" * 32), "evidence.gist_id"),
    (lambda p: p["evidence"].update(record_sha256="0" * 64), "evidence.record_sha256"),
])
def test_a_payload_edited_in_transit_is_flagged_naming_the_field(published_full_run,
                                                                 published_gist, tmp_path,
                                                                 edit, field):
    proc, report = _payload_findings(published_full_run, published_gist, tmp_path, edit)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    failed = {(f["check"], f["field"]) for f in report["findings"] if f["status"] == "failed"}
    assert ("payload", field) in failed, failed


def test_the_payload_says_how_to_start_the_same_server(published_full_run):
    from runlocalai_bench import schemas
    from runlocalai_bench.publish.payload import build_payload

    record = load_record(published_full_run.record)
    launch = record.runtime.settings["launch"]
    assert launch.startswith("llama-server --model ") and "--parallel 1" in launch
    payload = build_payload(record, Evidence(record_sha256="a" * 64, files={}), handle=None,
                            notes="")
    assert payload["reproduction"]["server_launch"] == launch
    assert not list(schemas.validate(payload, schemas.load_schema("submission-v2")))
