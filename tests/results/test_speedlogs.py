"""A speed run's own log, runs/<label>.log: written and read back by results/speedlogs.py."""

from __future__ import annotations

import json
from dataclasses import replace

from runlocalai_bench.results import speedlogs
from runlocalai_bench.results.speedlogs import DerivedFigures, RequestSection

GENERATION = RequestSection(
    name="generation", request={"prompt": "Write …", "n_predict": 8, "stream": True},
    output="Attention lets each token\nlook at every other one.", finish_reason="length",
    engine_format="llama.cpp", engine={"predicted_n": 8, "predicted_per_second": 40.5},
    prompt_tokens=12, completion_tokens=8, arrivals_ms=(10.25, 35.0004, 60.5), total_ms=61.23456)


def test_a_split_runs_log_round_trips():
    derived = DerivedFigures(decode_tps=40.5, decode_source="engine", prefill_tps=None,
                             prefill_source=None, ttft_ms=10.25, prompt_tokens=12,
                             generated_tokens=8, engine_decode_tps=40.5,
                             stream_decode_tps=39.9)
    prefill = replace(GENERATION, name="prefill", finish_reason=None, engine=None,
                      engine_format=None, completion_tokens=None)
    decode = replace(GENERATION, name="decode")
    text = speedlogs.text(speedlogs.title("0.4.0", "run-2", "2026-01-01T00:00:00+00:00"),
                          [prefill, decode], derived)
    lines = text.splitlines()
    assert speedlogs.parse_title(lines[0]) == ("0.4.0", "run-2", "2026-01-01T00:00:00+00:00")
    read = speedlogs.request_sections(lines)
    assert [name for name, _ in read] == ["prefill", "decode"]
    for (_, facts), written in zip(read, [prefill, decode], strict=True):
        assert set(facts) == set(speedlogs.FACTS)
        engine = speedlogs.parse_engine_timings(facts["engine_timings"])
        assert engine is not None
        assert (engine[0], json.loads(engine[1])) == (str(written.engine_format),
                                                      written.engine)
        assert speedlogs.parse_usage(facts["usage"]) == (str(written.prompt_tokens),
                                                          str(written.completion_tokens))
        assert json.loads(speedlogs.fact_value(facts["arrivals_ms"], "arrivals_ms")) == [
            10.25, 35.0, 60.5]
        assert speedlogs.fact_value(facts["total_ms"], "total_ms") == "61.235"
        assert speedlogs.fact_value(facts["finish_reason"], "finish_reason") == str(
            written.finish_reason)
    derived_decode = [d for d in map(speedlogs.parse_derived_decode, lines) if d]
    assert derived_decode == ["40.500"]
    assert "prefill_tps none (None)" in text  # a figure not measured reads back as none

