"""GPUs of a Mac from `system_profiler SPHardwareDataType SPDisplaysDataType -json`.

Apple silicon's GPU shares the chip's unified memory: its memory is the Mac's (hw.memsize), and
the GPU core count (sppci_cores) tells chip variants with different bandwidth apart. Intel Macs
list their AMD (discrete) and Intel (integrated) GPUs the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from runlocalai_bench.rig.catalog import GIB
from runlocalai_bench.rig.host import Host, attempt
from runlocalai_bench.rig.slug import identify_gpu
from runlocalai_bench.types import GPUInfo

SYSTEM_PROFILER = ["system_profiler", "SPHardwareDataType", "SPDisplaysDataType", "-json"]

_UNITS = {"MB": 1024**2, "GB": GIB, "TB": 1024 * GIB}


def parse_size(value: object) -> int | None:
    """system_profiler's sizes: "64 GB" → 68719476736; "1536 MB" → 1610612736."""
    m = re.fullmatch(r"\s*([\d.]+)\s*([MGT]B)\s*", str(value or ""))
    return int(float(m.group(1)) * _UNITS[m.group(2)]) if m else None


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


def _vendor(display: Mapping[str, Any], name: str) -> str:
    raw = f"{display.get('spdisplays_vendor', '')} {display.get('sppci_vendor', '')}".lower()
    for vendor, marks in (("apple", ("apple",)), ("amd", ("amd", "ati")),
                          ("nvidia", ("nvidia",)), ("intel", ("intel",))):
        if any(mark in raw for mark in marks):
            return vendor
    return "apple" if name.startswith("Apple") else "intel"


def _display_gpu(display: Mapping[str, Any], unified_memory: int | None) -> GPUInfo:
    name = str(display.get("sppci_model") or display.get("_name") or "").strip()
    vendor = _vendor(display, name)
    on_chip = vendor == "apple"
    memory = unified_memory if on_chip else parse_size(
        display.get("spdisplays_vram") or display.get("_spdisplays_vram"))
    return GPUInfo(vendor=vendor, name=name or None, memory_bytes=memory,
                   unified_memory=on_chip)


def probe_apple(
    host: Host, system_memory: int | None = None, cpu_brand: str | None = None
) -> tuple[GPUInfo, ...]:
    """The Mac's GPUs. Without system_profiler's answer an Apple-silicon chip still has its GPU:
    it is named after the CPU brand (machdep.cpu.brand_string, "Apple M3 Max")."""
    data = attempt(lambda: json.loads(host.run(SYSTEM_PROFILER) or ""))
    data = data if isinstance(data, dict) else {}
    hardware = (data.get("SPHardwareDataType") or [{}])[0]
    memory = system_memory or parse_size(hardware.get("physical_memory"))
    gpus = []
    for display in data.get("SPDisplaysDataType") or ():
        gpu = _display_gpu(display, memory)
        cores = _int(display.get("sppci_cores"))
        gpus.append(identify_gpu(gpu, gpu_cores=cores, system_memory=memory,
                                 integrated_unless_known=gpu.vendor == "intel"))
    chip = hardware.get("chip_type") or cpu_brand
    if not gpus and chip and str(chip).startswith("Apple"):
        gpu = GPUInfo(vendor="apple", name=str(chip), memory_bytes=memory, unified_memory=True)
        gpus.append(identify_gpu(gpu, system_memory=memory))
    return tuple(gpus)
