"""`rla bench` as a user runs it: real HTTP, real files. In this process where the run's own
output is not the point; in a real process where it is (run.log tees the file descriptors) and
for HumanEval+ (the sandbox)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from runlocalai_bench.results import rundir
from tests.support.cli import assert_user_error, only_run, rla
from tests.support.llama_stub import PROPS, StubLlamaServer
from tests.support.servers import LoopbackServer, Reply, Seen, free_port, serve

BUNDLED = Path(__file__).parents[2] / "runlocalai_bench" / "bundled" / "selfcheck.jsonl"


def selfcheck_questions() -> list[dict]:
    rows = [json.loads(line) for line in BUNDLED.read_text().splitlines()]
    return [r for r in rows if "/test/" in r["id"]]


def test_constant_letter_server_scores_that_letters_share(tmp_path):
    questions = selfcheck_questions()
    expected = sum(q["answer"] == "A" for q in questions) / len(questions)
    stub = StubLlamaServer(policy=lambda prompt: "A")
    server = stub.start()
    try:
        proc = rla("bench", "selfcheck", "--endpoint", server.url, "--model", "stub",
                   "--output-dir", str(tmp_path), "--json", process=True)
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert results["score"] == pytest.approx(expected)
    assert results["n"] == len(questions) == stub.completions  # one request per question
    run = only_run(tmp_path)
    for name in ("run.log", "samples.jsonl", "results.json", "record.json", "config.json"):
        assert (run.path / name).is_file(), name
    record = json.loads(run.record.read_text())
    assert record["runtime"]["slug"] == "llama.cpp-b9999"
    assert record["sampling"]["sent"]["cache_prompt"] is False
    assert record["sampling"]["sent"]["temperature"] == 0.0
    assert record["files"]["samples.jsonl"] == rundir.sha256_file(run.samples)
    assert record["files"]["run.log"] == rundir.sha256_file(run.run_log)
    log = run.run_log.read_text()
    assert "llama.cpp-b9999" in log and f"progress {len(questions)}/{len(questions)}" in log
    assert "\nscoring    first_token_logprob\n" in log  # tasks/selfcheck.toml's method
    assert all(b["cache_prompt"] is False and b["max_tokens"] == 1 for b in stub.bodies)


def test_resume_after_the_server_dies_loses_and_repeats_nothing(tmp_path):
    questions = selfcheck_questions()
    dying = StubLlamaServer(policy=lambda p: "B",
                            fail=lambda n: Reply(500, {"error": {"message": "gone"}})
                            if n > 5 else None)
    server = dying.start()
    try:
        first = rla("bench", "selfcheck", "--endpoint", server.url, "--model", "stub",
                    "--output-dir", str(tmp_path), "--retries", "0")
    finally:
        server.stop()
    assert_user_error(first, "--resume")
    run = only_run(tmp_path)
    assert len(rundir.read_samples(run.samples)) == 5
    assert not run.record.exists() and not run.results.exists()

    healthy = StubLlamaServer(policy=lambda p: "B")
    server = healthy.start()
    try:
        mismatch = rla("bench", "selfcheck", "--endpoint", server.url, "--model", "stub",
                       "--output-dir", str(tmp_path), "--resume", "--limit", "3")
        assert_user_error(mismatch, "different configuration", "limit")
        second = rla("bench", "selfcheck", "--endpoint", server.url, "--model", "stub",
                     "--output-dir", str(tmp_path), "--resume")
    finally:
        server.stop()
    assert second.returncode == 0, second.stderr
    assert healthy.completions == len(questions) - 5
    ids = [s["id"] for s in rundir.read_samples(run.samples)]
    assert sorted(ids) == sorted(q["id"] for q in questions)
    results = json.loads(run.results.read_text())
    assert results["score"] == pytest.approx(
        sum(q["answer"] == "B" for q in questions) / len(questions))


def test_unreachable_endpoint(tmp_path):
    proc = rla("bench", "selfcheck", "--endpoint", f"http://127.0.0.1:{free_port()}",
               "--output-dir", str(tmp_path))
    assert_user_error(proc)
    assert not any(tmp_path.iterdir())


def test_server_still_loading(tmp_path):
    loading = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
    with serve(lambda seen: Reply(503, loading)) as server:
        proc = rla("bench", "selfcheck", "--endpoint", server.url, "--output-dir", str(tmp_path))
    assert_user_error(proc, "loading")


def test_server_that_is_not_openai_compatible(tmp_path):
    with serve(lambda seen: Reply(404, "<html><body>Not Found</body></html>")) as server:
        proc = rla("bench", "selfcheck", "--endpoint", server.url, "--output-dir", str(tmp_path))
    assert_user_error(proc)


def test_missing_and_corrupt_gguf(tmp_path):
    missing = rla("bench", "selfcheck", "--model-path", str(tmp_path / "nope.gguf"),
                  "--output-dir", str(tmp_path / "out"))
    assert_user_error(missing, "nope.gguf")
    corrupt = tmp_path / "bad.gguf"
    corrupt.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 64)
    proc = rla("bench", "selfcheck", "--model-path", str(corrupt), "--output-dir",
               str(tmp_path / "out"))
    assert_user_error(proc, "bad.gguf")
    assert not (tmp_path / "out").exists()


def test_unwritable_output_dir(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    server = StubLlamaServer(policy=lambda p: "A").start()
    try:
        proc = rla("bench", "selfcheck", "--endpoint", server.url, "--output-dir",
                   str(blocker / "runs"))
    finally:
        server.stop()
    assert_user_error(proc, "--output-dir")


def test_unknown_benchmark_lists_the_known_ones(tmp_path):
    proc = rla("bench", "no-such-bench", "--output-dir", str(tmp_path))
    assert_user_error(proc, "no-such-bench", "selfcheck")


def test_conflicting_flags(tmp_path):
    proc = rla("bench", "selfcheck", "--endpoint", "http://127.0.0.1:1", "--model-path", "x.gguf")
    assert_user_error(proc, "mutually exclusive")


def test_runs_are_indexed_and_shown(tmp_path):
    server = StubLlamaServer(policy=lambda p: "C").start()
    try:
        proc = rla("bench", "selfcheck", "--endpoint", server.url, "--model", "stub",
                   "--limit", "4", "--output-dir", str(tmp_path))
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    run = only_run(tmp_path)
    listed = json.loads(rla("runs", "list", "--json").stdout)
    assert [r["id"] for r in listed] == [run.id]
    assert listed[0]["status"] == "complete" and listed[0]["n"] == 4
    assert listed[0]["runtime"] == "llama.cpp-b9999" and listed[0]["partial"] is True
    shown = rla("runs", "show", run.id[:10], "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["results"] == json.loads(run.results.read_text())
    table = rla("runs", "show", run.id)
    assert "micro (headline)" in table.stdout
    assert_user_error(rla("runs", "show", "no-such-run"), "no run")


def test_speed_options_go_after_speed():
    """`rla bench speed` is its own command; its name comes straight after `bench`."""
    assert_user_error(rla("bench", "--endpoint", "http://127.0.0.1:9", "speed"),
                      "takes its options after `speed`")


@pytest.mark.parametrize("command", [("bench", "speed"), ("reproduce", "record.json")])
def test_a_command_against_one_server_refuses_a_second_endpoint(command):
    """Only `rla bench SLUG` takes several endpoints (replicas); a second --endpoint elsewhere
    is refused, not silently put in the first one's place."""
    ran = rla(*command, "--endpoint", "http://127.0.0.1:9", "--endpoint", "http://127.0.0.1:10")
    assert_user_error(ran, "takes one --endpoint, not 2")


def test_runs_list_shows_whole_run_ids_at_80_columns(tmp_path):
    from runlocalai_bench.results.store import RunIndex, RunRow

    index = RunIndex(Path(os.environ["RLA_HOME"]) / "runs.sqlite")
    ids = [f"20261201T2213{i:02d}Z-turkish-mmlu-generative-{i:06x}" for i in range(3)]
    for run_id in ids:
        index.upsert(RunRow(id=run_id, slug="turkish-mmlu-generative", path=str(tmp_path),
                            status="complete", fingerprint="f", started_at=run_id[:16],
                            model="/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                            runtime="llama.cpp-b9999", hardware="rtx-3080-16gb-mobile",
                            score=0.4567, n=900, expected_n=900, partial=False))
    proc = rla("runs", "list", env={"COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    assert all(len(line) <= 80 for line in proc.stdout.splitlines()), proc.stdout
    for run_id in ids:
        assert run_id in proc.stdout, proc.stdout


def test_code_is_scored_while_the_next_request_goes_out(tmp_path):
    """At concurrency 1 a HumanEval+ sample's sandboxed run does not hold the engine up: the
    second request arrives while the first program (2 s on its first input) still runs."""
    logged_at_request: list[int] = []

    def slow_program(prompt: str) -> str:
        entry_point = re.findall(r"^def (\w+)\(", prompt, re.MULTILINE)[-1]
        samples = list(tmp_path.glob("*/samples.jsonl"))
        logged_at_request.append(len(samples[0].read_text().splitlines()) if samples else 0)
        return (f"```python\ndef {entry_point}(*args):\n    import time\n    time.sleep(2)\n"
                f"    return None\n```\n")

    stub = StubLlamaServer(policy=slow_program)
    server = stub.start()
    try:
        proc = rla("bench", "humaneval-plus", "--sample", "--limit", "2", "--prompt-style",
                   "chat", "--concurrency", "1", "--endpoint", server.url, "--model", "stub",
                   "--output-dir", str(tmp_path), "--json", process=True)
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    assert logged_at_request == [0, 0]
    samples = rundir.read_samples(only_run(tmp_path).samples)
    assert sorted(s["id"] for s in samples) == ["HumanEval/2", "HumanEval/32"]
    assert all(s["details"]["base"] == "fail" for s in samples)


def test_an_implausible_run_is_flagged_under_its_results_table(tmp_path):
    """A server that answers no letter: every answer unreadable, flagged with its cause in the
    table the run prints (and so in run.log)."""
    server = StubLlamaServer(policy=lambda prompt: "?").start()
    try:
        proc = rla("bench", "selfcheck", "--endpoint", server.url, "--model", "stub",
                   "--output-dir", str(tmp_path), process=True)
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    flagged = [line for line in proc.stdout.splitlines() if "implausible:" in line]
    assert flagged and "could not be read" in flagged[0], proc.stdout
    assert "implausible: " in (only_run(tmp_path).path / rundir.RUN_LOG).read_text()


def test_prompts_that_reached_the_servers_context_are_flagged(tmp_path):
    """The context flag comes from the samples the run reads back: a server whose /props
    states a 64-token context, answering every prompt with more prompt tokens than that."""
    stub = StubLlamaServer(policy=lambda prompt: "A")
    small = {**PROPS, "default_generation_settings": {
        **PROPS["default_generation_settings"], "n_ctx": 64}}

    def handle(seen: Seen) -> Reply:
        return Reply(body=small) if seen.path.split("?")[0] == "/props" else stub.handle(seen)

    server = LoopbackServer(handle).start()
    try:
        proc = rla("bench", "selfcheck", "--endpoint", server.url, "--model", "stub",
                   "--output-dir", str(tmp_path), process=True)
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    n = len(selfcheck_questions())
    flagged = [line for line in proc.stdout.splitlines() if "implausible:" in line]
    assert any(f"{n} prompt(s) reached the context of 64 tokens" in line for line in flagged), \
        proc.stdout
