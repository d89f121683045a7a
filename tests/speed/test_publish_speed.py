"""A hardware row goes through the same record, Gist and submit flow as a quality row: a real
speed run against a streaming loopback llama-server, published to the loopback Gist API, judged
by the trust gate and submitted to the loopback leaderboard, which validates the payload
against speed-submission-v1."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from runlocalai_bench import schemas
from runlocalai_bench.publish.flow import prepare_submission, publish_run, submit_prepared
from runlocalai_bench.publish.gist import GistClient, gist_name
from runlocalai_bench.publish.leaderboard import LeaderboardClient
from runlocalai_bench.publish.trust import check_gate, publishable_specs
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from tests.publish.fakes import LEADERBOARD_TOKEN, VALID_TOKEN
from tests.speed.forgery import forge_decode
from tests.support.cli import assert_user_error, rla
from tests.support.streaming import StreamingLlamaServer


@pytest.fixture
def speed_run(serving, speed, gpu_rig) -> rundir.RunDir:
    """A plausible RTX 4090 run: 400 tok/s on a 253 MB model, ceiling 4582 tok/s."""
    outcome = speed(serving(StreamingLlamaServer(decode_tps=lambda n: 400.0)).url, gpu_rig)
    assert outcome.refusals == []
    return outcome.run


def publish(run: rundir.RunDir, github) -> None:
    with GistClient(VALID_TOKEN, api_url=github.url) as client:
        publish_run(run.path, client)


def gate(run: rundir.RunDir) -> list[str]:
    return list(check_gate(load_record(run.record), run.path, publishable_specs()).reasons)


def test_speed_is_a_publishable_benchmark_and_its_record_has_its_own_schema(speed_run):
    record = rundir.read_json(speed_run.record)
    assert "speed" in publishable_specs()
    assert schemas.record_schema(record) == schemas.SPEED_RECORD
    assert schemas.validate(record, schemas.load_schema(schemas.SPEED_RECORD)) == []
    # the quality schema would not take it: no dataset, no results
    errors = schemas.validate(record, schemas.load_schema(schemas.RECORD))
    assert any("results" in e for e in errors) and any("dataset" in e for e in errors)


def test_the_gist_holds_every_runs_log_under_a_flat_name(speed_run, github):
    publish(speed_run, github)
    record = rundir.read_json(speed_run.record)
    (stored,) = github.gists.values()
    logs = [name for name in record["files"] if name.startswith("runs/")]
    assert len(logs) == 4  # warm-up and three counted runs
    for name in logs:
        assert (speed_run.path / name).read_bytes() == stored[gist_name(name)]
        assert record["gist"]["files"][gist_name(name)]["sha256"] == record["files"][name]
    assert stored["run.log"] == (speed_run.path / "run.log").read_bytes()
    assert "results.json" not in stored and "samples.jsonl" not in stored
    readme = stored["README.md"].decode()
    decode = record["speed"]["summary"]["decode_tps"]["median"]
    assert f"{decode:.1f} tok/s decode" in readme and "runs-run-3.log" in readme
    assert record["speed"]["logs_sha256"] in readme


def test_a_published_speed_run_passes_the_gate_and_is_submitted(speed_run, github,
                                                                 leaderboard):
    assert any("publish the run log first" in r for r in gate(speed_run))
    publish(speed_run, github)
    assert gate(speed_run) == []

    with GistClient(None, api_url=github.url) as gist:
        sub = prepare_submission(speed_run.path, handle="tok-tester", notes=None,
                                 publishable=publishable_specs(), gist=gist)
    with LeaderboardClient(leaderboard.url, LEADERBOARD_TOKEN) as client:
        receipt = submit_prepared(sub, client)
    assert receipt.status == "queued" and not receipt.duplicate

    (sent,) = leaderboard.submissions()
    payload = sent.body
    assert payload["kind"] == "speed" and payload["benchmark"]["slug"] == "speed"
    assert schemas.validate(payload, schemas.load_schema(schemas.SPEED_SUBMISSION)) == []
    record = rundir.read_json(speed_run.record)
    s = payload["speed"]
    assert s["decode_tps"]["median"] == record["speed"]["summary"]["decode_tps"]["median"]
    assert len(s["runs"]) == 3 and s["batch"] == 1 and s["reproduced"] is True
    assert s["runs"][0]["engine_timings_raw"]["predicted_per_second"] == pytest.approx(400.0)
    assert s["ceiling"]["checked"] is True and s["ceiling"]["limit_tps"] > 4000
    counted = b"".join((speed_run.path / r["log"]).read_bytes()
                       for r in record["speed"]["runs"] if r["counted"])
    assert payload["evidence"]["logs_sha256"] == hashlib.sha256(counted).hexdigest()
    assert payload["evidence"]["test_run_log_url"] == record["test_run_log_url"]
    assert payload["environment"]["driver"] == "550.54.15"
    assert payload["submitter"]["handle"] == "tok-tester"
    assert sent.headers["Idempotency-Key"] == payload["idempotency_key"]


def test_a_fabricated_record_above_the_ceiling_is_refused_with_the_reason(speed_run, github):
    publish(speed_run, github)
    record = rundir.read_json(speed_run.record)
    forge_decode(record, 50_000.0)  # every figure consistent, as a forger would
    rundir.write_json_atomic(speed_run.record, record)

    reasons = gate(speed_run)
    above = [r for r in reasons if "exceeds the memory-bandwidth ceiling" in r]
    assert len(above) == 3, reasons
    assert "decode 50000.0 tok/s (engine) exceeds the memory-bandwidth ceiling 4582.3 tok/s" \
        in above[0] and "1008.1 GB/s (measured-nvml)" in above[0]


def test_a_run_log_changed_after_the_record_is_refused(speed_run, github):
    publish(speed_run, github)
    log = speed_run.path / "runs" / "run-2.log"
    log.write_text(log.read_text().replace("400", "900"))
    reasons = gate(speed_run)
    assert "runs/run-2.log changed after the record was written (sha256 differs)" in reasons
    assert "the counted runs' logs, concatenated, do not hash to speed.logs_sha256" in reasons


def test_a_gist_without_a_runs_log_is_refused(speed_run, github):
    publish(speed_run, github)
    record = rundir.read_json(speed_run.record)
    del record["gist"]["files"]["runs-run-1.log"]
    rundir.write_json_atomic(speed_run.record, record)
    assert gate(speed_run) == ["the Gist lacks runs/run-1.log as runs-run-1.log (or its sha256"
                               " differs): publish again"]


def test_a_speed_that_did_not_settle_is_not_submitted(serving, speed, gpu_rig, github):
    swings = StreamingLlamaServer(decode_tps=lambda n: 200.0 if n % 2 else 400.0)
    run = speed(serving(swings).url, gpu_rig).run
    publish(run, github)
    record = rundir.read_json(run.record)
    assert record["speed"]["reproduced"] is False
    reasons = gate(run)
    assert any(r.startswith("the speed did not settle (spread") and "quiet machine" in r
               for r in reasons), reasons


def test_the_gist_api_refuses_a_name_with_a_slash(github):
    with GistClient(VALID_TOKEN, api_url=github.url) as client, \
            pytest.raises(Exception, match="422"):
        client.create("x", {"runs/run-1.log": "text"})


# -- the command line ----------------------------------------------------------------------


def test_rla_bench_speed_publish_and_submit_from_the_command_line(serving, tmp_path: Path,
                                                                  github, leaderboard):
    url = serving(StreamingLlamaServer(decode_tps=lambda n: 35.0)).url
    env = {"GH_TOKEN": VALID_TOKEN, "RLA_GITHUB_API_URL": github.url,
           "RLA_SUBMIT_TOKEN": LEADERBOARD_TOKEN, "RLA_LEADERBOARD_URL": leaderboard.url}
    proc = rla("bench", "speed", "--endpoint", url, "--n-predict", "4", "--output-dir",
               str(tmp_path), "--publish", env=env, process=True)
    assert proc.returncode == 0, proc.stderr
    (run_path,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    record = rundir.read_json(run_path / "record.json")
    assert record["gist"]["verified"] is True and record["test_run_log_url"] in proc.stdout

    dry = rla("submit", str(run_path), "--dry-run", env=env)
    verdict_and_payload = dry.stdout
    assert dry.returncode == 0, dry.stderr
    assert '"kind": "speed"' in verdict_and_payload
    sent = rla("submit", str(run_path), "--yes", env=env)
    assert sent.returncode == 0, sent.stderr
    assert "decode 35.0 tok/s (3 runs, spread 0.0%)" in sent.stderr
    (stored,) = leaderboard.stored.values()
    assert stored["payload"]["speed"]["decode_tps"]["median"] == 35.0
    assert json.loads((run_path / "submission.json").read_text())["id"] == stored["id"]


def test_rla_submit_refuses_a_fabricated_speed_record_and_says_why(speed_run, github,
                                                                 leaderboard):
    publish(speed_run, github)
    record = rundir.read_json(speed_run.record)
    for run in record["speed"]["runs"]:  # 20,000 tok/s: only the figures, not the observations
        run["metrics"]["decode_tps"] = 20_000.0
    record["speed"]["summary"]["decode_tps"]["median"] = 20_000.0
    rundir.write_json_atomic(speed_run.record, record)
    env = {"RLA_SUBMIT_TOKEN": LEADERBOARD_TOKEN, "RLA_LEADERBOARD_URL": leaderboard.url,
           "RLA_GITHUB_API_URL": github.url}
    proc = rla("submit", str(speed_run.path), "--yes", env=env)
    assert_user_error(proc, first=False)
    assert "error: the trust gate refused this run" in proc.stderr
    assert "record.json differs from the one published in the Gist at" \
        " speed.summary.decode_tps.median" in proc.stderr
    assert "run-1: recorded decode tok/s 20000.0 does not follow from its observations" \
        in proc.stderr
    assert "summary decode tok/s 20000.0 does not follow from the counted runs" in proc.stderr
    assert leaderboard.submissions() == []


def test_rla_rescore_says_a_speed_run_has_nothing_to_rescore(speed_run):
    proc = rla("rescore", str(speed_run.path))
    assert_user_error(proc)
    assert f"error: {speed_run.id} is a speed run: it has no scored samples" in proc.stderr
    assert "hint: `rla verify` re-derives its figures" in proc.stderr


def test_a_record_naming_logs_outside_the_run_directory_is_refused(speed_run, github):
    publish(speed_run, github)
    record = rundir.read_json(speed_run.record)
    record["speed"]["runs"][0]["log"] = "../../etc/passwd"
    record["files"]["../../etc/passwd"] = record["files"].pop("runs/run-1.log")
    rundir.write_json_atomic(speed_run.record, record)
    reasons = gate(speed_run)
    assert "speed.runs names a log outside the run directory's runs/" in reasons
    assert "record.json lists files a speed run does not write: ../../etc/passwd" in reasons


def test_rla_submit_without_a_token_names_the_variable(speed_run, github, leaderboard):
    publish(speed_run, github)
    proc = rla("submit", str(speed_run.path), "--yes",
               env={"RLA_LEADERBOARD_URL": leaderboard.url, "RLA_GITHUB_API_URL": github.url})
    assert_user_error(proc)
    # The variable's name must survive redaction ("token: X" reads like a secret's value).
    assert "error: no leaderboard token (RLA_SUBMIT_TOKEN is unset)" in proc.stderr
    assert "hint: export RLA_SUBMIT_TOKEN=" in proc.stderr and leaderboard.requests == []


def test_a_speed_run_keeps_endpoint_credentials_out_of_every_artifact(serving, tmp_path: Path,
                                                                       github, leaderboard):
    """rla bench speed … --publish --submit --yes with a token as the endpoint's userinfo: no
    terminal needed, and the token is in no run file, run log, index, Gist or console line."""
    where = serving(StreamingLlamaServer(decode_tps=lambda n: 35.0)).url.removeprefix("http://")
    env = {"GH_TOKEN": VALID_TOKEN, "RLA_GITHUB_API_URL": github.url,
           "RLA_SUBMIT_TOKEN": LEADERBOARD_TOKEN, "RLA_LEADERBOARD_URL": leaderboard.url}
    proc = rla("bench", "speed", "--endpoint", f"http://T0KENV4LUE@{where}", "--n-predict", "4",
               "--output-dir", str(tmp_path / "runs"), "--publish", "--submit", "--yes", env=env,
               process=True)
    assert proc.returncode == 0, proc.stderr
    assert len(leaderboard.submissions()) == 1
    files = [*(tmp_path / "runs").rglob("*"), *Path(os.environ["RLA_HOME"]).rglob("*")]
    blobs = {str(f): f.read_bytes() for f in files if f.is_file()}
    assert any(name.endswith("run-1.log") for name in blobs)
    blobs |= {f"gist {gid}:{name}": body for gid, gist in github.gists.items()
              for name, body in gist.items()}
    blobs |= {"leaderboard": json.dumps(leaderboard.submissions()[0].body).encode(),
              "console": (proc.stdout + proc.stderr).encode()}
    for name, blob in blobs.items():
        assert b"T0KENV4LUE" not in blob, name
    record = load_record(next((tmp_path / "runs").iterdir()) / "record.json")
    assert f"http://[REDACTED]@{where}" in record.command.reproduce
