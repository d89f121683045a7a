"""NVIDIA through recorded NVML answers fed to the real probe (the pynvml module is faked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runlocalai_bench.rig import detect_rig
from runlocalai_bench.rig.nvidia import cuda_version, probe_nvidia
from runlocalai_bench.rig.slug import BANDWIDTH_CATALOG, BANDWIDTH_NVML, DISCRETE_GPU, UNIFIED

from .fakes import (
    NVMLError_DriverNotLoaded,
    NVMLError_LibraryNotFound,
    fake_nvml,
    linux_host,
    load_json,
)


@pytest.mark.parametrize(("raw", "text"), [(12040, "12.4"), (12020, "12.2"), (11080, "11.8"),
                                          (13000, "13.0"), (12090, "12.9")])
def test_cuda_version_from_nvml_integer(raw: int, text: str) -> None:
    assert cuda_version(raw) == text


def test_rtx_4090(tmp_path: Path) -> None:
    nvml = fake_nvml(load_json("nvml/rtx-4090.json"))
    host, _ = linux_host(tmp_path, nvml=nvml)
    rig = detect_rig(host)

    (gpu,) = rig.gpus
    assert gpu.vendor == "nvidia"
    assert gpu.name == "NVIDIA GeForce RTX 4090"
    assert gpu.slug == "rtx-4090"
    assert gpu.memory_bytes == 25757220864
    assert gpu.driver == "550.54.15"
    assert gpu.cuda == "12.4"
    assert (gpu.bus_width_bits, gpu.mem_clock_mhz) == (384, 10501)
    # 384 bits / 8 × 10501 MHz × 2 = 1008.1 GB/s, computed from NVML, not the catalog's 1008.
    assert gpu.bandwidth_gbps == 1008.1
    assert gpu.bandwidth_source == BANDWIDTH_NVML
    assert (gpu.pcie_gen, gpu.pcie_width) == (4, 16)
    assert gpu.pci_bus_id == "0000:01:00.0"
    assert not gpu.unified_memory
    assert (rig.hardware_slug, rig.hw_class, rig.accelerator) == ("rtx-4090", DISCRETE_GPU, "cuda")
    # NVML is initialised once and shut down again.
    assert nvml.state == {"initialized": 0, "shutdowns": 1}


def test_h100_sxm_with_bytes_from_older_pynvml(tmp_path: Path) -> None:
    host, _ = linux_host(tmp_path, nvml=fake_nvml(load_json("nvml/h100-sxm.json")))
    rig = detect_rig(host)

    (gpu,) = rig.gpus
    assert gpu.name == "NVIDIA H100 80GB HBM3"
    assert gpu.driver == "535.129.03"
    assert gpu.cuda == "12.2"
    assert gpu.slug == "h100-sxm-80gb"
    assert gpu.bandwidth_gbps == 3352.3  # 5120 / 8 × 2619 MHz × 2
    assert gpu.pcie_gen == 5
    assert gpu.pci_bus_id == "0000:18:00.0"
    assert rig.hardware_slug == "h100-sxm-80gb"


def test_laptop_rtx_3080_16gb_is_the_16gb_mobile_part(tmp_path: Path) -> None:
    host, _ = linux_host(tmp_path, nvml=fake_nvml(load_json("nvml/rtx-3080-laptop-16gb.json")))
    rig = detect_rig(host)

    (gpu,) = rig.gpus
    assert gpu.slug == "rtx-3080-16gb-mobile"
    assert gpu.bandwidth_gbps == 448.1  # 256 / 8 × 7001 MHz × 2
    assert rig.hardware_slug == "rtx-3080-16gb-mobile"


def test_laptop_rtx_3080_8gb_differs_only_by_vram(tmp_path: Path) -> None:
    recording = load_json("nvml/rtx-3080-laptop-16gb.json")
    recording["devices"][0]["nvmlDeviceGetMemoryInfo"]["total"] = 8589934592
    host, _ = linux_host(tmp_path, nvml=fake_nvml(recording))
    assert detect_rig(host).hardware_slug == "rtx-3080-8gb-mobile"


def test_not_supported_fields_are_null_and_bandwidth_comes_from_the_catalog(tmp_path: Path) -> None:
    host, _ = linux_host(tmp_path, nvml=fake_nvml(load_json("nvml/l4-not-supported.json")))
    rig = detect_rig(host)

    (gpu,) = rig.gpus
    assert gpu.name == "NVIDIA L4"
    assert gpu.memory_bytes == 24152899584
    assert gpu.bus_width_bits is None
    assert gpu.mem_clock_mhz is None
    assert gpu.pcie_gen is None and gpu.pcie_width is None
    assert gpu.bandwidth_gbps == 300.0
    assert gpu.bandwidth_source == BANDWIDTH_CATALOG
    assert gpu.slug == "l4-24gb"
    assert gpu.driver == "550.90.07"


def test_a_missing_nvml_function_is_one_null_field(tmp_path: Path) -> None:
    """An old driver without nvmlDeviceGetMemoryBusWidth (or an old pynvml lacking it)."""
    nvml = fake_nvml(load_json("nvml/rtx-4090.json"))
    del nvml.nvmlDeviceGetMemoryBusWidth
    del nvml.nvmlSystemGetCudaDriverVersion
    host, _ = linux_host(tmp_path, nvml=nvml)

    (gpu,) = detect_rig(host).gpus
    assert gpu.bus_width_bits is None
    assert gpu.cuda is None
    assert gpu.mem_clock_mhz == 10501
    assert gpu.bandwidth_source == BANDWIDTH_CATALOG
    assert gpu.bandwidth_gbps == 1008.0
    assert gpu.slug == "rtx-4090"


def test_two_identical_cards_count_up(tmp_path: Path) -> None:
    host, _ = linux_host(tmp_path, nvml=fake_nvml(load_json("nvml/2x-rtx-3090.json")))
    rig = detect_rig(host)

    assert [g.slug for g in rig.gpus] == ["rtx-3090", "rtx-3090"]
    assert [g.pcie_width for g in rig.gpus] == [16, 8]
    assert rig.hardware_slug == "2x-rtx-3090"
    assert rig.gpus[0].cuda == "12.6"


def test_unified_memory_part_takes_the_systems_memory(tmp_path: Path) -> None:
    """DGX Spark: NVML has no memory figure; the GPU reads the machine's 128 GB."""
    host, _ = linux_host(
        tmp_path, nvml=fake_nvml(load_json("nvml/gb10-unified.json")), machine="aarch64",
        files={"proc/meminfo": "MemTotal:       125516460 kB\n"},
    )
    rig = detect_rig(host)

    (gpu,) = rig.gpus
    assert gpu.memory_bytes == 125516460 * 1024
    assert gpu.unified_memory
    assert gpu.bandwidth_source == BANDWIDTH_CATALOG
    assert gpu.bandwidth_gbps == 273.0
    assert gpu.cuda == "13.0"
    assert gpu.pci_bus_id == "000f:01:00.0"
    assert (rig.hardware_slug, rig.hw_class, rig.accelerator) == ("gb10-128gb", UNIFIED, "cuda")


@pytest.mark.parametrize("error", [NVMLError_LibraryNotFound, NVMLError_DriverNotLoaded])
def test_nvml_that_cannot_start_means_no_nvidia_gpu(tmp_path: Path, error: type) -> None:
    nvml = fake_nvml(load_json("nvml/rtx-4090.json"), init_error=error)
    host, _ = linux_host(tmp_path, nvml=nvml)
    assert probe_nvidia(host) == ()


def test_without_nvml_the_pci_bus_still_names_the_card(tmp_path: Path) -> None:
    """nvidia-ml-py not installed: sysfs finds the card, lspci names it, the catalog knows it."""
    host, runner = linux_host(
        tmp_path, sysfs="sysfs/nvidia-rtx-4090-no-nvml.json",
        commands={"lspci -mm -nn -D": "@lspci/nvidia-rtx-4090.txt"},
    )
    rig = detect_rig(host)

    (gpu,) = rig.gpus  # the card's audio function is not a GPU
    assert gpu.name == "GeForce RTX 4090"
    assert gpu.slug == "rtx-4090"
    assert gpu.driver == "550.54.15"
    assert gpu.memory_bytes is None
    assert (gpu.bandwidth_gbps, gpu.bandwidth_source) == (1008.0, BANDWIDTH_CATALOG)
    assert (gpu.pcie_gen, gpu.pcie_width) == (4, 16)
    assert rig.accelerator == "cuda"
    assert "lspci -mm -nn -D" in runner.calls

