"""publish_run on a real finished run: byte-identical Gist files, verified, written back."""

from __future__ import annotations

import base64
import gzip
import json
import re
import shutil

import pytest

from runlocalai_bench.errors import PublishError, RecordError, RunDirError
from runlocalai_bench.publish.flow import (
    README,
    find_secrets,
    gist_bundle,
    prepare_submission,
    publish_run,
    submit_prepared,
)
from runlocalai_bench.publish.gist import GistClient
from runlocalai_bench.publish.leaderboard import LeaderboardClient
from runlocalai_bench.publish.retry import RetryPolicy
from runlocalai_bench.publish.trust import publishable_specs
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.store import RunIndex, RunRow
from tests.publish.fakes import LEADERBOARD_TOKEN, VALID_TOKEN, github_error


def client(github) -> GistClient:
    return GistClient(VALID_TOKEN, api_url=github.url,
                      retry=RetryPolicy(sleep=lambda s: None, attempts=2))


def test_the_gist_holds_the_run_files_byte_for_byte(selfcheck_run, github, tmp_path):
    before = {name: (selfcheck_run.path / name).read_bytes()
              for name in ("run.log", "record.json", "results.json", "samples.jsonl")}
    index = RunIndex(tmp_path / "runs.sqlite")
    index.upsert(RunRow(id=selfcheck_run.id, slug="selfcheck", path=str(selfcheck_run.path),
                        status="complete", fingerprint="f", started_at="2026"))
    with client(github) as gh:
        done = publish_run(selfcheck_run.path, gh, index=index, now=lambda: "2026-05-01T00:00Z")
    uploaded = github.uploaded()
    assert set(uploaded) == {README, *before}
    for name, data in before.items():
        assert uploaded[name] == data, name  # record.json as the run wrote it
    readme = uploaded[README].decode()
    record_before = json.loads(before["record.json"])
    assert record_before["rig"] in readme and record_before["command"]["reproduce"] in readme
    assert "| abstract_algebra |" in readme
    # every uploaded file was fetched back from its raw URL
    assert {g.path.rsplit("/", 1)[1] for g in github.raw_gets} == set(uploaded)

    record = load_record(selfcheck_run.record).to_json()
    assert record["test_run_log_url"] == done.url == record["gist"]["html_url"]
    assert record["gist"]["verified"] is True and record["gist"]["verified_at"] == \
        "2026-05-01T00:00Z"
    assert record["gist"]["files"]["run.log"]["sha256"] == record["files"]["run.log"]
    assert {k: v for k, v in record.items() if k not in ("test_run_log_url", "gist")} == \
        {k: v for k, v in record_before.items() if k not in ("test_run_log_url", "gist")}
    assert index.get(selfcheck_run.id).gist_url == done.url


def test_publishing_again_uploads_nothing(selfcheck_run, github):
    with client(github) as gh:
        first = publish_run(selfcheck_run.path, gh)
        again = publish_run(selfcheck_run.path, gh)
    assert again.already and again.url == first.url and len(github.posts) == 1


@pytest.mark.parametrize("loss", ["502", "hang up"])
def test_a_lost_answer_leaves_one_gist_and_the_record_names_it(selfcheck_run, github, loss):
    github.lose = [loss]
    with client(github) as gh:
        done = publish_run(selfcheck_run.path, gh)
    (gist_id,) = github.gists
    assert len(github.posts) == 1 and len(github.lists) == 1
    record = load_record(selfcheck_run.record).to_json()
    assert record["gist"]["id"] == gist_id == done.gist_id and record["gist"]["verified"]
    assert record["test_run_log_url"] == f"{github.url}/gist/rla-tester/{gist_id}"
    assert {g.path.rsplit("/", 1)[1] for g in github.raw_gets} == set(github.uploaded())


def test_a_502_before_the_gist_was_made_publishes_it_once(selfcheck_run, github):
    github.script = [github_error(502, "Server Error")]
    with client(github) as gh:
        publish_run(selfcheck_run.path, gh)
    (gist_id,) = github.gists
    assert len(github.posts) == 2 and len(github.lists) == 1  # looked, found none, sent again
    assert load_record(selfcheck_run.record).to_json()["gist"]["id"] == gist_id


def test_a_refused_gist_is_not_sent_again(selfcheck_run, github):
    github.script = [github_error(422, "Validation Failed", errors=[
        {"resource": "Gist", "code": "invalid", "field": "description"}])]
    with client(github) as gh, pytest.raises(PublishError, match="422 Validation Failed"):
        publish_run(selfcheck_run.path, gh)
    assert len(github.posts) == 1 and github.lists == [] and github.gists == {}
    assert load_record(selfcheck_run.record).to_json()["test_run_log_url"] is None


def test_each_attempt_marks_its_gist_with_the_run_and_a_fresh_nonce(selfcheck_run, github,
                                                                     tmp_path):
    other = rundir.RunDir(tmp_path / "copy")
    shutil.copytree(selfcheck_run.path, other.path)
    with client(github) as gh:
        publish_run(selfcheck_run.path, gh)
        publish_run(other.path, gh)
    first, second = (post.body["description"] for post in github.posts)
    pattern = rf" \[rla:{re.escape(selfcheck_run.id)}:[0-9a-f]{{12}}\]$"
    assert re.search(pattern, first) and re.search(pattern, second) and first != second


def test_a_gist_that_differs_from_the_local_files_is_not_recorded(selfcheck_run, github):
    github.serve_raw = lambda name, data: data.replace(b"\n", b"\r\n") if name == "run.log" \
        else data
    with client(github) as gh, pytest.raises(PublishError) as info:
        publish_run(selfcheck_run.path, gh)
    assert "run.log differs" in info.value.message and "delete it" in (info.value.hint or "")
    assert load_record(selfcheck_run.record).to_json()["test_run_log_url"] is None


def test_an_edited_run_is_refused_before_any_request(selfcheck_run, github):
    with selfcheck_run.run_log.open("a") as fh:
        fh.write("a line added later\n")
    with client(github) as gh, pytest.raises(RunDirError, match=r"run\.log changed"):
        publish_run(selfcheck_run.path, gh)
    assert github.posts == []


def test_a_file_holding_a_secret_is_refused_before_any_request(selfcheck_run, github):
    secret = "gho_" + "S" * 36  # e.g. a token from `gh auth token`, unknown to the environment
    log = selfcheck_run.run_log.read_text().replace("samples", f"samples {secret}", 1)
    selfcheck_run.run_log.write_text(log)
    record = rundir.read_json(selfcheck_run.record)
    record["files"]["run.log"] = rundir.sha256_file(selfcheck_run.run_log)
    rundir.write_json_atomic(selfcheck_run.record, record)
    with client(github) as gh, pytest.raises(PublishError, match=r"run\.log would publish"):
        publish_run(selfcheck_run.path, gh, secrets=(secret,))
    assert github.posts == []


def test_find_secrets_reads_json_values_not_their_escaping(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    clean = json.dumps({"prompt": 'he said "token=[REDACTED]"'}).encode()
    dirty = json.dumps({"prompt": f"file {tmp_path}/home/x"}).encode()
    assert find_secrets({"a.jsonl": clean + b"\n", "b.json": clean}) == []
    assert find_secrets({"a.jsonl": dirty + b"\n", "b.json": dirty, "c.log": dirty}) == \
        ["a.jsonl", "b.json", "c.log"]


def test_samples_too_large_for_a_raw_url_are_published_whole_in_compact_parts(selfcheck_run):
    from runlocalai_bench.results import compact

    record = load_record(selfcheck_run.record)
    original = selfcheck_run.samples.read_bytes()
    limit = max((selfcheck_run.path / name).stat().st_size
                for name in ("run.log", "record.json", "results.json"))
    assert len(original) > 2 * limit
    bundle = gist_bundle(selfcheck_run, record, max_bytes=limit)
    assert "samples.jsonl" not in bundle.files and "run.log" in bundle.files
    names = compact.part_names(bundle.files)
    assert names == ["samples.compact-1.jsonl.gz.b64"] and len(bundle.files[names[0]]) <= limit
    assert "samples.jsonl is published in compact form" in bundle.omitted[0]
    assert "samples.jsonl is published in compact form" in bundle.files[README].decode()
    parts = {n: bundle.files[n] for n in names}
    # the documented way to read them by hand: concatenate, base64 -d, gunzip
    text = gzip.decompress(base64.b64decode(b"".join(parts.values()))).decode()
    assert [json.loads(line)["id"] for line in text.splitlines()] == [
        json.loads(line)["id"] for line in original.decode().splitlines()]
    prompts = {line["id"]: line["prompt"]
               for line in map(json.loads, original.decode().splitlines())}
    rebuilt, problems = compact.expand(parts, prompts.get)
    assert (rebuilt, problems) == (original, [])
    assert '"prompt"' not in text and '"prompt_sha256"' in text
    split = compact.compact(original, max_bytes=len(bundle.files[names[0]]) // 4)
    assert compact.part_names(split) == [f"samples.compact-{i}.jsonl.gz.b64"
                                         for i in range(1, len(split) + 1)]
    assert len(split) in (4, 5) and all(len(p) <= len(bundle.files[names[0]]) // 4
                                        for p in split.values())
    assert compact.expand(split, prompts.get) == (original, [])
    wrong = {**prompts, next(iter(prompts)): "another prompt"}
    rebuilt, problems = compact.expand(parts, wrong.get)
    assert rebuilt != original and problems == [
        f"sample {next(iter(prompts))}: the prompt rebuilt from the data does not hash to its"
        " prompt_sha256"]


def test_version_1_compact_parts_still_read(selfcheck_run):
    """Gists published before the gzipped form hold the compact lines as plain parts."""
    from runlocalai_bench.results import compact

    original = selfcheck_run.samples.read_bytes()
    lines = compact.compact_lines(original)
    half = lines.index(b"\n", len(lines) // 2) + 1
    plain = {"samples.compact-1.jsonl": lines[:half], "samples.compact-2.jsonl": lines[half:]}
    prompts = {line["id"]: line["prompt"]
               for line in map(json.loads, original.decode().splitlines())}
    assert compact.expand(plain, prompts.get) == (original, [])
    assert compact.compact_text(compact.compact(original, 10_000_000)) == lines


def test_unreadable_compact_parts_are_refused_naming_why(selfcheck_run, monkeypatch):
    from runlocalai_bench.results import compact

    monkeypatch.setattr(compact, "MAX_EXPANDED_BYTES", 100_000)  # a bomb of a test's size
    original = selfcheck_run.samples.read_bytes()
    parts = compact.compact(original, 10_000_000)
    (name,) = parts
    cases = {
        "not base64": {name: parts[name][:-3] + b"!!!"},
        "not a gzip stream": {name: base64.b64encode(b"plain text, not gzip")},
        "cut short": {name: base64.b64encode(base64.b64decode(parts[name])[:-20])},
        "expand beyond": {name: base64.b64encode(
            gzip.compress(b"0" * (compact.MAX_EXPANDED_BYTES + 1)))},
        "is missing": {"samples.compact-2.jsonl.gz.b64": parts[name]},
        "both forms": {name: parts[name], "samples.compact-2.jsonl": b"{}\n"},
    }
    for why, bad in cases.items():
        with pytest.raises(RecordError) as caught:
            compact.compact_text(bad)
        assert why in caught.value.message and caught.value.hint, why


def test_find_secrets_reads_inside_gzipped_compact_parts(tmp_path, monkeypatch):
    from runlocalai_bench.results import compact

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    line = json.dumps({"id": "a", "prompt": "p", "response": f"see {tmp_path}/home/x"})
    parts = compact.compact((line + "\n").encode(), 10_000_000)
    assert find_secrets(parts) == [", ".join(parts)]
    clean = compact.compact(b'{"id": "a", "prompt": "p", "response": "B"}\n', 10_000_000)
    assert find_secrets(clean) == []


def test_a_refused_run_sends_nothing_and_writes_nothing(selfcheck_run, github, leaderboard):
    with client(github) as gh:
        publish_run(selfcheck_run.path, gh)
        before = selfcheck_run.record.read_bytes()
        sub = prepare_submission(selfcheck_run.path, handle="carol", notes="<b>hi</b>",
                                 publishable=publishable_specs(), gist=gh)
    assert not sub.verdict.ok and len(sub.verdict.reasons) == 3
    assert sub.payload["notes"] == "hi" and sub.payload["submitter"] == {"handle": "carol"}
    with LeaderboardClient(leaderboard.url, LEADERBOARD_TOKEN) as lb, \
            pytest.raises(PublishError, match="trust gate refused"):
        submit_prepared(sub, lb)
    assert leaderboard.requests == []
    assert selfcheck_run.record.read_bytes() == before
    assert not (selfcheck_run.path / "submission.json").exists()


def test_an_invalid_handle_is_refused(selfcheck_run):
    from runlocalai_bench.errors import ConfigError

    with pytest.raises(ConfigError, match="--handle"):
        prepare_submission(selfcheck_run.path, handle="<img src=x>", notes=None,
                           publishable=publishable_specs(), gist=None)


def _rewrite_record(run: rundir.RunDir, **fields) -> None:
    """record.json edited by hand, as a submitter could."""
    record = json.loads(run.record.read_text())
    for key, value in fields.items():
        section, _, name = key.partition("__")
        if name:
            record[section][name] = value
        else:
            record[key] = value
    run.record.write_text(json.dumps(record))


def test_notes_already_in_the_record_are_cleaned_and_bounded(selfcheck_run):
    _rewrite_record(selfcheck_run, notes="[x](java\u200bscript:alert(1)) " + "n" * 1_000_000)
    sub = prepare_submission(selfcheck_run.path, handle=None, notes=None,
                             publishable=publishable_specs(), gist=None)
    notes = sub.payload["notes"]
    assert notes.startswith("x n") and len(notes) == 2000 and notes.endswith("…")
    assert "javascript" not in notes and "\u200b" not in notes
    assert sub.record["notes"] == notes


def test_free_text_from_the_model_is_cleaned_in_the_payload(selfcheck_run):
    from runlocalai_bench.publish.flow import payload_errors

    _rewrite_record(selfcheck_run, model__name="<script>x</script>Gemma\u200b [3](javascript:1)",
                    model__family="gem\x07ma3")
    sub = prepare_submission(selfcheck_run.path, handle="alice@example.com", notes=None,
                             publishable=publishable_specs(), gist=None)
    assert sub.payload["model"]["name"] == "Gemma 3"
    assert sub.payload["model"]["family"] == "gemma3"
    assert sub.payload["submitter"] == {"handle": "alice@example.com"}
    # the schema takes an email as a handle (a selfcheck run fails it elsewhere: its dataset)
    errors = payload_errors(sub.payload)
    assert errors and not [e for e in errors if "submitter" in e or "model" in e], errors


def test_a_handle_in_the_record_is_checked_too(selfcheck_run):
    from runlocalai_bench.errors import ConfigError

    _rewrite_record(selfcheck_run, submitter="<img src=x onerror=alert(1)>")
    with pytest.raises(ConfigError, match=r"record\.json's submitter"):
        prepare_submission(selfcheck_run.path, handle=None, notes=None,
                           publishable=publishable_specs(), gist=None)
    _rewrite_record(selfcheck_run, submitter="bo\u200bb")
    sub = prepare_submission(selfcheck_run.path, handle=None, notes=None,
                             publishable=publishable_specs(), gist=None)
    assert sub.payload["submitter"] == {"handle": "bob"}


def test_a_signed_run_carries_its_signature_to_the_gist(selfcheck_run, tmp_path):
    from runlocalai_bench.signing import init_keys, require_private_key, sign_run

    init_keys(tmp_path / "keys")
    sign_run(selfcheck_run.path, require_private_key(tmp_path / "keys"))
    bundle = gist_bundle(selfcheck_run, load_record(selfcheck_run.record))
    assert bundle.files["record.sig"] == (selfcheck_run.path / "record.sig").read_bytes()
