"""record.json: built from a real run, valid against its schema, and the model's identity."""

from __future__ import annotations

import json

import pytest

from runlocalai_bench import schemas
from runlocalai_bench.errors import RecordError
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import (
    RECORD_VERSION,
    load_record,
    model_block,
    model_slug,
    model_tuning,
    rig_line,
    runner_spec,
)
from runlocalai_bench.types import ModelInfo
from tests.publish.conftest import bench


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> rundir.RunDir:
    return bench(tmp_path_factory.mktemp("record"), "selfcheck")


def test_a_real_runs_record_validates_and_round_trips(run):
    record = load_record(run.record).to_json()
    assert schemas.validate(record, schemas.load_schema(schemas.RECORD)) == []
    assert json.loads(json.dumps(record)) == record
    assert record["record_version"] == RECORD_VERSION == 4
    assert record["shard"] is None and record["shards"] is None  # neither a shard nor merged
    request = record["request"]
    assert request["benchmark"] == "selfcheck" and request["speed"] is None
    assert request["sampling"] == record["sampling"]["settings"]
    assert request["concurrency"] == record["runtime"]["concurrency"] == 1
    assert request["endpoint"] == record["runtime"]["endpoint"] and request["model_path"] is None
    assert request["n_ctx"] is None and request["prompt_style"] == "completion"
    assert record["files"] == {name: rundir.sha256_file(run.path / name)
                               for name in ("run.log", "samples.jsonl", "results.json")}
    assert record["rig"] == f"llama.cpp-b9999 {record['hardware']['hardware_slug']}"
    assert record["runner"] == {"task_spec": "tasks/selfcheck.toml",
                                "runtime_spec": "runners/llama-server.toml"}
    assert record["model"]["slug"] == "stub"
    assert record["model"]["quantization"] == "Q4_K_M"
    assert record["model"]["quantization_source"] == "runtime"  # /props model_ftype
    assert record["runtime"]["concurrency"] == 1 and "model" not in record["runtime"]
    assert record["benchmark"]["scoring_method"] == "first_token_logprob"
    results = json.loads(run.results.read_text())
    assert record["results"]["macro"] == results["macro"]
    assert set(record["results"]["categories"]) == {c["name"] for c in results["categories"]}
    assert record["test_run_log_url"] is None and record["gist"] is None
    assert record["submitter"] is None and record["notes"] == ""


def test_a_record_missing_a_field_fails_the_schema(run):
    record = load_record(run.record).to_json()
    del record["model"]["quantization"]
    record["files"].pop("run.log")
    errors = schemas.validate(record, schemas.load_schema(schemas.RECORD))
    assert "$.model: missing required field 'quantization'" in errors
    assert "$.files: missing required field 'run.log'" in errors


def test_records_of_another_version_are_refused(tmp_path):
    run = rundir.RunDir(tmp_path)
    with pytest.raises(RecordError, match=r"no record\.json"):
        load_record(run.record)
    rundir.write_json_atomic(run.record, {"record_version": 1})
    with pytest.raises(RecordError, match="record version 1"):
        load_record(run.record)


def test_a_record_with_a_field_of_the_wrong_type_is_refused_with_where(run, tmp_path):
    record = load_record(run.record).to_json()
    record["benchmark"] = "selfcheck"
    record["results"]["subtasks"] = []
    path = tmp_path / "record.json"
    rundir.write_json_atomic(path, record)
    with pytest.raises(RecordError, match=r"record\.json cannot be read: \$\.benchmark: expected"
                       r" object, got string$") as info:
        load_record(path)
    assert info.value.field == "benchmark" and "rla schema" in (info.value.hint or "")
    del record["benchmark"]
    record["results"]["subtasks"] = {}
    rundir.write_json_atomic(path, record)
    with pytest.raises(RecordError, match=r"\$: missing required field 'benchmark'$"):
        load_record(path)


@pytest.mark.parametrize("name", [
    "gemma-3-270m-q4_k_m.gguf", "llama3.1:8b-instruct-q4_K_M",
    "Qwen2.5-Coder-1.5B-Instruct-Q6_K.gguf", "model-IQ4_XS.gguf", "phi-3-mini-f16.gguf",
    "qwq-32b", None,
])
def test_a_quantization_is_never_read_from_a_name(name):
    for model in (ModelInfo(id=name), ModelInfo(path=f"/m/{name}" if name else None)):
        block = model_block(model)
        assert (block["quantization"], block["quantization_source"]) == (None, None)


@pytest.mark.parametrize(("model", "slug", "tuning"), [
    (ModelInfo(name="Qwen2.5 Coder 1.5B Instruct", id="x"), "qwen2.5-coder-1.5b-instruct",
     "instruct"),
    (ModelInfo(path="/m/gemma-3-270m-q4_k_m.gguf"), "gemma-3-270m", None),
    (ModelInfo(id="llama3.1:8b-q4_K_M"), "llama3.1-8b", None),
    (ModelInfo(id="gemma-3-4b-it-Q8_0.gguf"), "gemma-3-4b-it", "instruct"),
    (ModelInfo(id="Mistral-7B-v0.3-base.Q5_K_M.gguf"), "mistral-7b-v0.3-base", "base"),
    (ModelInfo(), None, None),
])
def test_model_identity(model, slug, tuning):
    assert model_slug(model) == slug
    assert model_tuning(model) == tuning


def test_the_runtimes_quantization_wins_over_the_file_name():
    block = model_block(ModelInfo(id="x-q8_0.gguf", quantization="Q4_K_M"))
    assert (block["quantization"], block["quantization_source"]) == ("Q4_K_M", "runtime")


def test_runner_specs_and_rig_line():
    assert runner_spec("llama.cpp") == "runners/llama-server.toml"
    assert runner_spec("ollama") == "runners/ollama.toml"
    assert runner_spec("replay") is None
    assert rig_line("ollama-0.24.0", "rtx-5080") == "ollama-0.24.0 rtx-5080"
