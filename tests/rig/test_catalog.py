"""The hardware/ catalog: well-formed, every entry reachable, real device names resolved."""

from __future__ import annotations

import re

import pytest

from runlocalai_bench.rig import bandwidth_ceiling, decode_ceiling_tps, gpu_catalog, lookup_gpu
from runlocalai_bench.rig.catalog import name_alternatives, peak_bandwidth_gbps
from runlocalai_bench.rig.slug import fallback_gpu_slug
from runlocalai_bench.types import CPUInfo, GPUInfo, OSInfo, RigInfo

MIB = 1024**2
GIB = 1024**3
CLASSES = {"desktop", "laptop", "workstation", "datacenter", "unified"}


def test_entries_are_well_formed() -> None:
    specs = gpu_catalog()
    assert len(specs) > 120
    keys = set()
    for spec in specs:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", spec.slug), spec.slug
        assert spec.vendor in {"nvidia", "amd", "apple", "intel"}, spec
        assert spec.gpu_class in CLASSES, spec
        assert spec.bandwidth_gbps > 0, spec
        assert spec.match and all(p == p.lower() for p in spec.match), spec
        assert (spec.memory_gb is None) == spec.unified, spec
        assert (spec.slug, spec.gpu_cores) not in keys, f"duplicate {spec.slug}"
        keys.add((spec.slug, spec.gpu_cores))
        if spec.gpu_class == "laptop":
            assert spec.slug.endswith("gb-mobile"), spec.slug


@pytest.mark.parametrize("spec", gpu_catalog(), ids=lambda s: f"{s.slug}-{s.gpu_cores or ''}")
def test_every_entry_is_found_by_its_own_name_and_memory(spec) -> None:
    memory = int(spec.memory_gb * GIB) if spec.memory_gb else None
    assert lookup_gpu(spec.name, memory, vendor=spec.vendor, gpu_cores=spec.gpu_cores) == spec


# Names as NVML / rocm-smi / system_profiler report them, with the VRAM they report (MiB).
@pytest.mark.parametrize(("name", "mib", "slug"), [
    ("NVIDIA GeForce RTX 4090", 24564, "rtx-4090"),
    ("NVIDIA GeForce RTX 4090 D", 24564, "rtx-4090-d"),
    ("NVIDIA GeForce RTX 4060 Ti", 16380, "rtx-4060-ti-16gb"),
    ("NVIDIA GeForce RTX 4060 Ti", 8188, "rtx-4060-ti"),
    ("NVIDIA GeForce RTX 4070 Ti SUPER", 16376, "rtx-4070-ti-super"),
    ("NVIDIA GeForce RTX 4090 Laptop GPU", 16376, "rtx-4090-16gb-mobile"),
    ("NVIDIA GeForce RTX 2080 with Max-Q Design", 8192, "rtx-2080-8gb-mobile"),
    ("NVIDIA GeForce RTX 3060", 12288, "rtx-3060"),
    ("NVIDIA GeForce RTX 3060", 8192, "rtx-3060-8gb"),
    ("NVIDIA GeForce RTX 3080", 10240, "rtx-3080"),
    ("NVIDIA GeForce RTX 3080", 12288, "rtx-3080-12gb"),
    ("NVIDIA GeForce RTX 3080 Ti Laptop GPU", 16384, "rtx-3080-ti-16gb-mobile"),
    ("NVIDIA GeForce RTX 5090", 32607, "rtx-5090"),
    ("NVIDIA GeForce RTX 5080", 16303, "rtx-5080"),
    ("NVIDIA H100 PCIe", 81559, "h100-pcie-80gb"),
    ("NVIDIA H100 NVL", 95830, "h100-nvl-94gb"),
    ("NVIDIA H200", 143771, "h200-sxm-141gb"),
    ("NVIDIA H200 NVL", 143771, "h200-nvl-141gb"),
    ("NVIDIA A100-SXM4-40GB", 40960, "a100-sxm-40gb"),
    ("NVIDIA A100-SXM4-80GB", 81920, "a100-sxm-80gb"),
    ("NVIDIA A100 80GB PCIe", 81920, "a100-pcie-80gb"),
    ("NVIDIA A100-PCIE-40GB", 40960, "a100-pcie-40gb"),
    ("Tesla T4", 15360, "t4-16gb"),
    ("Tesla V100-SXM2-32GB", 32768, "v100-sxm-32gb"),
    ("NVIDIA A10G", 23028, "a10g-24gb"),
    ("NVIDIA A10", 23028, "a10-24gb"),
    ("NVIDIA L40S", 46068, "l40s-48gb"),
    ("NVIDIA RTX A6000", 49140, "rtx-a6000"),
    ("NVIDIA RTX 6000 Ada Generation", 49140, "rtx-6000-ada"),
    ("Quadro RTX 6000", 24576, "quadro-rtx-6000"),
    ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", 97887, "rtx-pro-6000-blackwell"),
    ("NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition", 97887, "rtx-pro-6000-blackwell"),
    ("NVIDIA GH200 480GB", 97871, "gh200-96gb"),
    ("Radeon RX 7900 XTX", 24560, "rx-7900-xtx"),
    ("AMD Radeon RX 7800 XT", 16368, "rx-7800-xt"),
    ("AMD Radeon RX 9070 XT", 16304, "rx-9070-xt"),
    ("AMD Radeon PRO W7900", 49136, "radeon-pro-w7900"),
    ("AMD Instinct MI300X", 196288, "mi300x-192gb"),
    ("Intel(R) Arc(TM) A770 Graphics", 16288, "arc-a770"),
    ("Intel(R) Arc(TM) A770 Graphics", 8096, "arc-a770-8gb"),
    ("Intel(R) Arc(TM) B580 Graphics", 12216, "arc-b580"),
])
def test_real_device_names(name: str, mib: int, slug: str) -> None:
    spec = lookup_gpu(name, mib * MIB)
    assert spec is not None and spec.slug == slug


@pytest.mark.parametrize(("chip", "cores", "bandwidth"), [
    ("Apple M1", 8, 68.25), ("Apple M1 Max", 32, 400), ("Apple M2 Ultra", 76, 800),
    ("Apple M3 Pro", 18, 150), ("Apple M3 Max", 30, 300), ("Apple M3 Max", 40, 400),
    ("Apple M4", 10, 120), ("Apple M4 Pro", 20, 273), ("Apple M4 Max", 32, 410),
    ("Apple M4 Max", 40, 546),
])
def test_apple_chip_variants(chip: str, cores: int, bandwidth: float) -> None:
    spec = lookup_gpu(chip, gpu_cores=cores)
    assert spec is not None and spec.bandwidth_gbps == bandwidth
    assert spec.slug == "apple-" + chip.lower().removeprefix("apple ").replace(" ", "-")


def test_a_laptop_part_never_matches_a_desktop_card() -> None:
    desktop = [p for s in gpu_catalog() if s.gpu_class == "desktop" for p in s.match]
    assert len(desktop) > 50
    for pattern in desktop:
        for name in (f"NVIDIA GeForce {pattern.upper()} Laptop GPU",
                     f"AMD Radeon {pattern} Mobile"):
            spec = lookup_gpu(name)
            assert spec is None or spec.gpu_class == "laptop", (name, spec)


def test_variants_are_not_confused() -> None:
    assert lookup_gpu("NVIDIA GeForce RTX 4080 SUPER").slug == "rtx-4080-super"  # type: ignore[union-attr]
    assert lookup_gpu("NVIDIA GeForce RTX 4080").slug == "rtx-4080"  # type: ignore[union-attr]
    assert lookup_gpu("Apple M3").slug == "apple-m3"  # type: ignore[union-attr]
    assert lookup_gpu("Apple M3 Pro").slug == "apple-m3-pro"  # type: ignore[union-attr]


def test_memory_in_the_name_decides_when_vram_is_unknown() -> None:
    assert lookup_gpu("NVIDIA A100-SXM4-40GB").slug == "a100-sxm-40gb"  # type: ignore[union-attr]
    assert lookup_gpu("Tesla V100-PCIE-32GB").slug == "v100-pcie-32gb"  # type: ignore[union-attr]
    # Nothing to decide by: the variant listed first.
    assert lookup_gpu("NVIDIA GeForce RTX 3060").slug == "rtx-3060"  # type: ignore[union-attr]


def test_unknown_and_ambiguous_names() -> None:
    assert lookup_gpu("NVIDIA GeForce RTX 6090") is None
    assert lookup_gpu("Matrox G200eR2") is None
    # Three parts, one VRAM size: no guess.
    assert lookup_gpu("Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]", 16 * GIB) is None
    assert lookup_gpu("Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]") is None
    # By device id: A770 16 GB and 8 GB are one part in two sizes; the first is the default.
    assert lookup_gpu(None, pci_id="0x56A0").slug == "arc-a770"  # type: ignore[union-attr]
    assert lookup_gpu(None, 8 * GIB, pci_id="0x56a0").slug == "arc-a770-8gb"  # type: ignore[union-attr]
    assert lookup_gpu(None, 64 * GIB, pci_id="0x740c") is None  # MI250 or MI250X
    assert lookup_gpu("NVIDIA GeForce RTX 4090", vendor="amd") is None


def test_name_alternatives() -> None:
    assert name_alternatives("Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]") == (
        "Radeon RX 6800", "Radeon RX 6800 XT", "Radeon RX 6900 XT")
    assert name_alternatives("AD102 [GeForce RTX 4090]") == ("GeForce RTX 4090",)
    assert name_alternatives("NVIDIA GeForce RTX 4090") == ("NVIDIA GeForce RTX 4090",)


@pytest.mark.parametrize(("name", "memory", "vendor", "slug"), [
    ("NVIDIA GeForce RTX 6090", 48 * GIB, "nvidia", "rtx-6090-48gb"),
    ("NVIDIA GeForce RTX 6090 Laptop GPU", 24 * GIB - 20 * MIB, "nvidia", "rtx-6090-24gb-mobile"),
    ("Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]", 17163091968, "amd", "navi-21-16gb"),
    ("NVIDIA B300 288GB", 288 * GIB, "nvidia", "b300-288gb"),
    (None, None, "amd", "amd-gpu"),
])
def test_fallback_slug(name: str | None, memory: int | None, vendor: str, slug: str) -> None:
    assert fallback_gpu_slug(name, memory, vendor) == slug


def test_peak_bandwidth_from_bus_width_and_clock() -> None:
    assert peak_bandwidth_gbps(384, 10501) == 1008.1  # RTX 4090
    assert peak_bandwidth_gbps(5120, 2619) == 3352.3  # H100 SXM
    assert peak_bandwidth_gbps(512, 14001) == 1792.1  # RTX 5090 (GDDR7)
    assert peak_bandwidth_gbps(None, 10501) is None
    assert peak_bandwidth_gbps(384, 0) is None


def _rig(*gpus: GPUInfo) -> RigInfo:
    return RigInfo(os=OSInfo(), cpu=CPUInfo(), memory_bytes=64 * GIB, gpus=gpus,
                   hardware_slug="x", hw_class="DISCRETE_GPU", accelerator="cuda")


def test_bandwidth_ceiling_sums_accelerators_and_ignores_integrated_graphics() -> None:
    card = GPUInfo(vendor="nvidia", slug="rtx-3090", bandwidth_gbps=936.1)
    igpu = GPUInfo(vendor="intel", slug=None, bandwidth_gbps=None, unified_memory=True)
    assert bandwidth_ceiling(_rig(card, card, igpu)) == 1872.2
    assert bandwidth_ceiling(_rig(igpu)) is None
    assert bandwidth_ceiling(_rig(card, GPUInfo(vendor="amd", slug="navi-21-16gb"))) is None


def test_decode_ceiling() -> None:
    # A 4.9 GB Q4_K_M 8B model on a 1008 GB/s card: at most ~206 tokens/s.
    assert decode_ceiling_tps(1008.0, 4_900_000_000) == pytest.approx(205.7, abs=0.1)
