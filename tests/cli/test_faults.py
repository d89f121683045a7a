"""`rla bench` against servers that misbehave on purpose: answers that are not completions,
refusals and stalls, and rla killed in the middle of writing a sample. A sample is scored only
from a usable answer; a run with failed requests stops unfinished, in bounded time, and --resume
asks exactly the failed items (and a sample whose line a kill tore)."""

from __future__ import annotations

import json
import os
import signal
import socketserver
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from runlocalai_bench.backends.http import FAULT_BUDGET, FAULT_WINDOW
from runlocalai_bench.config import RunConfig
from runlocalai_bench.results import rundir
from tests.cli.test_bench_cli import selfcheck_questions
from tests.support.cli import Ran, assert_user_error, only_run, rla
from tests.support.llama_stub import StubLlamaServer
from tests.support.servers import Reply

NO_CHOICES = Reply(200, {"id": "cmpl-1", "object": "text_completion", "model": "stub"})


def bench(url: str, out: Path, *extra: str) -> Ran:
    return rla("bench", "selfcheck", "--endpoint", url, "--model", "stub",
               "--output-dir", str(out), *extra)


def run_with(stub: StubLlamaServer, out: Path, *extra: str) -> Ran:
    server = stub.start()
    try:
        return bench(server.url, out, *extra)
    finally:
        server.stop()


def results_of(out: Path) -> dict:
    return json.loads(only_run(out).results.read_text())


def index_status(run: rundir.RunDir) -> str:
    with sqlite3.connect(Path(os.environ["RLA_HOME"]) / "runs.sqlite") as db:
        (status,) = db.execute("SELECT status FROM runs WHERE id = ?", (run.id,)).fetchone()
    return str(status)


def expected_score(letter: str) -> float:
    questions = selfcheck_questions()
    return sum(q["answer"] == letter for q in questions) / len(questions)


def stall_after(answered: int, release: threading.Event):
    """A `fail` for the stub: the first `answered` requests are answered, every later one waits
    (for `release`, at most a minute) and then gets no usable answer."""
    def stall(n: int) -> Reply | None:
        if n <= answered:
            return None
        release.wait(60)
        return NO_CHOICES
    return stall


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path


def test_answers_without_choices_at_100_percent_stop_the_run_unscored(out):
    stub = StubLlamaServer(policy=lambda p: "A", fail=lambda n: NO_CHOICES)
    proc = run_with(stub, out, "--retries", "2")
    assert_user_error(proc, "no usable completion after 3 attempts", "the answer has no choices",
                      "--resume")
    assert stub.completions == 3  # the first question's attempts, then the run stops
    run = only_run(out)
    assert rundir.read_samples(run.samples) == []  # nothing scored
    assert not run.results.exists() and not run.record.exists()

    healthy = StubLlamaServer(policy=lambda p: "A")
    resumed = run_with(healthy, out, "--retries", "2", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert results_of(out)["score"] == pytest.approx(expected_score("A"))
    assert healthy.completions == len(selfcheck_questions())


def test_answers_without_choices_at_25_percent_are_retried_and_never_scored(out):
    stub = StubLlamaServer(policy=lambda p: "C",
                           fail=lambda n: NO_CHOICES if n % 4 == 0 else None)
    proc = run_with(stub, out)
    assert proc.returncode == 0, proc.stderr
    results = results_of(out)
    n = len(selfcheck_questions())
    assert results["score"] == pytest.approx(expected_score("C"))
    assert results["n"] == n and results["counts"]["error"] == 0
    assert (stub.completions, len(stub.bodies)) == (15, n)  # 4th, 8th, 12th asked again
    run = only_run(out)
    assert {s["status"] for s in rundir.read_samples(run.samples)} == {"ok"}
    assert index_status(run) == "complete"


def test_a_server_that_never_answers_stops_the_run_within_the_fault_budget(out):
    """Four questions answered, then every request stalls: with --timeout 2 the run stops after
    FAULT_BUDGET requests in a row have failed (counted, not timed), and --resume against a
    healthy server asks exactly the other questions and scores them all."""
    release = threading.Event()
    stub = StubLlamaServer(policy=lambda p: "B", fail=stall_after(4, release))
    try:
        proc = run_with(stub, out, "--timeout", "2", "--retries", "1")
    finally:
        release.set()
    assert_user_error(proc, f"{FAULT_BUDGET} requests in a row failed", "ReadTimeout",
                      "--resume")
    assert stub.completions == 4 + FAULT_BUDGET
    run = only_run(out)
    lines = rundir.read_samples(run.samples)
    assert [s["status"] for s in lines] == ["ok"] * 4 + ["error"] * (FAULT_BUDGET // 2 - 1)
    assert not run.results.exists() and not run.record.exists()
    assert index_status(run) == "interrupted"

    healthy = StubLlamaServer(policy=lambda p: "B")
    resumed = run_with(healthy, out, "--timeout", "2", "--retries", "1", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    n = len(selfcheck_questions())
    assert healthy.completions == n - 4
    assert results_of(out)["score"] == pytest.approx(expected_score("B"))
    lines = rundir.read_samples(run.samples)
    assert sorted(s["id"] for s in lines) == sorted(q["id"] for q in selfcheck_questions())
    assert {s["status"] for s in lines} == {"ok"}
    assert index_status(run) == "complete"


def test_requests_failing_for_give_up_after_seconds_stop_the_run_before_the_count(out):
    """Four questions answered, then every request stalls. With --timeout 1 each failed request
    ends at least a second after the streak began, so --give-up-after 1 stops the run at its
    second failed request (the fifth question's first retry), not after FAULT_BUDGET of them;
    one failed request alone did not stop it. --resume asks exactly the other questions."""
    assert RunConfig(slug="selfcheck").give_up_after == FAULT_WINDOW  # the default is the policy's
    release = threading.Event()
    stub = StubLlamaServer(policy=lambda p: "B", fail=stall_after(4, release))
    try:
        proc = run_with(stub, out, "--timeout", "1", "--give-up-after", "1")
    finally:
        release.set()
    assert_user_error(proc, "2 requests in a row failed over", "past --give-up-after 1",
                      "ReadTimeout", "--resume")
    assert stub.completions == 4 + 2
    run = only_run(out)
    assert [s["status"] for s in rundir.read_samples(run.samples)] == ["ok"] * 4
    assert not run.results.exists() and not run.record.exists()
    assert index_status(run) == "interrupted"

    healthy = StubLlamaServer(policy=lambda p: "B")
    resumed = run_with(healthy, out, "--timeout", "1", "--give-up-after", "1", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert healthy.completions == len(selfcheck_questions()) - 4
    assert results_of(out)["score"] == pytest.approx(expected_score("B"))
    assert index_status(run) == "complete"


def test_give_up_after_must_be_positive(out):
    proc = bench("http://127.0.0.1:9", out, "--give-up-after", "0")
    assert_user_error(proc, "--give-up-after must be more than 0 seconds")


def test_a_refused_request_is_an_error_row_the_run_is_unfinished_and_resume_asks_it_again(out):
    refused = Reply(400, {"error": {"code": 400, "message": "the request exceeds the available"
                                    " context size", "type": "exceed_context_size_error"}})
    stub = StubLlamaServer(policy=lambda p: "D", fail=lambda n: refused if n == 3 else None)
    proc = run_with(stub, out)
    n = len(selfcheck_questions())
    assert_user_error(proc, f"1 of {n} requests failed, so the run is not complete",
                      "exceeds the available context size", "hint: 1 exceeded the server's"
                      " context: restart it with a larger context", "only those 1 again")
    run = only_run(out)
    lines = rundir.read_samples(run.samples)
    failed = [s["id"] for s in lines if s["status"] == "error"]
    assert len(lines) == n and len(failed) == 1
    assert not run.results.exists() and not run.record.exists()

    healthy = StubLlamaServer(policy=lambda p: "D")
    resumed = run_with(healthy, out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert healthy.completions == 1
    assert results_of(out)["score"] == pytest.approx(expected_score("D"))
    lines = rundir.read_samples(run.samples)
    assert len(lines) == n and {s["status"] for s in lines} == {"ok"}
    assert failed[0] in {s["id"] for s in lines}


def test_resume_repairs_a_run_an_older_rla_completed_with_error_rows(out):
    """rla before this fix wrote record.json over error rows scored 0; --resume --run-id asks
    those items again and writes a record of scored answers only."""
    first = run_with(StubLlamaServer(policy=lambda p: "A"), out)
    assert first.returncode == 0, first.stderr
    run = only_run(out)
    lines = [json.loads(line) for line in run.samples.read_text().splitlines()]
    broken = {"id": lines[1]["id"], "subtask": lines[1]["subtask"],
              "prompt": lines[1]["prompt"], "response": "", "target": lines[1]["target"],
              "extracted": None, "score": 0.0, "status": "error", "details": {},
              "latency_ms": 0.0, "server_timings": None,
              "error": "the server's response has no choices"}
    lines[1] = broken
    run.samples.write_text("".join(json.dumps(line) + "\n" for line in lines))

    review = rla("verify", str(run.path), "--json")
    assert review.returncode == 1 and "Traceback" not in review.stderr
    (finding,) = [f for f in json.loads(review.stdout)["findings"] if f["field"] == "status"]
    assert finding["status"] == "failed" and "1 samples are failed requests" in finding["message"]
    assert f"--resume --run-id {run.id}" in finding["hint"]

    again = run_with(StubLlamaServer(policy=lambda p: "A"), out, "--resume")
    assert_user_error(again, "no unfinished selfcheck run")  # the index calls it complete

    healthy = StubLlamaServer(policy=lambda p: "A")
    repaired = run_with(healthy, out, "--resume", "--run-id", run.id)
    assert repaired.returncode == 0, repaired.stderr
    assert healthy.completions == 1
    assert results_of(out)["score"] == pytest.approx(expected_score("A"))
    record = json.loads(run.record.read_text())
    assert record["results"]["counts"]["error"] == 0
    assert record["files"]["samples.jsonl"] == rundir.sha256_file(run.samples)
    assert {s["status"] for s in rundir.read_samples(run.samples)} == {"ok"}

    complete = run_with(StubLlamaServer(policy=lambda p: "A"), out, "--resume",
                        "--run-id", run.id)
    assert_user_error(complete, "already complete")


def test_rla_killed_inside_a_samples_write_resumes_with_every_item_once(out):
    """SIGKILL rla (a real process) while it is writing a line of samples.jsonl. The fourth
    answer is 16 MB of text, which its line holds three times (response, generation text, top
    token): one write(2) of ~50 MB that takes tens of milliseconds. The kill is sent once the
    file has grown past the three short lines before it, and the kernel stops the copy where
    the signal finds it: the file ends in a torn line (asserted, so a kill that missed the write
    fails the test instead of passing unseen). --resume cuts the torn line and asks the fourth
    question again with the rest: every item exactly once, the right score, rla verify clean."""
    huge = "B" + "x" * (16 * 1024 * 1024)
    stub = StubLlamaServer(policy=lambda p: huge if stub.completions == 4 else "B")
    server = stub.start()
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "runlocalai_bench", "bench", "selfcheck", "--endpoint",
             server.url, "--model", "stub", "--output-dir", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            samples = killed_mid_write(child, stub, out)
        finally:
            child.kill()
            _, err = child.communicate(timeout=60)
    finally:
        server.stop()
    assert samples is not None and child.returncode == -signal.SIGKILL, err
    data = samples.read_bytes()
    assert len(data) > 1 << 20 and not data.endswith(b"\n")  # the kill landed inside the write
    assert data.count(b"\n") == 3
    assert [s["status"] for s in rundir.read_samples(samples)] == ["ok"] * 3

    healthy = StubLlamaServer(policy=lambda p: "B")
    resumed = run_with(healthy, out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    n = len(selfcheck_questions())
    assert healthy.completions == n - 3
    run = only_run(out)
    assert run.samples.read_bytes().endswith(b"\n")  # the torn bytes went before appending
    ids = [s["id"] for s in rundir.read_samples(run.samples, strict=True)]
    assert sorted(ids) == sorted(q["id"] for q in selfcheck_questions())  # each exactly once
    assert results_of(out)["score"] == pytest.approx(expected_score("B"))
    assert index_status(run) == "complete"
    review = rla("verify", str(run.path))
    assert review.returncode == 0, review.stdout + review.stderr


def killed_mid_write(child: subprocess.Popen, stub: StubLlamaServer, out: Path) -> Path | None:
    """Wait until the stub has been asked for its fourth (huge) answer, then watch the run's
    samples.jsonl without pausing and SIGKILL `child` as soon as the huge line's write has
    begun (the file passes 1 MB; the three lines before it are a few KB): its path, or None
    when rla ended first or four minutes passed."""
    deadline = time.monotonic() + 240

    def waiting() -> bool:
        return child.poll() is None and time.monotonic() < deadline

    while stub.completions < 4:
        if not waiting():
            return None
        time.sleep(0.01)
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    samples = rundir.RunDir(run).samples
    while not (samples.is_file() and samples.stat().st_size > 1 << 20):
        if not waiting():
            return None
    child.send_signal(signal.SIGKILL)
    return samples


class _GarblingFront(socketserver.StreamRequestHandler):
    """In front of a stub: everything the probe asks is relayed, and every completion is
    answered with the bytes in `server.garbage` (not HTTP a client can read), then closed."""

    def handle(self) -> None:
        while True:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                chunk = self.rfile.readline()
                if not chunk:
                    return
                head += chunk
            request_line = head.split(b"\r\n", 1)[0].decode()
            method, path, _ = request_line.split(" ", 2)
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            body = self.rfile.read(length)
            if path.startswith("/v1/completions"):
                self.wfile.write(self.server.garbage)  # type: ignore[attr-defined]
                return
            answer = httpx.request(method, self.server.stub_url + path,  # type: ignore[attr-defined]
                                   content=body or None)
            self.wfile.write(b"HTTP/1.1 %d OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s"
                             % (answer.status_code, len(answer.content), answer.content))


@pytest.mark.parametrize("garbage", [
    b"SSH-2.0-OpenSSH_9.2p1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnot-a-size\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 900\r\n\r\n{\"choices\": [",  # then the close
])
def test_an_answer_that_is_not_http_stops_the_run_with_one_error_line(out, garbage):
    """rla reads HTTP/1.1 itself on http:// endpoints (backends/wire.py): whatever the server
    sends instead is one `error:` line naming the protocol fault, a hint, no traceback, nothing
    scored, and the run left to resume."""
    stub = StubLlamaServer(policy=lambda p: "B").start()
    front = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _GarblingFront)
    front.daemon_threads = True
    front.garbage, front.stub_url = garbage, stub.url  # type: ignore[attr-defined]
    threading.Thread(target=front.serve_forever, args=(0.05,), daemon=True).start()
    try:
        proc = bench(f"http://127.0.0.1:{front.server_address[1]}", out, "--retries", "0")
    finally:
        front.shutdown()
        front.server_close()
        stub.stop()
    assert_user_error(proc, "RemoteProtocolError", "--resume")
    run = only_run(out)
    assert not run.results.exists() and not run.record.exists()
    assert index_status(run) == "interrupted"
