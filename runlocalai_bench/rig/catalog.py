"""The hardware catalog in hardware/*.toml: which slug a device name stands for, and the memory
bandwidth that bounds decode speed. Pure functions over the loaded data; hardware/README.md
describes the matching rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from runlocalai_bench.specs import load_all, load_spec
from runlocalai_bench.types import RigInfo

GIB = 1024**3

# Words that name a vendor or brand rather than a part; dropped before matching.
_NOISE = frozenset({
    "nvidia", "geforce", "quadro", "tesla", "amd", "ati", "radeon", "instinct", "intel", "apple",
    "graphics", "gpu", "corporation", "inc", "with", "design", "generation", "edition", "tm", "r",
})
# Words that make a part a different part: a name holding one only matches a pattern holding it.
# This keeps an RTX 3080 Laptop GPU from ever matching the desktop RTX 3080.
_VARIANTS = frozenset({
    "ti", "super", "xt", "xtx", "gre", "d", "laptop", "max", "pro", "ultra", "nvl", "pcie",
    "sxm", "sxm2", "sxm4", "sxm5", "ada",
})
_MEMORY_TOKEN = re.compile(r"^(\d+)gb?$")


@dataclass(frozen=True)
class GpuSpec:
    """One catalog entry. `memory_gb` is None for unified-memory parts (the system's RAM)."""

    slug: str
    name: str
    vendor: str
    gpu_class: str  # desktop | laptop | workstation | datacenter | unified
    match: tuple[str, ...]
    bandwidth_gbps: float
    memory_gb: float | None = None
    gpu_cores: int | None = None
    pci_ids: tuple[str, ...] = ()

    @property
    def unified(self) -> bool:
        return self.gpu_class == "unified"


@dataclass(frozen=True)
class CpuRules:
    ram_tiers_gb: tuple[int, ...]
    generic_brands: tuple[str, ...]
    microarch: tuple[Mapping[str, Any], ...]
    arm_vendors: Mapping[int, str]
    arm_cores: Mapping[tuple[int, int], str]
    bandwidth_bounds: tuple[Mapping[str, Any], ...] = ()


def _spec(vendor: str, row: Mapping[str, Any]) -> GpuSpec:
    memory = row.get("memory_gb")
    return GpuSpec(
        slug=row["slug"],
        name=row["name"],
        vendor=row.get("vendor", vendor),
        gpu_class=row["class"],
        match=tuple(row["match"]),
        bandwidth_gbps=float(row["bandwidth_gbps"]),
        memory_gb=float(memory) if memory is not None else None,
        gpu_cores=row.get("gpu_cores"),
        pci_ids=tuple(p.lower() for p in row.get("pci_ids", ())),
    )


@cache
def gpu_catalog() -> tuple[GpuSpec, ...]:
    """Every GPU entry of hardware/*.toml, in file then entry order."""
    specs: list[GpuSpec] = []
    for data in load_all("hardware").values():
        specs.extend(_spec(data.get("vendor", ""), row) for row in data.get("gpu", ()))
    return tuple(specs)


@cache
def cpu_rules() -> CpuRules:
    data = load_spec("hardware", "cpu")
    return CpuRules(
        ram_tiers_gb=tuple(data["ram_tiers_gb"]),
        generic_brands=tuple(data["generic_brands"]),
        microarch=tuple(data["microarch"]),
        arm_vendors={row["implementer"]: row["vendor"] for row in data["arm_vendors"]},
        arm_cores={(row["implementer"], row["part"]): row["core"] for row in data["arm_cores"]},
        bandwidth_bounds=tuple(data.get("bandwidth_bound", ())),
    )


# ---------------------------------------------------------------------------------------------
# Names


def name_tokens(name: str) -> tuple[str, ...]:
    """A device name as lower-case words without vendor noise: "NVIDIA GeForce RTX 3080 Laptop
    GPU" → (rtx, 3080, laptop); "Tesla V100-SXM2-16GB" → (v100, sxm2, 16gb)."""
    s = name.lower().replace("max-q", "maxq").replace("mobile", "laptop")
    s = re.sub(r"\((tm|r)\)|[®™]", " ", s)
    return tuple(t for t in re.findall(r"[a-z0-9]+", s) if t not in _NOISE)


def name_alternatives(name: str) -> tuple[str, ...]:
    """The part names a reported name may stand for. pci.ids-style names ("Navi 21 [Radeon RX
    6800/6800 XT / 6900 XT]", as lspci and some rocm-smi versions print them) list several."""
    inner = re.search(r"\[([^\]]+)\]", name)
    if inner is None:
        return (name,)
    parts = [p.strip() for p in inner.group(1).split("/") if p.strip()]
    first = parts[0]
    # "6800 XT" after "Radeon RX 6800" borrows its leading words ("Radeon RX").
    lead = re.match(r"^(.*?)\s*\d", first)
    prefix = lead.group(1) if lead else ""
    rest = [f"{prefix} {p}".strip() if p[0].isdigit() else p for p in parts[1:]]
    return (first, *rest)


def _matches(pattern: tuple[str, ...], tokens: tuple[str, ...]) -> bool:
    have = set(tokens)
    return set(pattern) <= have and (have & _VARIANTS) <= set(pattern)


def _best_for_name(name: str, specs: Iterable[GpuSpec]) -> list[GpuSpec]:
    """The entries whose most specific matching pattern is the most specific overall."""
    tokens = name_tokens(name)
    scored: list[tuple[int, GpuSpec]] = []
    for spec in specs:
        best = max((len(p.split()) for p in spec.match if _matches(tuple(p.split()), tokens)),
                   default=0)
        if best:
            scored.append((best, spec))
    if not scored:
        return []
    top = max(score for score, _ in scored)
    return [spec for score, spec in scored if score == top]


def _memory_hint_gb(name: str) -> float | None:
    for token in name_tokens(name):
        if m := _MEMORY_TOKEN.match(token):
            return float(m.group(1))
    return None


def _closest_memory(candidates: list[GpuSpec], memory_gb: float) -> GpuSpec | None:
    sized = [c for c in candidates if c.memory_gb]
    if not sized:
        return candidates[0]

    def distance(c: GpuSpec) -> float:
        return abs(math.log(memory_gb / c.memory_gb)) if c.memory_gb else math.inf

    best = min(distance(c) for c in sized)
    nearest = [c for c in sized if distance(c) == best]
    return nearest[0] if len({c.slug for c in nearest}) == 1 else None


def lookup_gpu(
    name: str | None,
    memory_bytes: int | None = None,
    *,
    vendor: str | None = None,
    gpu_cores: int | None = None,
    pci_id: str | None = None,
) -> GpuSpec | None:
    """The catalog entry for a device, or None when the catalog does not know it or cannot tell
    which of several parts it is.

    The name decides first (every reported alternative is tried); the PCI device id when no name
    matches. Among parts sharing a name, the one whose VRAM is nearest the device's wins (VRAM
    may also come from a "80GB" in the name); Apple chip variants go by GPU core count. With
    nothing to tell variants of one name apart, the entry listed first is the default.
    """
    specs = [s for s in gpu_catalog() if vendor is None or s.vendor == vendor]
    candidates: list[GpuSpec] = []
    alternatives = name_alternatives(name) if name else ()
    groups = 0
    for alternative in alternatives:
        found = [s for s in _best_for_name(alternative, specs) if s not in candidates]
        groups += bool(found)
        candidates.extend(found)
    if not candidates and pci_id:
        candidates = [s for s in specs if pci_id.lower() in s.pci_ids]
        # Entries sharing an id and a name (A770 16GB / 8GB) are variants of one part.
        groups = len({s.match for s in candidates})
    if not candidates:
        return None
    if gpu_cores is not None and any(c.gpu_cores for c in candidates):
        candidates = [c for c in candidates if c.gpu_cores == gpu_cores] or candidates
    memory_gb = memory_bytes / GIB if memory_bytes else (_memory_hint_gb(name) if name else None)
    if memory_gb:
        return _closest_memory(candidates, memory_gb)
    return candidates[0] if groups <= 1 else None


# ---------------------------------------------------------------------------------------------
# Bandwidth


def peak_bandwidth_gbps(bus_width_bits: int | None, mem_clock_mhz: int | None) -> float | None:
    """Peak memory bandwidth from NVML's bus width and max memory clock: bytes per transfer ×
    clock × 2 (double data rate), in GB/s. RTX 4090: 384 / 8 × 10501 MHz × 2 = 1008.1 GB/s."""
    if not bus_width_bits or not mem_clock_mhz:
        return None
    return round(bus_width_bits / 8 * mem_clock_mhz * 1e6 * 2 / 1e9, 1)


def bandwidth_ceiling(rig: RigInfo) -> float | None:
    """The memory bandwidth (GB/s) no decode speed on this rig can beat: the sum over its
    accelerators (tensor parallelism reads every GPU's share at once; a layer split is slower).
    None for CPU-only rigs and for GPUs whose bandwidth is unknown."""
    accelerators = [g for g in rig.gpus if g.slug is not None]
    if not accelerators or any(g.bandwidth_gbps is None for g in accelerators):
        return None
    return round(sum(g.bandwidth_gbps or 0.0 for g in accelerators), 1)


def cpu_bandwidth_bound(family: str | None) -> tuple[float, str] | None:
    """A CPU-only rig's memory bandwidth bound (GB/s) and how it is derived, by the class of its
    CPU family slug (hardware/cpu.toml [[bandwidth_bound]]): the fastest memory system a CPU of
    that class can have; an unknown family gets the most generous bound. None when the catalog
    has no bound."""
    bounds = cpu_rules().bandwidth_bounds
    words = set(re.findall(r"[a-z0-9]+", (family or "").lower()))
    if not words and bounds:
        bounds = (max(bounds, key=lambda row: float(row["gbps"])),)
    for row in bounds:
        match = set(row.get("match") or ())
        if not match or not words or words & match:
            return float(row["gbps"]), f"cpu-{row['class']}-bound: {row['basis']}"
    return None


def decode_ceiling_tps(bandwidth_gbps: float, model_bytes: int) -> float:
    """The decode tokens/s a dense model cannot exceed: every token reads all weights once."""
    return bandwidth_gbps * 1e9 / model_bytes


# ---------------------------------------------------------------------------------------------
# Memory sizes


def ram_tier_gb(memory_bytes: int, tiers: Iterable[int] | None = None) -> int:
    """Installed memory rounded to the nearest common size, by ratio: the OS reports a little less
    than is installed (a 24 GB machine shows 23.5 GiB, a 32 GB one 31.1 GiB)."""
    gib = memory_bytes / GIB
    sizes = tuple(tiers) if tiers is not None else cpu_rules().ram_tiers_gb
    return min(sizes, key=lambda t: abs(math.log(gib / t)))
