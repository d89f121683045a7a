"""Speed runs against the real thing: llama-server and llama-cpp-python with gemma-3-270m.
No figure is asserted (the machine's speed is not the code's); the observations must agree
with each other: engine counts, streamed events, prefill against TTFT, engine against stream."""

from __future__ import annotations

import pytest

from runlocalai_bench.backends.factory import open_streamer
from runlocalai_bench.config import build_config
from runlocalai_bench.rig import detect_rig
from runlocalai_bench.speed import speed_gate
from runlocalai_bench.speed.measure import LLAMA_CPP, LLAMA_CPP_PERF
from runlocalai_bench.speed.runner import run_speed
from runlocalai_bench.speed.spec import load_speed_plan

pytestmark = pytest.mark.integration

PROMPT = "Write a detailed explanation of how transformer attention works."


class _Quiet:
    def begin(self, log, header):
        return None

    def run_done(self, label, measurement, counted):
        return None

    def note(self, line):
        return None

    def end(self, record):
        return None


def assert_consistent(record: dict, prompt_tokens: int, generated: int, fmt: str) -> None:
    s = record["speed"]
    for run in s["runs"] + s["warmup"]:
        m, raw = run["metrics"], run["raw"]
        assert raw["engine_format"] == fmt
        assert m["decode_source"] == "engine" and m["prefill_source"] == "engine"
        assert m["prompt_tokens"] == prompt_tokens
        assert m["generated_tokens"] == generated  # ignore_eos: exactly n_predict
        assert 0 < m["stream"]["events"] <= generated
        assert raw["arrivals_ms"] == sorted(raw["arrivals_ms"])
        assert m["stream"]["decode_tps"] > 0 and m["decode_tps"] > 0
    failed = [c for c in s["plausibility"]["checks"] if not c["ok"] and c["severity"] == "refuse"]
    assert failed == []
    assert {c["name"] for c in s["plausibility"]["checks"]} >= {"prefill-vs-ttft",
                                                                "engine-vs-stream"}
    assert s["refusals"] == speed_gate(record)


def test_llama_server_standard_prompt(llama_server, tmp_path):
    config = build_config("speed", {"endpoint": llama_server.url, "output_dir": tmp_path,
                                    "index_path": tmp_path / "runs.sqlite"}, env={})
    streamer = open_streamer(config)
    try:
        prompt_tokens = len(streamer.tokenize(PROMPT) or [])
    finally:
        streamer.close()
    outcome = run_speed(config, load_speed_plan(n_predict=16), _Quiet(),
                        open_streamer=open_streamer, detect_rig=detect_rig)
    record = outcome.record

    assert prompt_tokens > 5
    assert_consistent(record, prompt_tokens, 16, LLAMA_CPP)
    assert record["runtime"]["engine"] == "llama.cpp" and record["runtime"]["version"]
    # The request asked for no prompt cache: every run prefilled the whole prompt.
    assert all(r["raw"]["engine"]["cache_n"] == 0 for r in record["speed"]["runs"])
    for entry in record["speed"]["runs"]:
        log = (outcome.run.path / entry["log"]).read_text()
        assert '"predicted_n": 16' in log and "--- output ---" in log


def test_llama_server_pp512_profile(llama_server, tmp_path):
    config = build_config("speed", {"endpoint": llama_server.url, "output_dir": tmp_path,
                                    "index_path": tmp_path / "runs.sqlite"}, env={})
    plan = load_speed_plan("pp512-tg128", n_predict=8)
    record = run_speed(config, plan, _Quiet(), open_streamer=open_streamer,
                       detect_rig=detect_rig).record

    assert_consistent(record, 512, 8, LLAMA_CPP)
    for run in record["speed"]["runs"]:
        assert run["raw"]["prefill"]["engine"]["prompt_n"] == 512
        assert run["raw"]["prefill"]["engine"]["cache_n"] == 0
        assert run["raw"]["engine"]["prompt_n"] == 1  # decode after the first token alone


def test_in_process_llama_cpp_python(tmp_path):
    pytest.importorskip("llama_cpp", reason="pip install 'runlocalai-bench[llama]'")
    config = build_config("speed", {"output_dir": tmp_path, "n_threads": 2,
                                    "index_path": tmp_path / "runs.sqlite", "n_ctx": 512},
                          env={})
    outcome = run_speed(config, load_speed_plan(n_predict=8), _Quiet(),
                        open_streamer=open_streamer, detect_rig=detect_rig)
    record = outcome.record
    first = record["speed"]["runs"][0]
    assert_consistent(record, first["raw"]["prompt_tokens"], 8, LLAMA_CPP_PERF)
    # llama.cpp's own counters: the prompt in one batch, one decode step per token but the last.
    assert first["raw"]["engine"]["n_p_eval"] == first["raw"]["prompt_tokens"]
    assert first["raw"]["engine"]["n_eval"] == 7
    assert record["runtime"]["engine"] == "llama-cpp-python"
    assert "--n-threads 2" in record["command"]["reproduce"]


def test_a_llama_server_row_is_published_and_submitted(llama_server, tmp_path, github,
                                                       leaderboard):
    """The real engine's output through the hardware row's whole flow: run, Gist, trust gate,
    payload (validated by the loopback leaderboard against speed-submission-v2)."""
    from runlocalai_bench import schemas
    from runlocalai_bench.publish.flow import prepare_submission, publish_run, submit_prepared
    from runlocalai_bench.publish.gist import GistClient
    from runlocalai_bench.publish.leaderboard import LeaderboardClient
    from runlocalai_bench.publish.trust import publishable_specs
    from tests.publish.fakes import LEADERBOARD_TOKEN, VALID_TOKEN

    config = build_config("speed", {"endpoint": llama_server.url, "output_dir": tmp_path,
                                    "index_path": tmp_path / "runs.sqlite"}, env={})
    run = run_speed(config, load_speed_plan(n_predict=32), _Quiet(),
                    open_streamer=open_streamer, detect_rig=detect_rig).run
    with GistClient(VALID_TOKEN, api_url=github.url) as client:
        publish_run(run.path, client)
        sub = prepare_submission(run.path, handle=None, notes=None,
                                 publishable=publishable_specs(), gist=client)
    assert schemas.validate(sub.payload, schemas.load_schema(schemas.SPEED_SUBMISSION)) == []
    # The machine's noise is not the code's: a set that did not settle is the one reason the
    # gate may give here.
    unsettled = [r for r in sub.verdict.reasons if r.startswith("the speed did not settle")]
    assert list(sub.verdict.reasons) == unsettled
    assert sub.payload["runtime"]["engine"] == "llama.cpp"
    assert sub.payload["speed"]["runs"][0]["engine_timings_raw"]["predicted_n"] == 32
    if sub.verdict.ok:
        with LeaderboardClient(leaderboard.url, LEADERBOARD_TOKEN) as client:
            assert submit_prepared(sub, client).status == "queued"
