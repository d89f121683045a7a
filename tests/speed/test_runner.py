"""The capture protocol end to end over real HTTP: streaming loopback servers speaking
llama-server's and Ollama's protocols, a real run directory, a real run index."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from runlocalai_bench.errors import ConfigError
from runlocalai_bench.results import rundir
from runlocalai_bench.results.store import RunIndex
from runlocalai_bench.speed import speed_gate
from tests.support.cli import assert_user_error, rla
from tests.support.servers import Reply, serve
from tests.support.streaming import StreamingLlamaServer, StreamingOllama

DATA = Path(__file__).parent / "data"
STANDARD_PROMPT = "Write a detailed explanation of how transformer attention works."


def test_a_steady_server_gives_one_warmup_and_three_counted_runs(serving, speed, cpu_rig):
    stub = StreamingLlamaServer(decode_tps=lambda n: 40.0 + n % 2)
    outcome = speed(serving(stub).url, cpu_rig)
    run, record = outcome.run, outcome.record
    s = record["speed"]

    assert stub.completions == 4
    for body in stub.bodies:
        assert body["prompt"] == STANDARD_PROMPT
        assert body["stream"] is True and body["cache_prompt"] is False
        assert body["ignore_eos"] is True and body["max_tokens"] == 8
        assert body["temperature"] == 0.0 and body["top_k"] == 1
    assert [r["label"] for r in s["warmup"]] == ["warmup-1"]
    assert [(r["label"], r["counted"]) for r in s["runs"]] == [
        ("run-1", True), ("run-2", True), ("run-3", True)]
    logs = [run.path / name for name in s["logs"]]
    assert [p.name for p in logs] == ["run-1.log", "run-2.log", "run-3.log"]
    assert s["logs_sha256"] == hashlib.sha256(b"".join(p.read_bytes() for p in logs)).hexdigest()
    assert s["logs_sha256_prefix"] == s["logs_sha256"][:12]
    for entry in s["runs"] + s["warmup"]:
        path = run.path / entry["log"]
        assert entry["log_sha256"] == rundir.sha256_file(path)
        text = path.read_text()
        assert " w0 w1 w2 w3 w4 w5 w6 w7" in text  # the run's full output
        assert '"predicted_n": 8' in text  # the engine's timings as sent
    # Rates: the engine's (completions 2, 3, 4 of the server report 40, 41, 40 tok/s).
    assert [r["metrics"]["decode_tps"] for r in s["runs"]] == [40.0, 41.0, 40.0]
    assert all(r["metrics"]["decode_source"] == "engine" for r in s["runs"])
    assert all(r["metrics"]["stream"]["events"] == 8 for r in s["runs"])
    assert s["summary"]["decode_tps"]["median"] == 40.0
    assert s["summary"]["prompt_tokens"] == len(stub.tokens(STANDARD_PROMPT))
    assert s["summary"]["spread"] == pytest.approx(1 / 40, abs=1e-4)
    assert (s["reproduced"], s["confidence"], s["attempts"]) == (True, "high", 1)
    # A CPU-only rig (an EPYC: server class) is bounded by hardware/cpu.toml's server bound.
    assert s["plausibility"]["bandwidth_gbps"] == 1689.6
    assert s["plausibility"]["bandwidth_source"].startswith("cpu-server-bound: two sockets")
    assert s["plausibility"]["limit_tps"] == pytest.approx(
        1689.6e9 / s["plausibility"]["model_bytes"] * 1.15, rel=1e-6)
    assert s["refusals"] == [] == speed_gate(record)
    assert record["benchmark"]["kind"] == "speed"
    # The quality record's top level (schema record-v4), without dataset and results
    # and the scored runs' shard, shards, endpoints and batching.
    from runlocalai_bench import schemas

    required = set(schemas.load_schema(schemas.RECORD)["required"])
    assert set(record) == required - {"dataset", "results", "shard", "shards", "endpoints",
                                      "batching"} | {"speed"}
    assert record["runtime"]["slug"] == "llama.cpp-b9999"
    assert record["files"]["run.log"] == rundir.sha256_file(run.run_log)
    assert "--profile standard --n-predict 8" in record["command"]["reproduce"]
    assert json.loads(run.record.read_text()) == record
    row = RunIndex(speed.out / "runs.sqlite").get(run.id)
    assert (row.slug, row.status, row.n) == ("speed", "complete", 3)
    log = run.run_log.read_text()
    assert "run-3" in log and "reproduced true" in log and "passes the speed gate" in log


def test_a_spread_of_20_percent_reruns_the_set_and_counts_the_last(serving, speed, cpu_rig):
    rates = [40.0, 40.0, 20.0, 40.0, 41.0, 40.0, 40.0]  # warm-up, set 1 (50%), set 2 (2.5%)
    stub = StreamingLlamaServer(decode_tps=lambda n: rates[n - 1])
    s = speed(serving(stub).url, cpu_rig).record["speed"]

    assert stub.completions == 7
    assert s["attempts"] == 2
    assert [(r["label"], r["attempt"], r["counted"]) for r in s["runs"]] == [
        ("run-1", 1, False), ("run-2", 1, False), ("run-3", 1, False),
        ("run-4", 2, True), ("run-5", 2, True), ("run-6", 2, True)]
    assert s["logs"] == ["runs/run-4.log", "runs/run-5.log", "runs/run-6.log"]
    assert (s["reproduced"], s["confidence"]) == (True, "high")
    assert s["summary"]["decode_tps"]["median"] == 40.0


def test_a_set_that_never_settles_stops_after_the_bounded_reruns(serving, speed, cpu_rig):
    stub = StreamingLlamaServer(decode_tps=lambda n: 20.0 if n % 3 == 0 else 40.0)
    s = speed(serving(stub).url, cpu_rig).record["speed"]

    assert s["attempts"] == 3  # the first set and max_reruns = 2 more
    assert stub.completions == 1 + 3 * 3
    assert (s["reproduced"], s["confidence"]) == (False, "low")
    assert "≥ 20%" in s["verdict"]
    assert s["logs"] == ["runs/run-7.log", "runs/run-8.log", "runs/run-9.log"]


def test_pp512_prefills_exactly_512_tokens_and_decodes_apart(serving, speed, cpu_rig):
    stub = StreamingLlamaServer(decode_tps=lambda n: 40.0)
    record = speed(serving(stub).url, cpu_rig, profile="pp512-tg128", n_predict=None).record
    s = record["speed"]

    # Each run, as llama-bench: the 512-token prompt for one token, then 128 tokens decoded
    # after the prompt's first token alone.
    assert stub.completions == 8
    prefills, decodes = stub.bodies[0::2], stub.bodies[1::2]
    one = stub.tokens(STANDARD_PROMPT)
    for prefill, decode in zip(prefills, decodes, strict=True):
        assert len(prefill["prompt"]) == 512 and prefill["max_tokens"] == 1
        assert prefill["prompt"][: len(one)] == one  # BOS, then the standard prompt, repeated
        assert prefill["prompt"] == prefills[0]["prompt"]
        assert decode["prompt"] == prefill["prompt"][:1] and decode["max_tokens"] == 128
    assert (s["prompt"]["tokens"], s["prompt"]["exact"], s["split"]) == (512, True, True)
    assert s["prompt"]["sha256"] == hashlib.sha256(
        json.dumps(prefills[0]["prompt"]).encode()).hexdigest()
    for run in s["runs"]:
        m, raw = run["metrics"], run["raw"]
        assert raw["prefill"]["engine"]["prompt_n"] == 512 and raw["engine"]["prompt_n"] == 1
        assert (m["prompt_tokens"], m["generated_tokens"], m["decode_tps"]) == (512, 128, 40.0)
        assert m["prefill_tps"] == raw["prefill"]["engine"]["prompt_per_second"]
        assert m["ttft_ms"] == m["prefill_run"]["stream"]["ttft_ms"]
        log = (run["log"], "## prefill request", "## decode request")
        text = (speed.out / "runs" / record["run_id"] / log[0]).read_text()
        assert log[1] in text and log[2] in text
    assert s["summary"]["prompt_tokens"] == 512
    assert s["refusals"] == [] == speed_gate(record)

    # The gate reads the prefill request too: an engine prefill slower than its first token
    # arrived is refused, named by run and request.
    engine = s["runs"][0]["raw"]["prefill"]["engine"]
    engine["prompt_ms"] = s["runs"][0]["raw"]["prefill"]["arrivals_ms"][0] * 2 + 50.0
    engine["prompt_per_second"] = 512 * 1000.0 / engine["prompt_ms"]
    reasons = speed_gate(record)
    assert len(reasons) == 1 and reasons[0].startswith("run-1 prefill: engine prefill")


def test_above_the_bandwidth_ceiling_is_refused_with_the_reason(serving, speed, gpu_rig):
    stub = StreamingLlamaServer(decode_tps=lambda n: 10_000.0)
    record = speed(serving(stub).url, gpu_rig).record
    s = record["speed"]

    # 1008.1 GB/s (NVML, RTX 4090) / 0.253 GB (the served model) = 3984.6 tok/s; × 1.15.
    assert s["plausibility"]["tps"] == pytest.approx(1008.1e9 / 253e6, rel=1e-4)
    assert s["plausibility"]["limit_tps"] == pytest.approx(1008.1e9 / 253e6 * 1.15, rel=1e-4)
    ceiling = [r for r in s["refusals"] if "memory-bandwidth ceiling" in r]
    assert len(ceiling) == 3
    assert "run-1: decode 10000.0 tok/s (engine) exceeds the memory-bandwidth ceiling" \
        " 4582.3 tok/s" in ceiling[0]
    assert "1008.1 GB/s (measured-nvml)" in ceiling[0]
    assert s["refusals"] == speed_gate(record)
    assert not [c for c in s["plausibility"]["checks"] if c["name"] == "ceiling" and c["ok"]]


def test_a_plausible_gpu_result_passes(serving, speed, gpu_rig):
    stub = StreamingLlamaServer(decode_tps=lambda n: 400.0)
    s = speed(serving(stub).url, gpu_rig).record["speed"]
    assert s["refusals"] == []
    assert s["environment"]["driver"] == "550.54.15"
    assert all(c["ok"] for c in s["plausibility"]["checks"] if c["name"] == "ceiling")


def test_ollama_durations_and_model_size(serving, speed, gpu_rig):
    final = {"done_reason": "length", "total_duration": 900_000_000,
             "load_duration": 1_000_000, "prompt_eval_count": 12,
             "prompt_eval_duration": 3_000_000, "eval_count": 3,
             "eval_duration": 20_000_000}
    stub = StreamingOllama(final=final)
    outcome = speed(serving(stub).url, gpu_rig, model="gemma3:270m")
    s = outcome.record["speed"]

    body = stub.bodies[0]
    assert body["raw"] is True and body["stream"] is True and body["prompt"] == STANDARD_PROMPT
    assert body["options"]["num_predict"] == 8 and body["options"]["temperature"] == 0.0
    run = s["runs"][0]
    assert run["raw"]["engine_format"] == "ollama"
    assert "context" not in run["raw"]["engine"]
    assert run["metrics"]["decode_tps"] == pytest.approx(3 / 0.020)
    assert run["metrics"]["prefill_tps"] == pytest.approx(12 / 0.003)
    assert run["metrics"]["generated_tokens"] == 3
    short = [c for c in s["plausibility"]["checks"] if c["name"] == "short-generation"]
    assert [c["detail"] for c in short][:1] == [
        "run-1: generated 3 of 8 tokens (finish reason length)"]
    assert s["refusals"] == []  # noted, not refused
    assert outcome.record["model"]["size_bytes"] == 291_000_000
    assert s["plausibility"]["limit_tps"] == pytest.approx(1008.1e9 / 291e6 * 1.15, rel=1e-4)
    assert outcome.record["runtime"]["slug"] == "ollama-0.24.0"


def test_ollama_cannot_take_an_exact_token_prompt(serving, speed, cpu_rig):
    url = serving(StreamingOllama()).url
    with pytest.raises(ConfigError, match="exactly 512 tokens"):
        speed(url, cpu_rig, profile="pp512-tg128", model="gemma3:270m")


def test_a_recorded_llama_server_stream_is_timed_from_its_events(serving, speed, cpu_rig):
    """Events replayed as a real llama-server (b11312) sent them, token by token."""
    events = (DATA / "llama-server-b11312-stream.sse").read_bytes().split(b"\n\n")
    stub = StreamingLlamaServer(replay=[e + b"\n\n" for e in events if e.strip()],
                                pause_s=0.002)
    s = speed(serving(stub).url, cpu_rig).record["speed"]

    final = json.loads(events[-3][len(b"data: "):])
    assert final["choices"][0]["finish_reason"] == "length"
    for run in s["runs"]:
        assert run["raw"]["engine"] == final["timings"]
        assert run["metrics"]["decode_tps"] == final["timings"]["predicted_per_second"]
        assert run["metrics"]["stream"]["events"] == 16
        assert run["metrics"]["generated_tokens"] == 16
        assert run["raw"]["completion_tokens"] == 16
        # 16 events sent ≥ 2 ms apart (30 ms from first to last): each is timed as it arrives,
        # in order, not all at once; a late first event can shorten the span a little.
        arrivals = run["raw"]["arrivals_ms"]
        assert len(arrivals) == 16 and arrivals == sorted(arrivals)
        assert arrivals[-1] - arrivals[0] >= 15.0


def test_a_server_error_stops_the_run_and_marks_it(speed, cpu_rig):
    stub = StreamingLlamaServer()

    def handler(seen):
        if seen.path == "/v1/completions":
            return Reply(500, {"error": {"message": "out of memory"}})
        return stub.handle(seen)

    from runlocalai_bench.errors import BackendError

    with serve(handler) as server, pytest.raises(BackendError, match=r"HTTP 500.*out of memory"):
        speed(server.url, cpu_rig)
    rows = RunIndex(speed.out / "runs.sqlite").list(slug="speed", limit=5)
    assert [r.status for r in rows] == ["interrupted"]


# -- the command ---------------------------------------------------------------------------


def test_rla_bench_speed_prints_the_speed_section_as_json(serving, tmp_path):
    url = serving(StreamingLlamaServer(decode_tps=lambda n: 35.0)).url
    proc = rla("bench", "speed", "--endpoint", url, "--n-predict", "4", "--output-dir",
               str(tmp_path), "--json", process=True)  # its output passes run.log's tee
    assert proc.returncode == 0, proc.stderr
    speed = json.loads(proc.stdout)
    assert speed["summary"]["decode_tps"]["median"] == 35.0
    assert speed["n_predict"] == 4 and speed["reproduced"] is True
    assert "run directory:" in proc.stderr


@pytest.mark.parametrize("args, needle", [
    (("bench", "speed", "--limit", "3"), "--limit: not a speed setting"),
    (("bench", "mmlu", "--profile", "standard"), "only applies to `rla bench speed`"),
])
def test_user_errors(args, needle):
    assert_user_error(rla(*args), needle)


def test_each_request_has_a_connection_of_its_own(serving, speed, cpu_rig):
    """llama-server drops a kept-alive connection after a response that outlasted its 5 s
    keep-alive, unannounced; a request sent on it gets no answer. So no speed request reuses
    a connection: each says `Connection: close`, and none meets a dropped connection."""
    stub = StreamingLlamaServer(decode_tps=lambda n: 40.0, stale_after_stream=True)
    server = serving(stub)
    outcome = speed(server.url, cpu_rig)
    completions = [s for s in server.requests if s.path == "/v1/completions"]
    assert len(completions) == 4 and server.dropped == []
    assert all(s.headers.get("Connection") == "close" for s in completions)
    assert outcome.record["speed"]["summary"]["decode_tps"]["median"] == 40.0


def test_a_server_behind_an_api_key_is_probed_and_streamed_with_it(serving, speed, cpu_rig):
    """The speed run opens its engine through the same factory as a quality run: the probe
    and every request carry RLA_API_KEY."""
    stub = StreamingLlamaServer(decode_tps=lambda n: 40.0, api_key="s3cret")
    server = serving(stub)
    outcome = speed(server.url, cpu_rig, env={"RLA_API_KEY": "s3cret"})
    assert outcome.record["speed"]["summary"]["decode_tps"]["median"] == 40.0
    assert server.requests and all(s.headers.get("Authorization") == "Bearer s3cret"
                                   for s in server.requests)
