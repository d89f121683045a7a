"""`rla publish`, `rla submit`, `rla schema` and `rla bench --publish --submit` as a user runs
them, against loopback Gist and leaderboard servers: in this process through the entry point,
and in a real process where a run's own console output is checked (run.log tees the file
descriptors) or a terminal answers the consent prompt."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from runlocalai_bench import schemas
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.store import RunIndex, RunRow
from tests.publish.fakes import LEADERBOARD_TOKEN, VALID_TOKEN
from tests.support.cli import assert_user_error, rla
from tests.support.data import benchmark_data
from tests.support.llama_stub import StubLlamaServer

# Each test makes a run or several `rla` calls: seconds, not milliseconds. The same flows run
# through the library, faster, in test_publish_flow.py and test_trust.py.
pytestmark = pytest.mark.integration


def env_for(github=None, leaderboard=None, **extra: str) -> dict[str, str]:
    env = dict(extra)
    if github is not None:
        env.update(GH_TOKEN=VALID_TOKEN, RLA_GITHUB_API_URL=github.url)
    if leaderboard is not None:
        env.update(RLA_SUBMIT_TOKEN=LEADERBOARD_TOKEN, RLA_LEADERBOARD_URL=leaderboard.url)
    return env


def index_row(run: rundir.RunDir) -> RunIndex:
    index = RunIndex(Path(os.environ["RLA_HOME"]) / "runs.sqlite")
    index.upsert(RunRow(id=run.id, slug="x", path=str(run.path), status="complete",
                        fingerprint="f", started_at="2026-05-01"))
    return index


# -- the round trip --------------------------------------------------------------------------


def test_run_publish_submit_round_trip(full_run, github, leaderboard):
    index = index_row(full_run)
    local = {name: (full_run.path / name).read_bytes()
             for name in ("run.log", "samples.jsonl", "results.json", "record.json")}
    published = rla("publish", full_run.id, env=env_for(github))  # by run id, via the index
    assert published.returncode == 0, published.stderr
    url = published.stdout.strip()
    uploaded = github.uploaded()
    for name, data in local.items():
        assert uploaded[name] == data, f"{name} in the Gist is not byte-identical"
    assert "verified" in published.stderr and "trust gate" not in published.stderr

    submitted = rla("submit", str(full_run.path), "--yes", "--handle", "alice", "--notes",
                    "<script>alert(1)</script>Ran on [my box](javascript:alert(1)).",
                    env=env_for(github, leaderboard=leaderboard))
    assert submitted.returncode == 0, submitted.stderr
    (seen,) = leaderboard.submissions()
    payload = seen.body
    assert schemas.validate(payload, schemas.load_schema(schemas.SUBMISSION)) == []
    assert seen.headers["Idempotency-Key"] == payload["idempotency_key"]
    assert seen.headers["Authorization"] == f"Bearer {LEADERBOARD_TOKEN}"
    record = load_record(full_run.record).to_json()
    assert payload["evidence"]["test_run_log_url"] == url == record["test_run_log_url"]
    assert payload["evidence"]["run_log_sha256"] == rundir.sha256_file(full_run.run_log)
    assert payload["evidence"]["record_sha256"] == record["gist"]["files"]["record.json"][
        "sha256"]
    assert payload["rig"] == record["rig"] and payload["model"]["quantization"] == "Q4_K_M"
    assert payload["reproduction"]["command"] == record["command"]["reproduce"]
    assert len(payload["subtasks"]) == 9 and payload["score"]["n"] == 900
    assert payload["submitter"] == {"handle": "alice"}
    assert payload["notes"] == "Ran on my box."
    assert (record["submitter"], record["notes"]) == ("alice", "Ran on my box.")
    receipt = json.loads((full_run.path / "submission.json").read_text())
    assert receipt["id"] == submitted.stdout.strip() == "sub_0001"
    assert receipt["status"] == "queued" and receipt["idempotency_key"] == payload[
        "idempotency_key"]
    row = index.get(full_run.id)
    assert (row.gist_url, row.submission_id, row.submission_status) == (url, "sub_0001",
                                                                         "queued")

    again = rla("submit", str(full_run.path), "--yes",
                env=env_for(github, leaderboard=leaderboard))
    assert again.returncode == 0, again.stderr
    assert "already submitted as sub_0001" in again.stderr
    assert len(leaderboard.stored) == 1 and len(leaderboard.submissions()) == 2
    kept = json.loads((full_run.path / "submission.json").read_text())
    assert kept["duplicate"] is True and kept["submitted_at"] == receipt["submitted_at"]


def test_dry_run_prints_exactly_what_submit_sends(published_full_run, leaderboard):
    env = env_for(leaderboard=leaderboard)
    dry = rla("submit", str(published_full_run.path), "--dry-run", "--handle", "bob", env=env)
    assert dry.returncode == 0, dry.stderr
    shown = json.loads(dry.stdout)
    assert shown["gate"] == {"ok": True, "reasons": []}
    assert leaderboard.requests == []
    checked = rla("submit", str(published_full_run.path), "--dry-run", "--server-check",
                  "--handle", "bob", env=env)
    assert json.loads(checked.stdout)["gate"]["server"] == {"valid": True, "errors": []}
    assert {s.path for s in leaderboard.requests} == {"/v1/submissions/dry-run"}
    sent = rla("submit", str(published_full_run.path), "--yes", "--handle", "bob", env=env)
    assert sent.returncode == 0, sent.stderr
    assert leaderboard.submissions()[0].body == shown["payload"]
    assert leaderboard.submissions()[0].headers["Idempotency-Key"] == shown["idempotency_key"]


def test_without_a_terminal_or_yes_nothing_is_sent(published_full_run, leaderboard):
    proc = rla("submit", str(published_full_run.path), env=env_for(leaderboard=leaderboard))
    assert_user_error(proc, "no terminal", "--yes", first=False)
    assert leaderboard.requests == []
    assert not (published_full_run.path / "submission.json").exists()


def _submit_on_a_terminal(run_path: Path, answer: str, env: dict[str, str]):
    """`rla submit` with a pseudo-terminal as stdin, answering the consent prompt."""
    import pty
    import subprocess
    import sys

    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "runlocalai_bench", "submit",
                                 str(run_path)], stdin=terminal, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
        os.write(controller, f"{answer}\n".encode())
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(controller)
        os.close(terminal)
    return proc.returncode, out, err


@pytest.mark.parametrize("answer", ["n", "y"])
def test_on_a_terminal_consent_is_asked(published_full_run, leaderboard, answer):
    code, out, err = _submit_on_a_terminal(published_full_run.path, answer,
                                           env_for(leaderboard=leaderboard))
    assert "Submit this run to the leaderboard?" in err
    if answer == "n":
        assert code != 0 and "not submitted" in err and leaderboard.requests == []
    else:
        assert code == 0, err
        assert out.strip() == "sub_0001" and len(leaderboard.submissions()) == 1


def test_missing_api_url_or_token_is_reported_before_consent(published_full_run, leaderboard):
    no_url = rla("submit", str(published_full_run.path), "--yes",
                 env={"RLA_SUBMIT_TOKEN": LEADERBOARD_TOKEN})
    assert_user_error(no_url, "no leaderboard API URL", "--api-url")
    no_token = rla("submit", str(published_full_run.path), "--yes", "--api-url",
                   leaderboard.url)
    assert_user_error(no_token, "RLA_SUBMIT_TOKEN")
    assert leaderboard.requests == []


# -- the gate refuses, nothing leaves --------------------------------------------------------


def test_a_gate_failure_lists_every_reason_and_sends_nothing(selfcheck_run, github,
                                                             leaderboard):
    proc = rla("submit", str(selfcheck_run.path), "--yes",
               env=env_for(github, leaderboard))
    assert_user_error(proc, "trust gate refused", "nothing was sent", first=False)
    listed = [line for line in proc.stderr.splitlines() if line.startswith("  - ")]
    assert len(listed) == 4, proc.stderr
    for needle in ("'selfcheck' is not published", "bundled sample", "partial",
                   "test_run_log_url is not set"):
        assert any(needle in line for line in listed), (needle, listed)
    assert leaderboard.requests == [] and github.posts == []

    dry = rla("submit", str(selfcheck_run.path), "--dry-run", env=env_for(github, leaderboard))
    assert dry.returncode == 1
    shown = json.loads(dry.stdout)
    assert shown["gate"]["ok"] is False and len(shown["gate"]["reasons"]) == 4
    assert shown["payload"]["benchmark"]["slug"] == "selfcheck"
    assert leaderboard.requests == []


def test_publish_then_the_gate_names_what_is_left(selfcheck_run, github):
    proc = rla("publish", str(selfcheck_run.path), env=env_for(github))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == load_record(selfcheck_run.record).test_run_log_url
    assert "trust gate would refuse" in proc.stderr and "bundled sample" in proc.stderr


def test_publish_takes_the_token_from_gh_when_the_environment_has_none(selfcheck_run, github,
                                                                      tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(f"#!/bin/sh\n[ \"$1 $2\" = \"auth token\" ] && echo {VALID_TOKEN}\n")
    gh.chmod(0o755)
    env = {"RLA_GITHUB_API_URL": github.url, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    proc = rla("publish", str(selfcheck_run.path), env=env)
    assert proc.returncode == 0, proc.stderr
    assert github.posts[0].headers["Authorization"] == f"Bearer {VALID_TOKEN}"


def test_publish_without_any_token(selfcheck_run, github, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    proc = rla("publish", str(selfcheck_run.path),
               env={"RLA_GITHUB_API_URL": github.url, "PATH": str(empty)})
    # The variables' names must survive redaction ("token: X" reads like a secret's value).
    assert_user_error(proc, "no GitHub token (GH_TOKEN and GITHUB_TOKEN are unset", "gh auth login")
    assert github.posts == []


def test_publish_reports_a_missing_gist_scope(selfcheck_run, github):
    github.gist_scope = False
    proc = rla("publish", str(selfcheck_run.path), env=env_for(github))
    assert_user_error(proc, "404", "gist scope")
    assert load_record(selfcheck_run.record).to_json()["test_run_log_url"] is None


def test_publish_refuses_an_unfinished_run(tmp_path, github):
    run = rundir.create(tmp_path, "r1", {"slug": "selfcheck"})
    proc = rla("publish", str(run.path), env=env_for(github))
    assert_user_error(proc, "no record.json")
    assert github.posts == []


# -- schema ----------------------------------------------------------------------------------


def test_schema_prints_the_versioned_schemas():
    record = rla("schema")
    assert record.returncode == 0, record.stderr
    assert json.loads(record.stdout) == schemas.load_schema("record-v4")
    submission = rla("schema", "submission-v1")
    assert json.loads(submission.stdout)["properties"]["schema_version"]["const"] == 1
    assert_user_error(rla("schema", "nope"), "no schema named")


def test_a_refused_dry_run_says_truthfully_what_went_where(selfcheck_run, leaderboard):
    env = env_for(leaderboard=leaderboard)
    local = rla("submit", str(selfcheck_run.path), "--dry-run", env=env)
    assert_user_error(local, "trust gate refused", "nothing was sent", first=False)
    assert leaderboard.requests == []
    checked = rla("submit", str(selfcheck_run.path), "--dry-run", "--server-check", env=env)
    assert_user_error(checked, "trust gate refused",
                   f"sent only to the dry-run endpoint {leaderboard.url}/v1/submissions/dry-run",
                   "stores nothing", "nothing was submitted", first=False)
    assert "nothing was sent" not in checked.stderr
    assert [s.path for s in leaderboard.requests] == ["/v1/submissions/dry-run"]
    assert leaderboard.submissions() == []


def test_a_leaderboard_url_with_credentials_is_never_printed(published_full_run, leaderboard):
    where = leaderboard.url.removeprefix("http://")
    env = {"RLA_SUBMIT_TOKEN": LEADERBOARD_TOKEN,
           "RLA_LEADERBOARD_URL": f"http://LBUSER:LBPASS@{where}"}
    proc = rla("submit", str(published_full_run.path), "--yes", env=env)
    # userinfo makes httpx send Basic credentials, which this leaderboard refuses
    assert_user_error(proc, first=False)
    assert f"to          http://[REDACTED]@{where}" in proc.stderr
    for secret in ("LBUSER", "LBPASS"):
        assert secret not in proc.stdout + proc.stderr


# -- bench chaining ------------------------------------------------------------------------


def test_bench_publish_submit_chains_publish_and_the_gated_submit(tmp_path, github,
                                                                  leaderboard):
    stub = StubLlamaServer(policy=lambda p: "B").start()
    try:
        proc = rla("bench", "selfcheck", "--endpoint", stub.url, "--model", "stub",
                   "--output-dir", str(tmp_path / "runs"), "--publish", "--submit", "--json",
                   env=env_for(github, leaderboard), process=True)
    finally:
        stub.stop()
    assert_user_error(proc, "trust gate refused", first=False)
    assert json.loads(proc.stdout)["slug"] == "selfcheck"  # stdout stays the results JSON
    (run_path,) = (tmp_path / "runs").iterdir()
    assert len(github.gists) == 1
    assert load_record(rundir.RunDir(run_path).record).to_json()["gist"]["verified"] is True
    assert leaderboard.requests == []


def test_bench_submit_with_yes_needs_no_terminal(tmp_path, github, leaderboard):
    data = benchmark_data("turkishmmlu") / "turkishmmlu"
    stub = StubLlamaServer(policy=lambda p: "B").start()
    try:
        proc = rla("bench", "turkish-mmlu-generative", "--endpoint", stub.url, "--model", "stub",
                   "--data-dir", str(data), "--concurrency", "1", "--output-dir",
                   str(tmp_path / "runs"), "--publish", "--submit", "--yes",
                   env=env_for(github, leaderboard), process=True)
    finally:
        stub.stop()
    assert proc.returncode == 0, proc.stderr
    assert "submitted as sub_0001" in proc.stderr
    (seen,) = leaderboard.submissions()
    assert seen.body["benchmark"]["slug"] == "turkish-mmlu-generative"


# -- planted secrets -------------------------------------------------------------------------

PLANTED_GH = "ghp_" + "Pl4nt3d" * 5 + "x"  # the GH_TOKEN of this test
PLANTED_KEY = "sk-proj-" + "S3cr3tK3y" * 3  # a key nobody set in the environment


def _tiny_mmlu(root: Path, home: Path) -> Path:
    data = root / "data"
    (data / "dev").mkdir(parents=True)
    (data / "test").mkdir(parents=True)
    dev = [[f"Shot {i}?", "a", "b", "c", "d", "ABCDA"[i]] for i in range(5)]
    test = [
        [f"My token is {PLANTED_GH}; which is safe?", "none", "rotate", "share", "post", "B"],
        [f"The key {PLANTED_KEY} is in {home}/secrets/key.pem. Then?", "w", "x", "y", "z", "A"],
    ]
    for split, rows in (("dev", dev), ("test", test)):
        with (data / split / f"computer_security_{split}.csv").open("w", newline="") as fh:
            csv.writer(fh).writerows(rows)
    return root


def test_planted_secrets_reach_no_artifact(github, leaderboard):
    home = Path(os.environ["HOME"])  # this test's own home (tests/conftest.py)
    data = _tiny_mmlu(home / "data" / "mmlu", home)
    out = home / "runs"
    env = {**env_for(github, leaderboard), "GH_TOKEN": PLANTED_GH}
    github.tokens.add(PLANTED_GH)
    answer = f"A, as {PLANTED_GH} and {PLANTED_KEY} at {home}/x say"
    stub = StubLlamaServer(policy=lambda prompt: answer)
    server = stub.start()
    try:
        proc = rla("bench", "mmlu", "--endpoint", server.url, "--model",
                   f"{home}/models/{PLANTED_KEY}.gguf", "--data-dir", str(data),
                   "--allow-unpinned", "--output-dir", str(out), env=env, process=True)
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    assert any(PLANTED_GH in b["prompt"] for b in stub.bodies)  # it was planted for real
    (run_path,) = out.iterdir()
    published = rla("publish", str(run_path), env=env)
    assert published.returncode == 0, published.stderr
    notes = f"token {PLANTED_GH}, key {PLANTED_KEY}, home {home}/x"
    dry = rla("submit", str(run_path), "--dry-run", "--notes", notes, env=env)
    assert dry.returncode == 1 and json.loads(dry.stdout)["payload"]["notes"]

    artifacts = {name: (run_path / name).read_text()
                 for name in ("run.log", "samples.jsonl", "results.json", "record.json")}
    artifacts |= {f"gist:{n}": d.decode() for n, d in github.uploaded().items()}
    # (the terminal may show the user their own paths; what is written and sent may not)
    artifacts |= {"payload": dry.stdout, "gate": dry.stderr}
    for name, text in artifacts.items():
        for secret in (PLANTED_GH, PLANTED_KEY, str(home)):
            assert secret not in text, f"{secret!r} leaked into {name}"
    assert "[REDACTED]" in artifacts["samples.jsonl"] and "~/x" in artifacts["samples.jsonl"]


# Each form of endpoint credential a user may type: user:password, a bare token as userinfo,
# and query parameters (the names stay, the values may be keys).
ENDPOINT_SECRETS = ("us3rN4me", "PA55W0RDx", "T0KENV4LUE", "QV4LUEq", "KV4LUEk")


def test_planted_endpoint_credentials_reach_no_artifact(github, leaderboard):
    from tests.support.servers import free_port

    home = Path(os.environ["HOME"])
    data = _tiny_mmlu(home / "data" / "mmlu", home)
    env = env_for(github, leaderboard)
    stub = StubLlamaServer(policy=lambda prompt: "A")
    server = stub.start()
    where = server.url.removeprefix("http://")
    forms = {"password": f"http://us3rN4me:PA55W0RDx@{where}/v1",
             "token": f"http://T0KENV4LUE@{where}/v1",
             "query": f"http://{where}/v1?x=QV4LUEq&key=KV4LUEk"}
    consoles, runs = [], []
    try:
        for form, endpoint in forms.items():
            out = home / "runs" / form
            proc = rla("bench", "mmlu", "--endpoint", endpoint, "--model", "stub",
                       "--data-dir", str(data), "--allow-unpinned", "--output-dir", str(out),
                       env=env, process=True)
            consoles.append(proc)
            (run_path,) = out.iterdir()
            runs.append(run_path)
            # Requests to an endpoint with a query fail against the stub: that run is searched
            # as it stopped or finished, the others are published and submitted too.
            if form != "query":
                assert proc.returncode == 0, proc.stderr
                published = rla("publish", str(run_path), env=env)
                assert published.returncode == 0, published.stderr
                consoles += [published, rla("submit", str(run_path), "--dry-run", env=env)]
    finally:
        server.stop()
    closed = f"http://us3rN4me:PA55W0RDx@127.0.0.1:{free_port()}/v1?key=KV4LUEk"
    for endpoint in (closed, f"http://T0KENV4LUE@127.0.0.1:{free_port()}/v1"):
        refused = rla("bench", "mmlu", "--endpoint", endpoint, "--data-dir", str(data),
                      "--allow-unpinned", "--output-dir", str(home / "runs" / "refused"),
                      env=env)
        assert refused.returncode != 0 and refused.stderr.startswith("error: "), refused.stderr
        consoles.append(refused)
    rig = rla("rig", "--endpoint", forms["password"], "--json", env=env)
    consoles.append(rig)
    assert rig.returncode != 0  # the stub has stopped: the error must not show them either

    artifacts = {str(f): f.read_bytes() for f in (home / "runs").rglob("*") if f.is_file()}
    artifacts |= {str(f): f.read_bytes() for f in Path(os.environ["RLA_HOME"]).rglob("*")
                  if f.is_file()}  # the SQLite run index (and any journal beside it)
    assert any(name.endswith("runs.sqlite") for name in artifacts)
    artifacts |= {f"gist POST {i}": json.dumps(seen.body).encode()
                  for i, seen in enumerate(github.posts)}
    artifacts |= {f"gist {gid}:{name}": body for gid, files in github.gists.items()
                  for name, body in files.items()}
    artifacts |= {f"console {i}": (p.stdout + p.stderr).encode() for i, p in enumerate(consoles)}
    for name, blob in artifacts.items():
        for secret in ENDPOINT_SECRETS:
            assert secret.encode() not in blob, f"{secret!r} leaked into {name}"
    assert len(github.gists) == 2
    # what stays says where the run pointed
    log = (runs[2] / "run.log").read_text()
    assert f"--endpoint 'http://{where}/v1?x=[REDACTED]&key=[REDACTED]'" in log
    record = load_record(rundir.RunDir(runs[1]).record)
    assert f"http://[REDACTED]@{where}/v1" in record.command.reproduce
