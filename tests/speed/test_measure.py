"""One run's figures from recorded engine timing objects and arrival times; the protocol's
arithmetic; the speed spec. Pure functions, recorded inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runlocalai_bench.backends.base import experts_from_metadata
from runlocalai_bench.backends.openai_compat import iter_sse_data
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.speed.measure import (
    LLAMA_CPP,
    LLAMA_CPP_PERF,
    OLLAMA,
    RawRun,
    engine_timing,
    measure,
    stream_timing,
)
from runlocalai_bench.speed.protocol import needs_rerun, spread, summarize, verdict
from runlocalai_bench.speed.runner import exact_prompt
from runlocalai_bench.speed.spec import Consistency, load_speed_plan

DATA = Path(__file__).parent / "data"
# The last event of a real llama-server (b11312, gemma-3-270m Q4_K_M, 2 busy CPU cores).
RECORDED_SSE = (DATA / "llama-server-b11312-stream.sse").read_text(encoding="utf-8")
# Ollama's documented final /api/generate object (docs/api.md, "Generate a completion").
OLLAMA_FINAL = {
    "model": "llama3.2", "created_at": "2023-08-04T19:22:45.499127Z", "response": "",
    "done": True, "total_duration": 10706818083, "load_duration": 6338219291,
    "prompt_eval_count": 26, "prompt_eval_duration": 130079000, "eval_count": 259,
    "eval_duration": 4232710000,
}
# llama.cpp's perf counters as llama-cpp-python 0.3.36 reported them for 64 generated tokens.
PERF = {"t_start_ms": 1660512.685, "t_load_ms": 1042.565, "t_p_eval_ms": 332.66,
        "t_eval_ms": 7630.789, "n_p_eval": 11, "n_eval": 63, "n_reused": 62}


def recorded_events() -> list[dict]:
    return [json.loads(p) for p in iter_sse_data(RECORDED_SSE.splitlines())]


def recorded_timings() -> dict:
    return recorded_events()[-1]["timings"]


# -- server-sent events --------------------------------------------------------------------


def test_recorded_llama_server_stream_parses_into_tokens_and_a_final_timings_event():
    events = recorded_events()
    texts = [e["choices"][0]["text"] for e in events]
    assert len(events) == 17  # 16 tokens, then the final event; [DONE] ends the stream
    assert all(texts[:16]) and texts[16] == ""
    assert events[-1]["usage"]["completion_tokens"] == 16
    assert recorded_timings()["predicted_n"] == 16


def test_sse_joins_multiline_data_skips_comments_and_stops_at_done():
    lines = [": keep-alive", "data: {\"a\":", "data: 1}", "", "event: x", "data:[DONE]", "",
             "data: {\"after\": true}", ""]
    assert list(iter_sse_data(lines)) == ['{"a":\n1}']


def test_sse_yields_a_final_event_without_a_trailing_blank_line():
    assert list(iter_sse_data(["data: {\"x\": 1}"])) == ['{"x": 1}']


# -- engine timings ------------------------------------------------------------------------


def test_llama_server_rates_are_taken_as_the_engine_states_them():
    t = recorded_timings()
    e = engine_timing(t, LLAMA_CPP)
    assert e is not None
    assert (e.prompt_n, e.predicted_n) == (t["prompt_n"], t["predicted_n"])
    assert e.decode_tps == t["predicted_per_second"]
    assert e.prefill_tps == t["prompt_per_second"]
    # This build counts n - 1 decode steps: the stated rate is not n / ms.
    assert e.decode_tps == pytest.approx((t["predicted_n"] - 1) * 1000 / t["predicted_ms"])


def test_llama_server_without_stated_rates_divides_count_by_time():
    e = engine_timing({"prompt_n": 10, "prompt_ms": 50.0, "predicted_n": 20,
                       "predicted_ms": 500.0}, LLAMA_CPP)
    assert e is not None and e.decode_tps == 40.0 and e.prefill_tps == 200.0


def test_ollama_durations_are_nanoseconds():
    e = engine_timing(OLLAMA_FINAL, OLLAMA)
    assert e is not None
    assert e.predicted_ms == pytest.approx(4232.71)
    assert e.decode_tps == pytest.approx(259 / 4.23271)
    assert e.prefill_tps == pytest.approx(26 / 0.130079)


def test_llama_cpp_perf_counters_give_rates_per_decode_step():
    e = engine_timing(PERF, LLAMA_CPP_PERF)
    assert e is not None
    assert e.decode_tps == pytest.approx(63 / 7.630789)
    assert e.prefill_tps == pytest.approx(11 / 0.33266)


@pytest.mark.parametrize("raw, fmt", [(None, LLAMA_CPP), ({"x": 1}, LLAMA_CPP),
                                      (OLLAMA_FINAL, None), (OLLAMA_FINAL, "tgi")])
def test_no_engine_timing_from_missing_or_unknown_objects(raw, fmt):
    assert engine_timing(raw, fmt) is None


# -- stream timings and the headline -------------------------------------------------------


def test_stream_rate_counts_tokens_after_the_first_over_the_first_to_last_span():
    s = stream_timing([100.0, 150.0, 200.0, 250.0, 300.0])
    assert s.ttft_ms == 100.0 and s.events == 5 and s.decode_ms == 200.0
    assert s.decode_tps == pytest.approx(4 / 0.2)
    # An engine count above the event count (two tokens in one event) wins.
    assert stream_timing([100.0, 150.0, 200.0, 250.0, 300.0], 9).decode_tps == \
        pytest.approx(8 / 0.2)
    assert stream_timing([]).ttft_ms is None and stream_timing([5.0]).decode_tps is None


def test_engine_figures_are_the_headline_and_the_stream_is_kept_beside_them():
    arrivals = tuple(900.0 + 25.0 * i for i in range(16))
    m = measure(RawRun(text="x", arrivals_ms=arrivals, total_ms=1300.0,
                       engine=recorded_timings(), engine_format=LLAMA_CPP))
    t = recorded_timings()
    assert (m.decode_source, m.prefill_source) == ("engine", "engine")
    assert m.decode_tps == t["predicted_per_second"]
    assert m.stream.decode_tps == pytest.approx(15 / 0.375)
    assert m.ttft_ms == 900.0 and m.prompt_tokens == t["prompt_n"] and m.generated_tokens == 16


def test_without_engine_timings_the_stream_is_the_headline():
    m = measure(RawRun(text="x", arrivals_ms=(200.0, 300.0, 400.0), total_ms=410.0,
                       prompt_tokens=50, completion_tokens=3))
    assert m.decode_source == "stream" and m.decode_tps == pytest.approx(2 / 0.2)
    # TTFT bounds prefill from below: 50 tokens in at most 200 ms.
    assert m.prefill_source == "stream" and m.prefill_tps == pytest.approx(250.0)


def test_a_split_run_takes_prefill_and_ttft_from_its_prefill_request():
    prefill = RawRun(text="x", arrivals_ms=(1500.0,), total_ms=1501.0,
                     engine={"prompt_n": 512, "prompt_ms": 1400.0, "prompt_per_second": 365.7,
                             "predicted_n": 1, "predicted_ms": 0.001,
                             "predicted_per_second": 0.0}, engine_format=LLAMA_CPP)
    decode = RawRun(text="y", arrivals_ms=(30.0, 55.0, 80.0), total_ms=81.0,
                    engine={"prompt_n": 1, "prompt_ms": 5.0, "predicted_n": 3,
                            "predicted_ms": 50.0, "predicted_per_second": 40.0},
                    engine_format=LLAMA_CPP, prefill=prefill)
    m = measure(decode)
    assert (m.decode_tps, m.generated_tokens) == (40.0, 3)
    assert (m.prefill_tps, m.ttft_ms, m.prompt_tokens) == (365.7, 1500.0, 512)
    assert m.stream.ttft_ms == 30.0  # the decode request's own first token, kept
    assert m.prefill_run is not None and m.prefill_run.decode_tps is None  # one token: no step


def test_in_process_generated_tokens_come_from_the_stream_not_the_decode_steps():
    m = measure(RawRun(text="x", arrivals_ms=tuple(float(i) for i in range(1, 65)),
                       total_ms=70.0, engine=PERF, engine_format=LLAMA_CPP_PERF,
                       prompt_tokens=11, completion_tokens=64))
    assert m.generated_tokens == 64 and m.prompt_tokens == 11


# -- the protocol's arithmetic -------------------------------------------------------------


def test_spread_is_range_over_median():
    assert spread([30.0, 34.0, 36.0]) == pytest.approx(6 / 34)
    assert spread([10.0]) is None


@pytest.mark.parametrize("rates, rerun", [
    ([35.0, 36.0, 34.0], False),  # 2 / 35 = 5.7%
    ([35.0, 30.0, 36.5], False),  # 6.5 / 35 = 18.6%
    ([20.0, 30.0, 30.0], True),   # 10 / 30 = 33%
    ([35.0, None, 35.0], True),   # a run without a decode rate re-runs the set
])
def test_needs_rerun_at_or_above_the_threshold(rates, rerun):
    assert needs_rerun(rates, 0.20) is rerun


def test_threshold_itself_triggers_a_rerun():
    assert needs_rerun([40.0, 48.0, 40.0], 0.20) is True  # 8 / 40 = exactly 20%
    assert needs_rerun([40.0, 47.9, 40.0], 0.20) is False


def _m(rate: float) -> object:
    return measure(RawRun(text="", arrivals_ms=(10.0, 10.0 + 1000.0 / rate), total_ms=0.0))


def test_verdict_reproduced_high_only_for_three_runs_under_the_threshold():
    steady = summarize([_m(30.0), _m(31.0), _m(32.0)])
    assert verdict(steady, required_runs=3, threshold=0.2).reproduced is True
    assert verdict(steady, required_runs=3, threshold=0.2).confidence == "high"
    noisy = summarize([_m(20.0), _m(31.0), _m(32.0)])
    v = verdict(noisy, required_runs=3, threshold=0.2)
    assert (v.reproduced, v.confidence) == (False, "low") and "≥ 20%" in v.reason
    two = summarize([_m(30.0), _m(30.0)])
    assert verdict(two, required_runs=3, threshold=0.2).reproduced is False


# -- prompts and the spec ------------------------------------------------------------------


def test_exact_prompt_repeats_the_text_and_cuts_to_the_token_count():
    def tokenize(text: str) -> list[int]:
        return [2] + [len(w) for w in text.split()]

    ids = exact_prompt(tokenize, "one two three", 512)
    assert ids is not None and len(ids) == 512
    assert ids[:4] == [2, 3, 3, 5] and ids[4:7] == [3, 3, 5]
    assert exact_prompt(lambda text: None, "x", 512) is None


def test_the_spec_carries_the_protocol():
    plan = load_speed_plan()
    assert plan.prompt == "Write a detailed explanation of how transformer attention works."
    assert (plan.warmup_runs, plan.measured_runs, plan.spread_threshold) == (1, 3, 0.20)
    assert plan.ceiling_factor == 1.15 and plan.profile == "standard"
    assert plan.prompt_tokens is None and plan.n_predict >= 256
    bench = load_speed_plan("pp512-tg128")
    assert (bench.prompt_tokens, bench.n_predict, bench.split) == (512, 128, True)
    assert plan.split is False
    # speed_gate applies the protocol's tolerances, which must be the spec's.
    assert plan.consistency == Consistency()


def test_overrides_and_bad_profiles():
    plan = load_speed_plan("standard", prompt="Hi there", n_predict=64)
    assert (plan.prompt, plan.n_predict, plan.prompt_overridden) == ("Hi there", 64, True)
    with pytest.raises(ConfigError, match="no speed profile named 'tg9000'"):
        load_speed_plan("tg9000")
    with pytest.raises(ConfigError, match="at least 2"):
        load_speed_plan(n_predict=1)
    with pytest.raises(ConfigError, match="empty"):
        load_speed_plan(prompt="  ")


def test_experts_from_gguf_metadata():
    meta = {"qwen3moe.expert_count": 128, "qwen3moe.expert_used_count": 8}
    e = experts_from_metadata(meta, "qwen3moe")
    assert (e.count, e.used) == (128, 8)
    dense = experts_from_metadata({"gemma3.block_count": 18}, "gemma3")
    assert (dense.count, dense.used) == (None, None)
