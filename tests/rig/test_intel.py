"""Intel GPUs from a recorded sysfs tree and lspci output."""

from __future__ import annotations

from pathlib import Path

from runlocalai_bench.rig import detect_rig
from runlocalai_bench.rig.slug import BANDWIDTH_CATALOG, CPU_ONLY, DISCRETE_GPU

from .fakes import linux_host

LSPCI = {"lspci -mm -nn -D": "@lspci/intel-arc-a770-and-uhd-770.txt"}


def test_arc_a770_beside_integrated_graphics(tmp_path: Path) -> None:
    host, _ = linux_host(tmp_path, sysfs="sysfs/intel-arc-a770-and-uhd-770.json", commands=LSPCI)
    rig = detect_rig(host)

    igpu, arc = rig.gpus
    assert igpu.name == "UHD Graphics 770"
    assert igpu.slug is None and igpu.unified_memory
    assert arc.name == "Arc A770"
    # VRAM is not in sysfs for i915/xe: the catalog's default A770 (16 GB) stands.
    assert arc.slug == "arc-a770"
    assert arc.memory_bytes is None
    assert (arc.bandwidth_gbps, arc.bandwidth_source) == (560.0, BANDWIDTH_CATALOG)
    # The A770 sits behind an on-board switch that reports a 2.5 GT/s x1 link.
    assert (arc.pcie_gen, arc.pcie_width) == (1, 1)
    assert (rig.hardware_slug, rig.hw_class, rig.accelerator) == ("arc-a770", DISCRETE_GPU,
                                                                  "vulkan")


def test_arc_found_by_device_id_without_lspci(tmp_path: Path) -> None:
    host, _ = linux_host(tmp_path, sysfs="sysfs/intel-arc-a770-and-uhd-770.json")
    rig = detect_rig(host)
    assert [g.slug for g in rig.gpus] == [None, "arc-a770"]


def test_integrated_graphics_alone_is_a_cpu_rig(tmp_path: Path) -> None:
    host, _ = linux_host(tmp_path, sysfs="sysfs/intel-uhd-770-only.json", commands=LSPCI)
    rig = detect_rig(host)
    assert len(rig.gpus) == 1
    assert rig.hw_class == CPU_ONLY
    assert rig.accelerator == "cpu"
    assert rig.hardware_slug == "cpu-amd-epyc-zen3-24gb"
