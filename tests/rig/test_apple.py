"""Macs through recorded system_profiler JSON and sysctl outputs fed to the real probes."""

from __future__ import annotations

import json
from pathlib import Path

from runlocalai_bench.rig import detect_rig
from runlocalai_bench.rig.apple import SYSTEM_PROFILER, parse_size
from runlocalai_bench.rig.slug import BANDWIDTH_CATALOG, DISCRETE_GPU, UNIFIED

from .fakes import darwin_host, load_json

PROFILER = " ".join(SYSTEM_PROFILER)


def test_m3_max_64gb(tmp_path: Path) -> None:
    host, runner = darwin_host(tmp_path, "apple/m3-max-64gb.commands.json")
    rig = detect_rig(host)

    assert rig.os.system == "Darwin"
    assert rig.os.distro == "macOS 14.5"
    assert rig.cpu.brand == "Apple M3 Max"
    assert rig.cpu.vendor == "apple"
    assert (rig.cpu.cores, rig.cpu.threads) == (16, 16)
    assert rig.cpu.flags == ("neon", "dotprod", "i8mm", "bf16", "fp16")
    assert rig.memory_bytes == 64 * 1024**3

    (gpu,) = rig.gpus
    assert gpu.vendor == "apple"
    assert gpu.name == "Apple M3 Max"
    assert gpu.unified_memory
    assert gpu.memory_bytes == 64 * 1024**3
    # The 40-core GPU variant: 400 GB/s (the 30-core M3 Max has 300).
    assert (gpu.bandwidth_gbps, gpu.bandwidth_source) == (400.0, BANDWIDTH_CATALOG)
    assert gpu.slug == "apple-m3-max-64gb"
    assert (rig.hardware_slug, rig.hw_class, rig.accelerator) == ("apple-m3-max-64gb", UNIFIED,
                                                                  "metal")
    assert PROFILER in runner.calls


def test_m3_max_30_core_gpu_has_less_bandwidth(tmp_path: Path) -> None:
    host, runner = darwin_host(tmp_path, "apple/m3-max-64gb.commands.json")
    data = load_json("apple/m3-max-64gb.system_profiler.json")
    data["SPDisplaysDataType"][0]["sppci_cores"] = "30"
    data["SPHardwareDataType"][0]["physical_memory"] = "36 GB"
    runner.outputs[PROFILER] = json.dumps(data)
    runner.outputs["sysctl -n hw.memsize"] = str(36 * 1024**3)
    rig = detect_rig(host)
    assert rig.gpus[0].bandwidth_gbps == 300.0
    assert rig.hardware_slug == "apple-m3-max-36gb"


def test_without_system_profiler_the_chip_still_names_the_gpu(tmp_path: Path) -> None:
    host, runner = darwin_host(tmp_path, "apple/m3-max-64gb.commands.json")
    del runner.outputs[PROFILER]
    rig = detect_rig(host)
    (gpu,) = rig.gpus
    assert gpu.name == "Apple M3 Max"
    assert rig.hardware_slug == "apple-m3-max-64gb"
    # Core count unknown: the variant listed first in hardware/apple.toml.
    assert gpu.bandwidth_gbps == 400.0


def test_intel_mac_with_a_discrete_radeon(tmp_path: Path) -> None:
    host, _ = darwin_host(tmp_path, "apple/intel-macbook-pro-2019.commands.json")
    rig = detect_rig(host)

    igpu, radeon = rig.gpus
    assert igpu.vendor == "intel" and igpu.slug is None
    assert radeon.vendor == "amd"
    assert radeon.memory_bytes == 8 * 1024**3
    assert radeon.slug == "pro-5500m-8gb"  # not in the catalog: named after the part
    assert rig.cpu.family == "intel-core-i9-9880h"
    assert rig.cpu.max_mhz == 2300.0
    assert rig.cpu.flags == ("sse4_2", "avx", "avx2", "fma")
    assert (rig.hw_class, rig.accelerator) == (DISCRETE_GPU, "metal")


def test_nothing_answers(tmp_path: Path) -> None:
    """A Mac where every tool fails: a rig with nulls, not an exception."""
    host, runner = darwin_host(tmp_path, "apple/m3-max-64gb.commands.json")
    runner.outputs.clear()
    rig = detect_rig(host)
    assert rig.gpus == ()
    assert rig.memory_bytes is None
    assert rig.cpu.brand is None
    assert rig.hardware_slug == "cpu-unknown"


def test_parse_size() -> None:
    assert parse_size("64 GB") == 64 * 1024**3
    assert parse_size("1536 MB") == 1536 * 1024**2
    assert parse_size("lots") is None
    assert parse_size(None) is None

