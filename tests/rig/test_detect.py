"""detect_rig() on this real machine, and how a rig renders."""

from __future__ import annotations

import platform
from pathlib import Path

from rich.console import Console

from runlocalai_bench.rig import CPU_ONLY, detect_rig, ram_tier_gb, render_rig
from runlocalai_bench.types import RigInfo

from .fakes import fake_nvml, linux_host, load_json

SMI = "rocm-smi --showproductname --showmeminfo vram --showbus --showdriverversion --json"


def test_this_machine() -> None:
    """The real probes on the real machine (a CPU-only VM in CI): sane values, no exception."""
    rig = detect_rig()

    assert rig.os.system == platform.system()
    assert rig.os.release == platform.release()
    assert rig.python == platform.python_version()
    assert rig.memory_bytes is not None and rig.memory_bytes > 1024**3
    assert rig.cpu.threads is not None and rig.cpu.threads >= 1
    assert rig.cpu.cores is not None and 1 <= rig.cpu.cores <= rig.cpu.threads
    assert rig.cpu.brand and rig.cpu.vendor and rig.cpu.family
    if any(g.slug for g in rig.gpus):
        assert rig.hw_class != CPU_ONLY and rig.accelerator != "cpu"
    else:
        assert rig.hw_class == CPU_ONLY
        assert rig.accelerator == "cpu"
        assert rig.hardware_slug == f"cpu-{rig.cpu.family}-{ram_tier_gb(rig.memory_bytes)}gb"


def _text(rig: RigInfo) -> str:
    console = Console(record=True, width=200, no_color=True)
    console.print(render_rig(rig))
    return console.export_text()


def test_render_a_gpu_rig(tmp_path: Path) -> None:
    host, _ = linux_host(tmp_path, nvml=fake_nvml(load_json("nvml/rtx-4090.json")),
                         sysfs="sysfs/amd-rx-7900-xtx-and-raphael.json",
                         commands={SMI: "@rocm-smi/rx-7900-xtx-and-raphael.txt"})
    text = _text(detect_rig(host))

    assert "rtx-4090+rx-7900-xtx" in text
    assert "DISCRETE_GPU (cuda)" in text
    assert "NVIDIA GeForce RTX 4090" in text
    assert "1,008.1 nvml" in text
    assert "960.0 catalog" in text
    assert "550.54.15 CUDA 12.4" in text
    assert "6.8.5 ROCm 6.2.4" in text
    assert "Gen4 x16" in text
    assert "integrated (not counted)" in text
    assert "1,968.1 GB/s" in text  # the rig's ceiling: both cards
    assert "AMD EPYC" in text


def test_render_a_cpu_rig(tmp_path: Path) -> None:
    host, _ = linux_host(tmp_path, cpuinfo="cpuinfo/intel-i7-13700k")
    text = _text(detect_rig(host))
    assert "cpu-intel-core-i7-13700k-32gb" in text
    assert "16 / 24" in text
    assert "31.1 GiB" in text
    assert "GPUs" not in text


def test_render_a_cpu_only_rig_shows_its_class_bound(tmp_path: Path) -> None:
    text = _text(detect_rig(linux_host(tmp_path)[0]))  # an EPYC: server class
    assert "bandwidth ceiling │ ≤ 1,689.6 GB/s (cpu-server-bound, hardware/cpu.toml)" in text
