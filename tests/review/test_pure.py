"""The pure parts of the editor: score comparison, log reading, dimensions, run comparison and
the verdict, on values shaped like real records (taken from a real stub run where it matters)."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import replace
from typing import Any

import pytest

from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import Model, Record, Scored
from runlocalai_bench.review.compare import compare_runs
from runlocalai_bench.review.dimensions import (
    DimensionMatch,
    Setup,
    compare_dimensions,
    compare_hardware,
    compare_model,
    compare_runtime,
)
from runlocalai_bench.review.logcheck import check_log
from runlocalai_bench.review.paired import compare_samples
from runlocalai_bench.review.reproduce import independence
from runlocalai_bench.review.scored import decide
from runlocalai_bench.review.scores import score_mismatches
from runlocalai_bench.review.verify import Finding, VerifyReport
from runlocalai_bench.types import CPUInfo, DatasetPin, OSInfo, RigInfo

GIB = 1024**3

# -- scores ----------------------------------------------------------------------------------


def test_score_mismatches_name_each_field(original):
    claimed = rundir.read_json(original.record)["results"]
    assert score_mismatches(claimed, rundir.read_json(original.results)) == []
    edited = copy.deepcopy(claimed)
    name = sorted(edited["subtasks"])[0]
    edited["subtasks"][name]["score"] += 0.5
    edited["counts"]["ok"] -= 1
    del edited["subtasks"][sorted(edited["subtasks"])[-1]]
    fields = [m.field for m in score_mismatches(edited, claimed)]
    assert fields == [f"results.subtasks.{name}.score",
                      f"results.subtasks.{sorted(claimed['subtasks'])[-1]}", "results.counts.ok"]


# -- the log ---------------------------------------------------------------------------------


def scored_record(run: rundir.RunDir) -> tuple[Record, Scored]:
    record = load_record(run.record)
    assert isinstance(record.body, Scored)
    return record, record.body


def test_the_real_log_agrees_and_each_edit_is_named(original):
    record, scored = scored_record(original)
    log = original.run_log.read_text(encoding="utf-8")
    assert check_log(log, record, scored) == []

    def fields(text: str) -> list[str]:
        return [f.field for f in check_log(text, record, scored)]

    first = log.splitlines()[0]
    assert fields(log.replace(first, first.replace(record.rla.version, "9.9.9"))) == [
        "rla.version"]
    samples = next(line for line in log.splitlines() if line.startswith("samples "))
    assert fields(log.replace(samples, "samples    13")) == ["results.expected_n"]
    assert fields(log.replace("12/12", "11/12")) == ["results.n"]
    score = f"{scored.results.score * 100:.2f}%"
    assert fields(log.replace(score, "99.00%")) == ["results.score"]
    closing = log.splitlines()[-1]
    assert fields(log.replace(closing + "\n", "")) == ["files.run.log"]
    bench = next(line for line in log.splitlines() if line.startswith("benchmark "))
    assert fields(log.replace(bench, bench.replace("selfcheck", "mmlu"))) == [
        "benchmark.spec_sha256"]


def test_a_log_with_a_command_line_must_match_the_record(original):
    record, scored = scored_record(original)
    lines = original.run_log.read_text(encoding="utf-8").splitlines(keepends=True)
    with_command = [lines[0], f"command    {record.command.invoked}\n", *lines[1:]]
    assert check_log("".join(with_command), record, scored) == []
    with_command[1] = "command    rla bench selfcheck --limit 1\n"
    assert [f.field for f in check_log("".join(with_command), record, scored)] == [
        "command.invoked"]


def test_results_printed_as_json_are_read(original):
    record, scored = scored_record(original)
    record = replace(record, rla=replace(record.rla, version="0.1.0"), run_id="r1",
                     benchmark=replace(record.benchmark, slug="s", spec_sha256="abcdef"),
                     rig="llama.cpp-b1 cpu-x-16gb")
    scored = replace(scored, timings=replace(scored.timings,
                                             started_at="2026-01-01T00:00:00+00:00"),
                     results=replace(scored.results, score=0.5, n=2, expected_n=2,
                                     metric="accuracy"))
    record = replace(record, body=scored)
    log = ("# rla 0.1.0 run r1 2026-01-01T00:00:00+00:00\nbenchmark  s (spec sha256 abc)\n"
           "rig        llama.cpp-b1 cpu-x-16gb\nsamples    2\nprogress 2/2 (100%) (final)\n"
           '{\n  "slug": "s",\n  "score": 0.5,\n  "n": 2\n}\n# run.log closed 2026\n')
    assert check_log(log, record, scored) == []
    scored = replace(scored, results=replace(scored.results, score=1.0))
    record = replace(record, body=scored)
    assert [f.field for f in check_log(log, record, scored)] == ["results.score"]


# -- dimensions ------------------------------------------------------------------------------


GEMMA = {"slug": "gemma-3-270m", "family": "gemma3", "parameters": 268_098_176, "tuning": None,
         "quantization": "Q4_K_M", "file_sha256": None}
CPU = {"hw_class": "CPU_ONLY", "hardware_slug": "cpu-amd-epyc-zen3-24gb",
       "cpu": {"family": "amd-epyc-zen3", "brand": "AMD EPYC"}, "memory_bytes": 24 * GIB}
GPU = {"hw_class": "DISCRETE_GPU", "hardware_slug": "rtx-4090", "cpu": {"family": "x"},
       "memory_bytes": 64 * GIB}


def model(fields: dict[str, Any]) -> Model:
    """A record's model section with `fields` stated, the rest unknown."""
    return Model(**{f.name: None for f in dataclasses.fields(Model)} | fields)


def rig(fields: dict[str, Any]) -> RigInfo:
    """A record's hardware section with `fields` stated (cpu as CPUInfo's fields)."""
    fields = {**fields, "cpu": CPUInfo(**fields.get("cpu", {}))}
    return RigInfo(**{"os": OSInfo(), "memory_bytes": None, "gpus": (), "hardware_slug": "",
                      "hw_class": "", "accelerator": "cpu"} | fields)


def setup(model_fields=GEMMA, engine="llama.cpp", hardware=CPU) -> Setup:
    return Setup(model=model(model_fields), engine=engine, runtime_slug=f"{engine}-1",
                 hardware=rig(hardware))


def test_the_same_setup_matches_on_all_four():
    assert [d.status for d in compare_dimensions(setup(), setup())] == ["match"] * 4


@pytest.mark.parametrize(("other", "status"), [
    ({"family": "llama"}, "differs"),
    ({"parameters": 1_000_000_000}, "differs"),
    ({"parameters": 270_000_000}, "match"),  # a "270M" label is the same model
    ({"tuning": "instruct"}, "unknown"),  # known on one side only
    ({"family": None, "slug": "gemma-3-270m"}, "match"),  # the slug stands in for the family
    ({"family": None, "slug": "qwen2.5-0.5b"}, "differs"),
    ({"family": None, "slug": None}, "unknown"),
])
def test_model_dimension(other, status):
    assert compare_model(model(GEMMA), model({**GEMMA, **other})).status == status


def test_instruct_and_base_differ():
    base, chat = {**GEMMA, "tuning": "base"}, {**GEMMA, "tuning": "instruct"}
    assert compare_model(model(base), model(chat)).status == "differs"


@pytest.mark.parametrize(("a", "b", "status"), [
    ("llama.cpp", "ollama", "match"), ("ollama", "llama-cpp-python", "match"),
    ("llama.cpp", "vllm", "differs"), ("vllm", "vllm", "match"),
    ("llama.cpp", "openai-compatible", "unknown"), ("lmstudio", "llama.cpp", "differs"),
])
def test_runtime_dimension(a, b, status):
    assert compare_runtime(setup(engine=a), setup(engine=b)).status == status


def test_quantization_dimension():
    dims = compare_dimensions(setup(), setup({**GEMMA, "quantization": "Q6_K"}))
    assert [d.status for d in dims] == ["match", "differs", "match", "match"]
    assert "Q4_K_M ≠ Q6_K" in dims[1].reason
    unnamed = compare_dimensions(setup(), setup({**GEMMA, "quantization": None}))
    assert unnamed[1].status == "unknown"


@pytest.mark.parametrize(("other", "status"), [
    ({}, "match"),
    ({"memory_bytes": 23 * GIB}, "match"),  # what a 24 GB machine reports
    ({"memory_bytes": 32 * GIB}, "differs"),  # another RAM tier
    ({"cpu": {"family": "intel-core-14"}}, "differs"),
    ({"cpu": {}}, "unknown"),
])
def test_cpu_hardware_dimension(other, status):
    assert compare_hardware(rig(CPU), rig({**CPU, **other})).status == status


def test_gpu_hardware_dimension():
    assert compare_hardware(rig(GPU), rig(GPU)).status == "match"
    assert compare_hardware(rig(GPU), rig({**GPU, "hardware_slug": "rtx-3090"})).status == \
        "differs"
    assert compare_hardware(rig(GPU), rig(CPU)).status == "differs"


# -- comparing runs --------------------------------------------------------------------------


def block(score: float, subtasks: dict[str, float]) -> dict:
    return {"score": score, "n": 100 * len(subtasks),
            "subtasks": {k: {"score": v, "n": 100} for k, v in subtasks.items()}}


def test_two_points_is_inside_the_band_and_more_is_not():
    a = block(0.50, {"x": 0.50, "y": 0.30, "z": 0.10})
    b = block(0.52, {"x": 0.52, "y": 0.33, "w": 0.10})
    result = compare_runs(a, b, [], [])
    assert [d.name for d in result.moved] == ["w", "y", "z"]  # +2.0 in, +3.0 out, one-sided
    assert result.headline.delta_pp == pytest.approx(2.0) and not result.headline.moved
    assert [d.name for d in compare_runs(a, b, [], [], tolerance_pp=5).moved] == ["w", "z"]


def test_samples_that_disagree_and_those_in_one_run_only():
    a = [{"id": "1", "subtask": "x", "response": " A", "extracted": "A", "score": 1.0,
          "status": "ok"},
         {"id": "2", "subtask": "x", "response": " B", "extracted": "B", "score": 0.0,
          "status": "ok"},
         {"id": "3", "subtask": "y", "response": " C", "extracted": "C", "score": 0.0,
          "status": "ok"}]
    b = [dict(a[0]), {**a[1], "response": " C", "extracted": "C", "score": 1.0},
         {"id": "4", "subtask": "y", "response": "", "extracted": None, "score": 0.0,
          "status": "error"}]
    compared, agreeing, diffs = compare_samples(a, b)
    assert (compared, agreeing) == (2, 1)
    assert [(d.id, d.fields) for d in diffs] == [
        ("2", ("response", "extracted", "score")), ("3", ("missing",)), ("4", ("missing",))]


# -- the verdict -----------------------------------------------------------------------------


OK = VerifyReport("x", "r", (Finding("files", "ok", "fine"),))
BROKEN = VerifyReport("x", "r", (Finding("files", "failed", "changed", "samples.jsonl",
                                         "files.samples.jsonl"),))
MATCH = tuple(DimensionMatch(n, "match", "a", "a") for n in ("model", "quantization",
                                                             "runtime", "hardware"))
SAME = compare_runs(block(0.5, {"x": 0.5}), block(0.5, {"x": 0.5}), [], [])
MOVED = compare_runs(block(0.5, {"x": 0.5}), block(0.45, {"x": 0.45}), [], [])


def test_verdicts_follow_the_policy_in_order():
    assert decide(OK, [], MATCH, SAME)[0] == "reproduced"
    verdict, reasons = decide(OK, [], MATCH, MOVED)
    assert verdict == "not reproduced"
    assert reasons == ("headline moved -5.0 pp (50.0% → 45.0%), beyond ±2 pp",)
    quant = (MATCH[0], DimensionMatch("quantization", "differs", "Q4_K_M", "Q8_0",
                                      "Q4_K_M ≠ Q8_0"), *MATCH[2:])
    for comparison in (SAME, MOVED):  # a dimension mismatch is never "reproduced"
        verdict, reasons = decide(OK, [], quant, comparison)
        assert verdict == "related benchmark"
        assert reasons == ("3 of 4 dimensions match", "quantization differs: Q4_K_M ≠ Q8_0")
    unknown = (DimensionMatch("model", "unknown", "?", "?", "no names"), *MATCH[1:])
    assert decide(OK, [], unknown, SAME)[0] == "related benchmark"
    unknown_hw = (*MATCH[:3], DimensionMatch("hardware", "unknown", "?", "rtx-3090", "no slug"))
    assert decide(OK, [], unknown_hw, SAME)[0] == "related benchmark"
    assert decide(OK, ["dataset.content_sha256: 'a' → 'b'"], MATCH, SAME)[0] == "invalid"
    hardware = (*MATCH[:3], DimensionMatch("hardware", "differs", "rtx-4090", "rtx-3090",
                                           "GPU rtx-4090 ≠ rtx-3090"))
    verdict, reasons = decide(BROKEN, [], hardware, SAME)
    assert verdict == "invalid" and "samples.jsonl:files.samples.jsonl" in reasons[0]


def test_independence_needs_two_signatures():
    assert independence("ed25519:a", "ed25519:b") is True
    assert independence("ed25519:a", "ed25519:a") is False
    assert independence(None, "ed25519:b") is None


def test_where_rescoring_reads_the_data(tmp_path):
    from runlocalai_bench.review.rescore import data_source_for

    def pin(source: str, pinned: bool = True, location: str | None = None) -> DatasetPin:
        return DatasetPin(source=source, dataset="cais/mmlu", revision=None,
                          content_sha256="0" * 64, expected_sha256=None, pinned=pinned,
                          location=location)

    bundled = pin("bundled")
    assert data_source_for(bundled, tmp_path).kind == "bundled"  # a sample run stays a sample
    hub = pin("hub", pinned=False)
    assert data_source_for(hub) == data_source_for(hub, None)
    assert (data_source_for(hub).kind, data_source_for(hub).allow_unpinned) == ("hub", True)
    assert data_source_for(hub, tmp_path).path == str(tmp_path.resolve())
    here = pin("dir", location=str(tmp_path))
    gone = pin("dir", location="/nowhere/mmlu")
    assert (data_source_for(here).kind, data_source_for(here).path) == ("dir", str(tmp_path))
    assert data_source_for(gone).kind == "hub"
