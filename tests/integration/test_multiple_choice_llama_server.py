"""MMLU and TurkishMMLU end to end on a real llama-server serving gemma-3-270m, over stratified
slices of the full shared data (one question from each of the first subjects): every slug runs,
reports per-subject results consistent with its samples and is marked partial; the logprob slugs
cost the server exactly one request per question; and a run whose server is SIGKILLed mid-run
resumes to the very answers of an unbroken run.

Sizes are chosen for CI on 2 cores (a 5-shot MMLU prompt is ~450 tokens, ~3 s of prefill; a
TurkishMMLU one ~870 tokens): 25 questions in all, 4 minutes for the file on 2 cores shared
with a load average of 6, so roughly 2 on idle ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runlocalai_bench.results import rundir
from tests.support.cli import Ran, rla
from tests.support.data import benchmark_data
from tests.support.llama_server import LlamaServer

pytestmark = pytest.mark.integration


MMLU_LIMIT = 6  # the first 6 of 57 subjects, one question each
SECRETS = ("GH_TOKEN", "GITHUB_TOKEN", "RLA_API_KEY", "OPENAI_API_KEY", "HF_TOKEN",
           "RLA_SUBMIT_TOKEN", "RLA_ENDPOINT", "RLA_MODEL", "RLA_OUTPUT_DIR")


def isolated_env(home: Path) -> dict[str, str | None]:
    """The autouse isolation of tests/conftest.py, for module-scoped runs made before it
    applies: a private HOME and run index, offline hub, no tokens (None unsets them)."""
    return {**dict.fromkeys(SECRETS), "HOME": str(home), "RLA_HOME": str(home / "rla-data"),
            "NO_COLOR": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}


def bench_args(slug: str, url: str, out: Path, *flags: str) -> list[str]:
    folder = "turkishmmlu" if slug.startswith("turkish") else "mmlu"
    data = benchmark_data(folder) / folder  # every test that runs rla skips without it
    return ["bench", slug, "--endpoint", url, "--data-dir", str(data), "--output-dir", str(out),
            *flags]


def bench(slug: str, url: str, out: Path, *flags: str,
          env: dict[str, str | None] | None = None) -> Ran:
    """`rla bench SLUG` on the shared data, in a real process: its --json output passes
    run.log's descriptor tee."""
    return rla(*bench_args(slug, url, out, *flags), env=env, process=True, timeout=900)


def the_run(out: Path) -> rundir.RunDir:
    (path,) = [p for p in out.iterdir() if p.is_dir()]
    return rundir.RunDir(path)


def launches(server: LlamaServer) -> int:
    """Completion tasks the server started, from its own log: one `launch_slot_` line each."""
    return server.log_path.read_text(errors="replace").count("launch_slot_")


@dataclass(frozen=True)
class Finished:
    results: dict  # the --json output
    run: rundir.RunDir
    samples: list[dict]
    record: dict
    server_requests: int | None = None  # completions the server saw during the run


def finish(proc: Ran, out: Path,
           server_requests: int | None = None) -> Finished:
    assert proc.returncode == 0, proc.stderr
    run = the_run(out)
    return Finished(results=json.loads(proc.stdout), run=run,
                    samples=rundir.read_samples(run.samples),
                    record=json.loads(run.record.read_text()), server_requests=server_requests)


def answers(samples: list[dict]) -> dict[str, tuple]:
    return {s["id"]: (s["response"], s["extracted"], s["generation"]["top_logprobs"])
            for s in samples}


@pytest.fixture(scope="module")
def counted_server(gemma_gguf: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """A llama-server of the module's own, so its log counts only this module's requests."""
    benchmark_data("mmlu", "turkishmmlu")  # found through RLA_TEST_DATA, or skipped
    server = LlamaServer(gemma_gguf, tmp_path_factory.mktemp("counted") / "server.log").start()
    yield server
    server.stop()


def run_counted(server: LlamaServer, slug: str, tmp: Path, *flags: str) -> Finished:
    before = launches(server)
    proc = bench(slug, server.url, tmp / "out", *flags, "--json", env=isolated_env(tmp / "home"))
    return finish(proc, tmp / "out", server_requests=launches(server) - before)


@pytest.fixture(scope="module")
def mmlu_run(counted_server: LlamaServer, tmp_path_factory: pytest.TempPathFactory) -> Finished:
    """An unbroken `mmlu` run: checked on its own, and the reference for the resumed run."""
    return run_counted(counted_server, "mmlu", tmp_path_factory.mktemp("mmlu"),
                       "--limit", str(MMLU_LIMIT))


# -- checks every slug shares -----------------------------------------------------------------


def check_per_subject(done: Finished, n: int, letters: str) -> None:
    """results.json (and --json, and the record) report per-subject scores that recount exactly
    from samples.jsonl, over one question from each of n distinct subjects; the run is partial."""
    results, samples = done.results, done.samples
    assert json.loads(done.run.results.read_text()) == results
    ids = [s["id"] for s in samples]
    assert len(ids) == len(set(ids)) == n == results["n"] == results["expected_n"]
    assert results["partial"] is True and done.record["results"]["partial"] is True
    assert done.record["dataset"]["pinned"] is True and done.record["dataset"]["source"] == "dir"

    by_subject: dict[str, list[float]] = defaultdict(list)
    for s in samples:
        assert s["id"].startswith(f"{s['subtask']}/test/")
        assert s["target"] in letters
        assert s["score"] == (1.0 if s["extracted"] == s["target"] else 0.0)
        by_subject[s["subtask"]].append(s["score"])
    assert len(by_subject) == n  # stratified: the slice spans n subjects
    subtasks = {row["name"]: row for row in results["subtasks"]}
    assert set(subtasks) == set(by_subject)
    for name, scores in by_subject.items():
        assert subtasks[name]["n"] == len(scores)
        assert subtasks[name]["correct"] == sum(scores)
        assert subtasks[name]["score"] == pytest.approx(sum(scores) / len(scores))
        assert done.record["results"]["subtasks"][name]["n"] == len(scores)
    correct = sum(s["score"] for s in samples)
    assert results["score"] == pytest.approx(correct / n)
    assert results["macro"] == pytest.approx(
        sum(sum(v) / len(v) for v in by_subject.values()) / len(by_subject))
    assert results["counts"] == {**{k: 0 for k in ("ok", "unparsed", "fallback", "error")},
                                 **Counter(s["status"] for s in samples)}
    assert results["counts"]["error"] == 0


def check_one_request_per_question(done: Finished, letters: str) -> None:
    """Requests per question is 1.0, counted by the server: it started exactly as many
    completions as there are questions, each sample carries the timings of exactly one
    uncached 1-token completion, and the pick comes from that reply's top-20 alternatives."""
    assert done.server_requests == len(done.samples)
    assert done.record["sampling"]["sent"]["max_tokens"] == 1
    assert done.record["sampling"]["sent"]["cache_prompt"] is False
    for s in done.samples:
        timings = s["server_timings"]
        assert timings["predicted_n"] == 1 and timings["prompt_n"] > 200
        assert timings.get("cache_n", 0) == 0
        assert len(s["generation"]["top_logprobs"]) == 20
        assert s["details"]["source"] == "top_logprobs"
        if s["status"] == "ok":
            picked = s["details"]["letter_logprobs"]
            assert s["extracted"] == max(picked, key=picked.get) and s["extracted"] in letters


def check_generative(done: Finished, letters: str, cue: str) -> None:
    """The model wrote its answer (stopped at the blank line or at max_tokens), and the letter
    was read from that text."""
    assert done.record["benchmark"]["scoring_method"] == "generative"
    for s in done.samples:
        assert s["prompt"].endswith(cue)
        assert s["server_timings"]["prompt_n"] > 200
        assert 1 <= s["generation"]["completion_tokens"] <= 256
        assert s["generation"]["finish_reason"] in ("stop", "length")
        if s["status"] == "ok":
            assert s["extracted"] in letters
        else:
            assert s["status"] == "unparsed" and s["extracted"] is None and s["score"] == 0.0


# -- the slugs --------------------------------------------------------------------------------


def test_mmlu_logprob_one_request_per_question(mmlu_run: Finished) -> None:
    check_per_subject(mmlu_run, MMLU_LIMIT, "ABCD")
    check_one_request_per_question(mmlu_run, "ABCD")
    assert mmlu_run.samples[0]["prompt"].startswith(
        "The following are multiple choice questions (with answers) about abstract algebra.")
    categories = {row["name"]: row["n"] for row in mmlu_run.results["categories"]}
    assert sum(categories.values()) == MMLU_LIMIT and set(categories) <= {
        "stem", "humanities", "social_sciences", "other"}


def test_turkish_mmlu_logprob_one_request_per_question(counted_server: LlamaServer,
                                                       tmp_path: Path) -> None:
    done = run_counted(counted_server, "turkish-mmlu", tmp_path, "--limit-per-subtask", "1",
                       "--limit", "4")
    check_per_subject(done, 4, "ABCDE")
    check_one_request_per_question(done, "ABCDE")
    for s in done.samples:  # 5 shots and the question, five options each, composed (NFC)
        prompt = s["prompt"]
        assert prompt.count("Soru: ") == prompt.count("\nE. ") == 6
        assert prompt.endswith("\nCevap:") and prompt == unicodedata.normalize("NFC", prompt)


def test_mmlu_generative(llama_server: LlamaServer, tmp_path: Path) -> None:
    proc = bench("mmlu-generative", llama_server.url, tmp_path, "--limit", "4", "--json")
    done = finish(proc, tmp_path)
    check_per_subject(done, 4, "ABCD")
    check_generative(done, "ABCD", "\nAnswer:")
    assert done.record["sampling"]["sent"]["max_tokens"] == 256


def test_turkish_mmlu_generative(llama_server: LlamaServer, tmp_path: Path) -> None:
    proc = bench("turkish-mmlu-generative", llama_server.url, tmp_path, "--limit-per-subtask",
                 "1", "--limit", "3", "--json")
    done = finish(proc, tmp_path)
    check_per_subject(done, 3, "ABCDE")
    check_generative(done, "ABCDE", "\nCevap:")
    assert done.record["benchmark"]["slug"] == "turkish-mmlu-generative"


def test_mmlu_resumes_after_the_server_is_killed(gemma_gguf: Path, mmlu_run: Finished,
                                                 tmp_path: Path) -> None:
    """SIGKILL llama-server mid-run, restart it, --resume: every question answered once, with
    the answers (and top-20 log-probabilities) of the unbroken run."""
    server = LlamaServer(gemma_gguf, tmp_path / "server.log").start()
    out = tmp_path / "out"
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "runlocalai_bench",
             *bench_args("mmlu", server.url, out, "--limit", str(MMLU_LIMIT), "--retries", "1")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and child.poll() is None:
            runs = [p for p in out.glob("*") if p.is_dir()] if out.exists() else []
            if runs and len(rundir.read_samples(rundir.RunDir(runs[0]).samples)) >= 2:
                break
            time.sleep(0.2)
        server.kill()
        _, err = child.communicate(timeout=300)
        assert child.returncode != 0, err
        assert "--resume" in err
        broken = the_run(out)
        done_before = len(rundir.read_samples(broken.samples))
        assert 2 <= done_before < MMLU_LIMIT

        server.start()  # the same port, a fresh process
        resumed = bench("mmlu", server.url, out, "--limit", str(MMLU_LIMIT), "--resume", "--json")
        assert resumed.returncode == 0, resumed.stderr
    finally:
        server.stop()
    samples = rundir.read_samples(broken.samples)
    ids = [s["id"] for s in samples]
    assert len(ids) == len(set(ids)) == MMLU_LIMIT
    assert answers(samples) == answers(mmlu_run.samples)
    results = json.loads(resumed.stdout)
    assert results["n"] == MMLU_LIMIT and results["partial"] is True
    assert results["subtasks"] == mmlu_run.results["subtasks"]
    assert "resum" in broken.run_log.read_text()
