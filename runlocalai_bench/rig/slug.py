"""Hardware slugs in the leaderboard's style and the rig's class, from probed devices and the
catalog. Pure functions: values in, values out. hardware/README.md states the scheme."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

from runlocalai_bench.rig.catalog import (
    GIB,
    GpuSpec,
    lookup_gpu,
    name_tokens,
    ram_tier_gb,
)
from runlocalai_bench.types import CPUInfo, GPUInfo

DISCRETE_GPU = "DISCRETE_GPU"
UNIFIED = "UNIFIED"
CPU_ONLY = "CPU_ONLY"

BANDWIDTH_CATALOG = "catalog"
BANDWIDTH_NVML = "measured-nvml"  # from NVML's bus width and max memory clock

_ACCELERATORS = {"nvidia": "cuda", "amd": "rocm", "intel": "vulkan", "apple": "metal"}


def memory_size_gb(memory_bytes: int) -> int:
    """A memory size as the number people quote. Whole GiB (macOS reports installed memory) stay
    as they are; anything else (what Linux can use) rounds to the nearest common tier."""
    gib = memory_bytes / GIB
    if abs(gib - round(gib)) < 0.01 and round(gib) > 0:
        return round(gib)
    return ram_tier_gb(memory_bytes)


def fallback_gpu_slug(name: str | None, memory_bytes: int | None, vendor: str | None) -> str:
    """A slug for a GPU the catalog does not know, built the same way: the part's words, its VRAM,
    and -mobile for laptop parts ("NVIDIA GeForce RTX 6090" with 48 GB → rtx-6090-48gb)."""
    base = name or ""
    if bracket := re.search(r"\[([^\]]+)\]", base):
        # "Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]": the chip, not a guess among the list.
        base = base[: bracket.start()] if "/" in bracket.group(1) else bracket.group(1)
    tokens = list(name_tokens(base))
    mobile = "laptop" in tokens
    parts = [t for t in tokens if t not in ("laptop", "maxq")] or [vendor or "unknown", "gpu"]
    if memory_bytes and not any(re.fullmatch(r"\d+gb", t) for t in parts):
        parts.append(f"{round(memory_bytes / GIB)}gb")
    if mobile:
        parts.append("mobile")
    return "-".join(parts)


def identify_gpu(
    gpu: GPUInfo,
    *,
    pci_id: str | None = None,
    gpu_cores: int | None = None,
    system_memory: int | None = None,
    integrated_unless_known: bool = False,
) -> GPUInfo:
    """Fill a probed GPU's slug, unified flag and (when the probe could not measure it) catalog
    bandwidth. An integrated GPU the catalog does not know keeps slug None: it is listed, but a
    rig is not a GPU rig because of it."""
    spec = lookup_gpu(gpu.name, None if gpu.unified_memory else gpu.memory_bytes,
                      vendor=gpu.vendor, gpu_cores=gpu_cores, pci_id=pci_id)
    if spec is None:
        if integrated_unless_known:
            return replace(gpu, slug=None, unified_memory=True)
        return replace(gpu, slug=fallback_gpu_slug(gpu.name, gpu.memory_bytes, gpu.vendor))
    return _with_spec(gpu, spec, system_memory)


def _with_spec(gpu: GPUInfo, spec: GpuSpec, system_memory: int | None) -> GPUInfo:
    slug = spec.slug
    memory = gpu.memory_bytes
    if spec.unified:
        # The GPU reads the machine's memory; what a driver calls VRAM is a carve-out of it.
        memory = system_memory or memory
        if memory:
            slug = f"{spec.slug}-{memory_size_gb(memory)}gb"
    measured = gpu.bandwidth_gbps is not None
    return replace(
        gpu,
        slug=slug,
        memory_bytes=memory,
        unified_memory=gpu.unified_memory or spec.unified,
        bandwidth_gbps=gpu.bandwidth_gbps if measured else spec.bandwidth_gbps,
        bandwidth_source=gpu.bandwidth_source if measured else BANDWIDTH_CATALOG,
    )


def cpu_slug(cpu: CPUInfo, memory_bytes: int | None) -> str:
    """cpu-<family>-<RAM tier>gb: cpu-intel-core-i7-13700k-32gb, cpu-amd-epyc-zen3-24gb."""
    parts = ["cpu", cpu.family or cpu.vendor or "unknown"]
    if memory_bytes:
        parts.append(f"{ram_tier_gb(memory_bytes)}gb")
    return "-".join(parts)


def accelerators(gpus: tuple[GPUInfo, ...]) -> tuple[GPUInfo, ...]:
    """The GPUs a model can run on: those with a slug (integrated graphics rla does not know are
    listed with slug None)."""
    return tuple(g for g in gpus if g.slug is not None)


def rig_identity(
    system: str, cpu: CPUInfo, memory_bytes: int | None, gpus: tuple[GPUInfo, ...]
) -> tuple[str, str, str]:
    """(hardware slug, hw_class, accelerator). Identical GPUs count up (2x-rtx-3090); different
    ones join with + in probe order (rtx-4090+rtx-3090)."""
    accel = accelerators(gpus)
    if not accel:
        return cpu_slug(cpu, memory_bytes), CPU_ONLY, "cpu"
    counts = Counter(g.slug for g in accel)
    parts = [slug if n == 1 else f"{n}x-{slug}" for slug, n in counts.items() if slug]
    hw_class = UNIFIED if all(g.unified_memory for g in accel) else DISCRETE_GPU
    accelerator = "metal" if system == "Darwin" else _ACCELERATORS.get(accel[0].vendor or "", "cpu")
    return "+".join(parts), hw_class, accelerator
