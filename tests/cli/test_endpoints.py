"""`rla bench` over several endpoints (`--endpoint` repeated): replicas of one model, probed and
matched, each item sent to whichever is free; an endpoint that dies mid-run hands its items to
the others, and the samples log holds every item once. The servers are real processes on
loopback (tests/support/replica_stub.py) answering one request at a time. And a batching server
driven at its slots: recorded as batched, refused by the trust gate."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from runlocalai_bench.publish.trust import check_gate, publishable_specs
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import Batching, Scored
from tests.cli.test_bench_cli import selfcheck_questions
from tests.support.cli import Ran, assert_user_error, only_run, rla
from tests.support.llama_stub import PROPS, StubLlamaServer
from tests.support.replica_stub import ReplicaStub
from tests.support.servers import LoopbackServer, Reply, Seen


def bench(urls: list[str], out: Path, *extra: str) -> Ran:
    flags = [arg for url in urls for arg in ("--endpoint", url)]
    return rla("bench", "selfcheck", *flags, "--model", "stub", "--output-dir", str(out),
               "--retries", "1", *extra)


@pytest.fixture
def stubs():
    started: list[ReplicaStub] = []

    def start(**kwargs) -> ReplicaStub:
        stub = ReplicaStub(**kwargs).start()
        started.append(stub)
        return stub

    yield start
    for stub in started:
        stub.stop()


def sample_ids(out: Path) -> Counter[str]:
    return Counter(s["id"] for s in rundir.read_samples(only_run(out).samples))


def test_items_go_to_every_endpoint_and_the_record_lists_each(tmp_path, stubs):
    questions = selfcheck_questions()
    a, b = stubs(delay=0.05), stubs(delay=0.05)
    ran = bench([a.url, b.url], tmp_path)
    assert ran.returncode == 0, ran.stderr
    answered = [a.stats()["completions"], b.stats()["completions"]]
    assert sum(answered) == len(questions) and min(answered) >= 3, answered
    assert sample_ids(tmp_path) == Counter(q["id"] for q in questions)
    run = only_run(tmp_path)
    record = json.loads(run.record.read_text())
    assert record["endpoints"] == [a.url, b.url]
    assert record["batching"] == {"batched": False, "slots": 1, "concurrency": 1,
                                  "in_flight": 2}  # one request at a time at each
    reproduce = record["command"]["reproduce"]
    assert f"--endpoint {a.url} --endpoint {b.url}" in reproduce
    assert f"endpoints  2 replicas: {a.url}, {b.url}" in run.run_log.read_text()
    verified = rla("verify", str(run.path), "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"], verified.stdout


def test_an_endpoint_killed_mid_run_hands_its_items_to_the_other(tmp_path, stubs):
    questions = selfcheck_questions()
    healthy, dying = stubs(delay=0.05), stubs(delay=0.05, die_after=2)
    ran = bench([healthy.url, dying.url], tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert not dying.alive  # it died on its third request, that request in flight
    assert healthy.stats()["completions"] == len(questions) - 2
    assert sample_ids(tmp_path) == Counter(q["id"] for q in questions)  # each once
    log = only_run(tmp_path).run_log.read_text()
    assert f"endpoint   {dying.url} retired" in log and "go to the 1 other" in log
    results = json.loads(only_run(tmp_path).results.read_text())
    assert results["n"] == len(questions) and results["counts"].get("error", 0) == 0


def test_every_endpoint_dead_stops_the_run_and_resume_finishes_it_once(tmp_path, stubs):
    questions = selfcheck_questions()
    a, b = stubs(die_after=2), stubs(die_after=3)
    first = bench([a.url, b.url], tmp_path)
    assert_user_error(first, "every one of the 2 endpoints failed", "--resume")
    assert sample_ids(tmp_path) == Counter(
        {k: 1 for k in sample_ids(tmp_path)})  # none twice
    assert sum(sample_ids(tmp_path).values()) == 5

    c = stubs(delay=0.0)
    second = bench([c.url], tmp_path, "--resume")
    assert second.returncode == 0, second.stderr
    assert c.stats()["completions"] == len(questions) - 5
    assert sample_ids(tmp_path) == Counter(q["id"] for q in questions)
    verified = rla("verify", str(only_run(tmp_path).path), "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"], verified.stdout


def test_an_endpoint_that_is_not_a_replica_is_refused_by_name(tmp_path, stubs):
    a, b = stubs(), stubs(build="b9998-0123abcd")
    ran = bench([a.url, b.url], tmp_path)
    assert_user_error(ran, f"--endpoint {b.url} is not a replica of {a.url}",
                      "runtime version 'b9998', not 'b9999'", "build")
    assert a.stats()["completions"] == b.stats()["completions"] == 0
    assert not any(tmp_path.iterdir())


def with_slots(stub: StubLlamaServer, slots: int) -> LoopbackServer:
    """`stub` as a llama-server started with --parallel `slots`."""

    def handle(seen: Seen) -> Reply:
        if seen.path == "/props":
            return Reply(body={**PROPS, "total_slots": slots})
        return stub.handle(seen)

    return LoopbackServer(handle).start()


def test_a_replica_with_other_slots_or_settings_is_refused(tmp_path):
    stub = StubLlamaServer(policy=lambda p: "A")
    one, two = stub.start(), with_slots(stub, 2)
    try:
        ran = bench([one.url, two.url], tmp_path)
    finally:
        one.stop()
        two.stop()
    assert_user_error(ran, "slots 2, not 1", "server settings")


def test_the_same_endpoint_twice_is_refused(tmp_path):
    ran = bench(["http://127.0.0.1:9", "http://127.0.0.1:9/v1"], tmp_path)
    assert_user_error(ran, "--endpoint http://127.0.0.1:9 is given more than once")


def test_a_batching_server_at_its_slots_is_recorded_and_refused_by_the_gate(tmp_path):
    """llama-server --parallel 2 driven at --concurrency 2: the run finishes, run.log and the
    record say it was batched, and the trust gate refuses the row for it."""
    server = with_slots(StubLlamaServer(policy=lambda p: "A"), 2)
    try:
        ran = bench([server.url], tmp_path, "--concurrency", "2")
    finally:
        server.stop()
    assert ran.returncode == 0, ran.stderr
    run = only_run(tmp_path)
    assert ("batching   the server has 2 slots, 2 request(s) in flight per endpoint: requests"
            " share batches, an exploration run, not a leaderboard row") in run.run_log.read_text()
    record = load_record(run.record)
    assert isinstance(record.body, Scored)
    assert record.body.batching == Batching(batched=True, slots=2, concurrency=2, in_flight=2)
    reasons = check_gate(record, run.path, publishable_specs()).reasons
    assert ("the record states a batched run (2 server slots, 2 request(s) in flight per"
            " endpoint): a batching server is for exploration and CI runs, not leaderboard rows;"
            " rerun with --config leaderboard against a server with one slot") in reasons
    assert any(r.startswith("the server has 2 slots") for r in reasons)
