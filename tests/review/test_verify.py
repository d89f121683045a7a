"""`verify` on real runs: untouched ones pass; each kind of tampering is named by file and field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runlocalai_bench import signing
from runlocalai_bench.errors import PublishError
from runlocalai_bench.evals import load_eval
from runlocalai_bench.results import record as record_mod
from runlocalai_bench.results import rundir
from runlocalai_bench.results.sampleline import SampleLine
from runlocalai_bench.review.scores import results_block
from runlocalai_bench.review.source import open_source
from runlocalai_bench.review.verify import CHECKS, verify_source
from runlocalai_bench.types import to_dict
from tests.review.conftest import failed, publish, verify


def flip(path: Path, position: int) -> None:
    data = bytearray(path.read_bytes())
    old = data[position]
    data[position] = ord("7") if old != ord("7") else ord("3")
    path.write_bytes(bytes(data))


def rehash(run: rundir.RunDir) -> None:
    """What a careful forger does after editing files: write their new hashes into the record."""
    record = rundir.read_json(run.record)
    record["files"] = record_mod.file_hashes(run)
    rundir.write_json_atomic(run.record, record)


def test_an_untouched_run_passes_every_check(original):
    report = verify(original)

    assert report.ok, report.failures
    assert {f.check for f in report.findings} == set(CHECKS)
    statuses = {f.check: f.status for f in report.findings}
    assert statuses["signature"] == "skipped"  # unsigned
    assert all(statuses[c] == "ok" for c in CHECKS if c != "signature")
    assert report.rescore is not None and report.rescore.results.n == 12


@pytest.mark.parametrize("name", [rundir.RUN_LOG, rundir.SAMPLES, rundir.RESULTS])
def test_changing_any_byte_of_a_run_file_is_named(original, tmp_path, name):
    size = (original.path / name).stat().st_size
    for position in (0, size // 3, size // 2, size - 2):
        run = rundir.RunDir(tmp_path / f"{name}-{position}")
        shutil.copytree(original.path, run.path)
        flip(run.path / name, position)
        report = verify(run)
        assert ("files", name, f"files.{name}") in failed(report), (position, report.failures)


def test_changing_any_byte_of_a_signed_record_is_detected(original, tmp_path):
    signing.init_keys(tmp_path / "keys")
    signing.sign_run_if_keyed(original.path, tmp_path / "keys")
    assert verify(original).ok
    pristine = original.record.read_bytes()
    signed_content = signing.canonical_record(json.loads(pristine))
    changed = 0
    for position in range(0, len(pristine), max(1, len(pristine) // 40)):
        flip(original.record, position)
        try:
            content = signing.canonical_record(json.loads(original.record.read_bytes()))
        except ValueError:
            content = b"not json"
        if content != signed_content:
            changed += 1
            assert not verify(original).ok, (position, pristine[position - 20:position + 20])
        original.record.write_bytes(pristine)
    assert changed >= 30


def test_an_edited_score_is_caught_by_recounting_and_rescoring(original):
    """A forger raises the claimed score in record.json and results.json alike and rehashes."""
    record = rundir.read_json(original.record)
    record["results"]["score"] = 0.75
    rundir.write_json_atomic(original.record, record)
    results = rundir.read_json(original.results)
    results["score"] = 0.75
    rundir.write_json_atomic(original.results, results)
    rehash(original)

    found = failed(verify(original))
    assert ("samples", rundir.RECORD, "results.score") in found
    assert ("rescore", rundir.RECORD, "results.score") in found
    assert not any(check == "files" for check, _, _ in found)


def test_a_forged_sample_is_caught_only_by_rescoring(original):
    """Every number consistent, every hash recomputed: one wrong answer marked right. Only
    replaying the recorded generation through the scorer exposes it."""
    lines = rundir.read_samples(original.samples)
    wrong = next(line for line in lines if line["score"] == 0.0)
    wrong.update(score=1.0, extracted=wrong["target"])
    original.samples.write_text("".join(json.dumps(line, sort_keys=True, ensure_ascii=False)
                                        + "\n" for line in lines), encoding="utf-8")
    eval_ = load_eval("selfcheck")
    forged = eval_.aggregate([SampleLine.from_json(line).result() for line in lines],
                             expected_n=12)
    results = {**to_dict(forged), "partial": True}
    rundir.write_json_atomic(original.results, results)
    record = rundir.read_json(original.record)
    block = results_block(forged)
    record["results"].update({k: block[k] for k in ("score", "stderr", "macro", "subtasks",
                                                    "categories")})
    rundir.write_json_atomic(original.record, record)
    rehash(original)

    found = failed(verify(original))
    checks = {check for check, _, _ in found}
    assert checks == {"rescore", "log"}  # the log still prints the honest headline
    assert ("rescore", rundir.SAMPLES, f"{wrong['id']}.score") in found
    assert ("rescore", rundir.SAMPLES, f"{wrong['id']}.extracted") in found
    assert ("rescore", rundir.RECORD, "results.score") in found


def test_a_record_of_another_methodology_is_refused_by_name(original):
    record = rundir.read_json(original.record)
    record["benchmark"]["spec_sha256"] = "0" * 64
    rundir.write_json_atomic(original.record, record)

    found = failed(verify(original))
    assert ("rescore", rundir.RECORD, "benchmark.spec_sha256") in found
    assert ("samples", rundir.RECORD, "benchmark.spec_sha256") in found


def test_a_log_that_tells_another_story(original):
    log = original.run_log.read_text(encoding="utf-8")
    rig = next(line for line in log.splitlines() if line.startswith("rig "))
    original.run_log.write_text(log.replace(rig, "rig        ollama-0.24.0 rtx-5080"),
                                encoding="utf-8")
    rehash(original)

    assert failed(verify(original)) == {("log", rundir.RUN_LOG, "rig")}


def test_a_record_that_breaks_the_schema_names_the_field(original):
    record = rundir.read_json(original.record)
    record["results"]["n"] = "twelve"
    rundir.write_json_atomic(original.record, record)

    assert ("schema", rundir.RECORD, "results.n") in failed(verify(original))


# -- from a Gist -----------------------------------------------------------------------------


def test_a_published_gist_verifies_from_its_url(original, github, tmp_path):
    signing.init_keys(tmp_path / "keys")
    signer = signing.sign_run_if_keyed(original.path, tmp_path / "keys")
    url = publish(original, github)
    # the Gist has no record.sig yet (publish uploads rla's four files): copy it by hand
    gist_id = url.rsplit("/", 1)[-1]
    github.gists[gist_id][signing.SIGNATURE] = (original.path / signing.SIGNATURE).read_bytes()

    with open_source(url, api_url=github.url) as source:
        report = verify_source(source)
        assert sorted(p.name for p in source.run.path.iterdir()) == sorted(
            [rundir.RECORD, rundir.RUN_LOG, rundir.SAMPLES, rundir.RESULTS, signing.SIGNATURE])
    assert report.ok, report.failures
    assert report.origin == url and signer is not None and report.signer == signer.key_id


def test_a_gist_whose_samples_differ_fails_on_that_file(original, github):
    url = publish(original, github)
    github.serve_raw = lambda name, data: data.replace(b'"score": 0.0', b'"score": 1.0') \
        if name == rundir.SAMPLES else data

    with open_source(url, api_url=github.url) as source:
        report = verify_source(source)
    assert ("files", rundir.SAMPLES, f"files.{rundir.SAMPLES}") in failed(report)


def test_a_gist_that_is_not_a_run(github):
    gist_id = github.add("not a run", {"notes.txt": b"hello"})
    with pytest.raises(PublishError, match=r"holds no record\.json"), \
            open_source(f"https://gist.github.com/u/{gist_id}", api_url=github.url):
        pass
    with pytest.raises(PublishError, match="no public Gist"), \
            open_source(f"https://gist.github.com/u/{'cd' * 16}", api_url=github.url):
        pass
