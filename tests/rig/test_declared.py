"""Another machine's hardware is declared with --hardware, checked against the catalog and marked
declared in the record and the submission; this machine's is detected."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from runlocalai_bench import schemas, ui
from runlocalai_bench.backends.factory import open_backend
from runlocalai_bench.cli.render import RichRunUI
from runlocalai_bench.config import build_config
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.pipeline import run_benchmark
from runlocalai_bench.publish.payload import hardware_union
from runlocalai_bench.results.record import load_record
from runlocalai_bench.rig import detect_rig
from runlocalai_bench.rig.declared import declared_rig, rig_source
from tests.support.cli import assert_user_error, rla
from tests.support.llama_stub import StubLlamaServer

REMOTE = "http://192.0.2.7:8080"  # TEST-NET-1: never this machine


def test_a_gpu_slug_declares_the_catalogs_part() -> None:
    rig = declared_rig("rtx-4090")
    assert (rig.hardware_slug, rig.hw_class, rig.accelerator, rig.declared) == (
        "rtx-4090", "DISCRETE_GPU", "cuda", True)
    (gpu,) = rig.gpus
    assert (gpu.name, gpu.bandwidth_gbps, gpu.bandwidth_source) == (
        "GeForce RTX 4090", 1008.0, "catalog")
    assert rig.os.system is None and rig.cpu.brand is None and rig.memory_bytes is None
    cpu = declared_rig("cpu-amd-ryzen-9-7950x-64gb")
    assert (cpu.hw_class, cpu.accelerator, cpu.gpus) == ("CPU_ONLY", "cpu", ())


def test_an_unknown_slug_is_refused_with_close_ones() -> None:
    with pytest.raises(ConfigError, match="'rtx-4090-turbo' is not in rla's hardware") as err:
        declared_rig("rtx-4090-turbo")
    assert "rtx-4090" in (err.value.hint or "")


def test_which_rig_a_run_records() -> None:
    assert rig_source(None, None, detect_rig) is detect_rig
    assert rig_source("http://127.0.0.1:8080", None, detect_rig) is detect_rig
    assert rig_source(REMOTE, "rtx-4090", detect_rig)().declared is True
    with pytest.raises(ConfigError, match="is another machine: rla cannot detect") as err:
        rig_source(REMOTE, None, detect_rig)
    assert "--hardware SLUG" in (err.value.hint or "")
    with pytest.raises(ConfigError, match="this endpoint is this machine"):
        rig_source("http://127.0.0.1:8080", "rtx-4090", detect_rig)


def test_replicas_are_all_this_machine_or_all_declared() -> None:
    assert rig_source("http://127.0.0.1:8080", None, detect_rig,
                      ["http://localhost:8081"]) is detect_rig
    assert rig_source(REMOTE, "rtx-4090", detect_rig,
                      ["http://192.0.2.8:8080"])().hardware_slug == "rtx-4090"
    for first, other in (("http://127.0.0.1:8080", REMOTE), (REMOTE, "http://127.0.0.1:8080")):
        with pytest.raises(ConfigError, match=r"127\.0\.0\.1:8080 is this machine and"
                           r" http://192\.0\.2\.7:8080 is another"):
            rig_source(first, "rtx-4090", detect_rig, [other])


def test_rla_bench_refuses_another_machine_without_hardware(tmp_path: Path) -> None:
    proc = rla("bench", "selfcheck", "--endpoint", REMOTE, "--output-dir", str(tmp_path))
    assert_user_error(proc)
    first, hint = proc.stderr.strip().splitlines()[:2]
    assert first == f"error: {REMOTE} is another machine: rla cannot detect its hardware"
    assert hint.startswith("hint: declare it with --hardware SLUG")
    assert not list(tmp_path.iterdir())


def test_a_declared_rig_is_marked_in_the_record_and_the_submission(tmp_path: Path) -> None:
    server = StubLlamaServer(policy=lambda prompt: "A").start()
    try:
        config = build_config("selfcheck", {"endpoint": server.url, "model": "stub",
                                            "output_dir": tmp_path, "hardware": "rtx-4090",
                                            "index_path": tmp_path / "i.sqlite"}, env={})
        outcome = run_benchmark(config, RichRunUI(ui.stdout_console(), ui.stderr_console()),
                                open_backend=open_backend,
                                detect_rig=lambda: declared_rig("rtx-4090"))
    finally:
        server.stop()
    record = load_record(outcome.run.record)
    data = record.to_json()
    assert data["hardware"]["declared"] is True
    assert data["rig"].endswith(" rtx-4090")
    assert "--hardware rtx-4090" in data["command"]["reproduce"]
    assert schemas.validate(data, schemas.load_schema(record.schema)) == []
    assert hardware_union(record.hardware)["declared"] is True
    assert "declared" not in hardware_union(replace(record.hardware, declared=None))
