"""vLLM and LM Studio rows can pass: vLLM's quantization from the served model's config.json on
this machine, LM Studio's version from its CLI (its REST API has none)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runlocalai_bench.runtime.probe import probe_endpoint
from runlocalai_bench.runtime.read_hf import local_config, quantization_of_config

from .fakes import Reply, recorded
from .test_runtime_probe import lmstudio_routes


@pytest.mark.parametrize(("config", "quant"), [
    ({"quantization_config": {"quant_method": "awq", "bits": 4}}, "AWQ-int4"),
    ({"quantization_config": {"quant_method": "gptq", "bits": 8}}, "GPTQ-int8"),
    ({"quantization_config": {"quant_method": "fp8"}, "torch_dtype": "bfloat16"}, "FP8"),
    ({"quantization_config": {"quant_method": "bitsandbytes", "load_in_4bit": True}},
     "BNB-4bit"),
    ({"torch_dtype": "bfloat16"}, "BF16"),
    ({"torch_dtype": "float16"}, "F16"),
    ({}, None),
])
def test_quantization_of_a_hugging_face_config(config: dict, quant: str | None) -> None:
    assert quantization_of_config(config) == quant


def test_a_hub_ids_config_is_read_from_this_machines_cache(tmp_path: Path) -> None:
    snapshot = tmp_path / "models--org--model" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps({"torch_dtype": "bfloat16"}))
    assert local_config("org/model", tmp_path) == {"torch_dtype": "bfloat16"}
    assert local_config("org/other", tmp_path) is None


def test_vllm_serving_a_local_awq_model_reports_its_quantization(serve, tmp_path: Path) -> None:
    model_dir = tmp_path / "Llama-3.1-8B-Instruct-AWQ"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps({
        "model_type": "llama", "quantization_config": {"quant_method": "awq", "bits": 4}}))
    models = recorded("vllm-models.json")
    models["data"][0].update(id="awq", root=str(model_dir))
    server = serve({"GET /version": Reply(body={"version": "0.6.3"}),
                    "GET /v1/models": Reply(body=models)})
    info = probe_endpoint(server.url, model="awq")
    assert (info.model.quantization, info.model.architecture) == ("AWQ-int4", "llama")


def test_lmstudios_version_comes_from_its_cli(serve, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    lms = tmp_path / "bin" / "lms"
    lms.parent.mkdir()
    lms.write_text("#!/bin/sh\necho 'CLI commit: 1a2b3c'\necho 'LM Studio 0.3.31 (build 7)'\n")
    lms.chmod(0o755)
    monkeypatch.setenv("PATH", f"{lms.parent}{os.pathsep}{os.environ['PATH']}")
    info = probe_endpoint(serve(lmstudio_routes()).url)
    assert (info.version, info.slug) == ("0.3.31", "lmstudio-0.3.31")
    assert info.model.quantization == "Q4_K_M"
