"""speed_gate: a record from a real (loopback) speed run passes; fabricated ones are refused,
each with its reason. Plus the ceiling arithmetic."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from runlocalai_bench.backends.factory import open_streamer
from runlocalai_bench.config import build_config
from runlocalai_bench.rig import detect_rig
from runlocalai_bench.speed import speed_gate
from runlocalai_bench.speed.plausibility import bytes_per_token, ceiling
from runlocalai_bench.speed.runner import run_speed
from runlocalai_bench.speed.spec import load_speed_plan
from tests.rig.fakes import fake_nvml, linux_host, load_json
from tests.speed.forgery import forge_decode
from tests.support.streaming import StreamingLlamaServer

RTX_4090_CEILING = 1008.1e9 / 253e6 * 1.15  # 4582.3 tok/s for the stub's 253 MB model


class _Quiet:
    def begin(self, log: Any, header: Any) -> None:
        return None

    def run_done(self, label: str, measurement: Any, counted: bool) -> None:
        return None

    def note(self, line: str) -> None:
        return None

    def end(self, record: Any) -> None:
        return None


@pytest.fixture(scope="module")
def valid_record(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A speed run at 400 tok/s on an RTX 4090 rig (well under its ceiling)."""
    out = tmp_path_factory.mktemp("speed-gate")
    host, _ = linux_host(out / "rig", nvml=fake_nvml(load_json("nvml/rtx-4090.json")))
    rig = detect_rig(host)
    server = StreamingLlamaServer(decode_tps=lambda n: 400.0 + n).start()
    try:
        config = build_config("speed", {"endpoint": server.url, "output_dir": out / "runs",
                                        "index_path": out / "runs.sqlite"}, env={})
        outcome = run_speed(config, load_speed_plan(n_predict=8), _Quiet(),
                            open_streamer=open_streamer, detect_rig=lambda: rig)
    finally:
        server.stop()
    yield dict(outcome.record)


@pytest.fixture
def record(valid_record: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(valid_record)


def counted(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in record["speed"]["runs"] if r["counted"]]


def test_the_real_record_passes(record):
    assert speed_gate(record) == []
    assert record["speed"]["refusals"] == []


def test_a_fabricated_record_above_the_ceiling_is_refused_with_the_reason(record):
    forge_decode(record, 9000.0)
    reasons = speed_gate(record)
    assert len(reasons) == 3, reasons
    for reason, label in zip(reasons, ("run-1", "run-2", "run-3"), strict=True):
        assert reason.startswith(f"{label}: decode 9000.0 tok/s (engine) exceeds the"
                                 f" memory-bandwidth ceiling {RTX_4090_CEILING:.1f} tok/s")
        assert "1008.1 GB/s (measured-nvml) ÷ 0.253 GB per token (dense: file size)" in reason


def test_just_under_the_ceiling_passes(record):
    forge_decode(record, RTX_4090_CEILING * 0.99)
    assert speed_gate(record) == []


def test_a_record_cannot_loosen_its_own_factor_or_tolerances(record):
    forge_decode(record, 9000.0)
    record["speed"]["protocol"]["ceiling_factor"] = 5.0
    record["speed"]["consistency"]["engine_vs_stream_max_ratio"] = 1000.0
    assert len([r for r in speed_gate(record) if "exceeds the memory-bandwidth" in r]) == 3


def test_an_edited_summary_does_not_follow_from_the_runs(record):
    record["speed"]["summary"]["decode_tps"]["median"] = 9000.0
    assert speed_gate(record) == [
        "summary decode tok/s 9000.0 does not follow from the counted runs (median 403.000)"]


def test_edited_figures_do_not_follow_from_the_observations(record):
    counted(record)[0]["metrics"]["decode_tps"] = 9000.0
    reasons = speed_gate(record)
    assert reasons == ["run-1: recorded decode tok/s 9000.0 does not follow from its"
                       " observations (402.000)"]


def test_a_stated_rate_must_follow_from_the_engines_counts(record):
    run = counted(record)[1]
    run["raw"]["engine"]["predicted_per_second"] = 9000.0  # counts and times left as measured
    run["metrics"]["decode_tps"] = 9000.0
    reasons = speed_gate(record)
    assert any(r.startswith("run-2: the engine states predicted_per_second 9000.0, but 8"
                            " tokens in") for r in reasons), reasons
    assert any("exceeds the memory-bandwidth ceiling" in r for r in reasons)


def test_an_engine_far_faster_than_its_tokens_arrived_is_refused(record):
    run = counted(record)[0]
    first = run["raw"]["arrivals_ms"][0]
    run["raw"]["arrivals_ms"] = [first + 100.0 * i for i in range(8)]  # 10 tok/s arriving
    reasons = speed_gate(record)
    assert reasons == ["run-1: engine decode 402.0 tok/s vs tokens arriving at 10.0 tok/s"
                       " (×40.20, at most ×1.5)"]


def test_prefill_longer_than_the_first_token_took_is_refused(record):
    run = counted(record)[2]
    engine = run["raw"]["engine"]
    engine["prompt_ms"] = run["raw"]["arrivals_ms"][0] * 2 + 50.0
    engine["prompt_per_second"] = engine["prompt_n"] * 1000.0 / engine["prompt_ms"]
    reasons = speed_gate(record)
    assert len(reasons) == 1 and reasons[0].startswith("run-3: engine prefill")
    assert "is longer than the first token's arrival" in reasons[0]


def test_missing_runs_logs_and_environment_are_refused(record):
    record["speed"]["runs"] = [r for r in record["speed"]["runs"] if r["label"] != "run-2"]
    record["speed"]["summary"]["decode_tps"]["median"] = 402.0  # runs 1 and 3: 402, 404 → 403
    record["speed"]["logs_sha256"] = None
    record["runtime"]["version"] = None
    record["hardware"]["gpus"][0]["driver"] = None
    record["hardware"]["os"]["release"] = ""
    assert set(speed_gate(record)) == {
        "2 counted runs; the protocol needs 3",
        "summary decode tok/s 402.0 does not follow from the counted runs (median 403.000)",
        "the sha256 of the concatenated run logs is missing",
        "the runtime version is unknown",
        "the operating system is not recorded",
        "the driver version of NVIDIA GeForce RTX 4090 is not recorded",
    }


def test_an_unknown_model_size_on_a_gpu_rig_cannot_be_checked(record):
    record["model"]["size_bytes"] = None
    assert speed_gate(record) == [
        "the model's size is unknown, so decode speed cannot be checked against the"
        " memory-bandwidth ceiling"]


def test_not_a_speed_record():
    assert speed_gate({"benchmark": {"slug": "mmlu"}}) == [
        "the record has no speed section (not a `rla bench speed` run)"]
    assert "unknown speed schema" in speed_gate({"speed": {"schema": 99}})[0]


# -- the ceiling ---------------------------------------------------------------------------


def test_ceiling_is_bandwidth_over_bytes_per_token_times_the_factor():
    cap = ceiling(1008.1, "measured-nvml", 4_920_000_000, factor=1.15)  # an 8B Q4_K_M file
    assert cap.tps == pytest.approx(204.9, abs=0.1)
    assert cap.limit_tps == pytest.approx(cap.tps * 1.15)


def test_mixture_of_experts_reads_only_its_active_share():
    per_token, how = bytes_per_token(18_600_000_000, 128, 8)  # Qwen3-30B-A3B at Q4_K_M
    assert per_token == pytest.approx(18.6e9 * 8 / 128) and "8/128 experts" in how
    moe = ceiling(1008.1, "catalog", 18_600_000_000, factor=1.15, expert_count=128,
                  expert_used_count=8)
    dense = ceiling(1008.1, "catalog", 18_600_000_000, factor=1.15)
    assert moe.limit_tps == pytest.approx(dense.limit_tps * 16)


def test_no_ceiling_for_a_gpu_without_a_bandwidth_figure():
    gpu = ceiling(None, None, 253_000_000, factor=1.15, hw_class="DISCRETE_GPU")
    assert gpu.limit_tps is None and "bandwidth is unknown" in gpu.basis


@pytest.mark.parametrize("family, gbps, source", [
    ("amd-epyc-zen4", 1689.6, "cpu-server-bound"),
    ("intel-xeon-sapphire-rapids", 1689.6, "cpu-server-bound"),
    ("apple-m3-ultra", 1689.6, "cpu-server-bound"),
    ("intel-core-i7-13700k", 256.0, "cpu-client-bound"),
    ("amd-ryzen-9-7950x", 256.0, "cpu-client-bound"),
    (None, 1689.6, "cpu-server-bound"),  # unknown: the most generous bound
])
def test_a_cpu_only_rig_is_bounded_by_its_cpu_class(family, gbps, source):
    cap = ceiling(None, None, 4_000_000_000, factor=1.15, hw_class="CPU_ONLY",
                  cpu_family=family)
    assert cap.bandwidth_gbps == gbps and cap.bandwidth_source.startswith(source)
    assert cap.limit_tps == pytest.approx(gbps * 1e9 / 4e9 * 1.15)


def test_a_cpu_only_record_above_its_class_bound_is_refused(record):
    # The same run claimed on a desktop CPU: 256 GB/s / 0.253 GB × 1.15 = 1163.6 tok/s.
    record["hardware"].update(hw_class="CPU_ONLY", gpus=[])
    record["hardware"]["cpu"]["family"] = "intel-core-i7-13700k"
    assert speed_gate(record) == []  # 400 tok/s fits under the bound
    forge_decode(record, 2_000.0)
    reasons = speed_gate(record)
    assert len(reasons) == 3, reasons
    assert reasons[0].startswith("run-1: decode 2000.0 tok/s (engine) exceeds the"
                                 " memory-bandwidth ceiling 1163.6 tok/s (256 GB/s"
                                 " (cpu-client-bound: 256-bit LPDDR5X-8000")
