"""What machine a run happens on: OS, CPU, memory, GPUs, and the leaderboard's hardware slug.

    detect_rig()            → RigInfo for this machine (each field read on its own; unknown → None)
    render_rig(rig)         → rich tables for a terminal
    lookup_gpu(name, …)     → the hardware/ catalog entry for a device name
    bandwidth_ceiling(rig)  → GB/s no decode speed on this rig can beat

One probe per source: cpu.py, system.py (OS, memory), nvidia.py (NVML), amd.py (rocm-smi,
sysfs), apple.py (system_profiler), intel.py (sysfs, lspci); slug.py names the result. The probes
read the outside world only through a Host, so tests hand them recorded outputs.
"""

from __future__ import annotations

import platform

from runlocalai_bench.rig.amd import probe_amd
from runlocalai_bench.rig.apple import probe_apple
from runlocalai_bench.rig.catalog import (
    GpuSpec,
    bandwidth_ceiling,
    decode_ceiling_tps,
    gpu_catalog,
    lookup_gpu,
    peak_bandwidth_gbps,
    ram_tier_gb,
)
from runlocalai_bench.rig.cpu import probe_cpu
from runlocalai_bench.rig.host import Host
from runlocalai_bench.rig.intel import probe_intel
from runlocalai_bench.rig.nvidia import probe_nvidia
from runlocalai_bench.rig.render import render_rig
from runlocalai_bench.rig.slug import CPU_ONLY, DISCRETE_GPU, UNIFIED, rig_identity
from runlocalai_bench.rig.system import probe_memory, probe_os
from runlocalai_bench.types import GPUInfo, RigInfo

__all__ = [
    "CPU_ONLY",
    "DISCRETE_GPU",
    "UNIFIED",
    "GpuSpec",
    "Host",
    "bandwidth_ceiling",
    "decode_ceiling_tps",
    "detect_gpus",
    "detect_rig",
    "gpu_catalog",
    "lookup_gpu",
    "peak_bandwidth_gbps",
    "ram_tier_gb",
    "render_rig",
]


def detect_gpus(
    host: Host, memory_bytes: int | None, cpu_brand: str | None = None
) -> tuple[GPUInfo, ...]:
    """Every GPU the probes find: a Mac's from system_profiler, elsewhere NVIDIA, AMD, Intel."""
    if host.system == "Darwin":
        return probe_apple(host, memory_bytes, cpu_brand)
    return (
        probe_nvidia(host, memory_bytes)
        + probe_amd(host, memory_bytes)
        + probe_intel(host, memory_bytes)
    )


def detect_rig(host: Host | None = None) -> RigInfo:
    """Probe the machine (or the given Host). Never raises over a field it cannot read."""
    host = host or Host.current()
    cpu = probe_cpu(host)
    memory = probe_memory(host)
    gpus = detect_gpus(host, memory, cpu.brand)
    slug, hw_class, accelerator = rig_identity(host.system, cpu, memory, gpus)
    return RigInfo(
        os=probe_os(host),
        cpu=cpu,
        memory_bytes=memory,
        gpus=gpus,
        hardware_slug=slug,
        hw_class=hw_class,
        accelerator=accelerator,
        python=platform.python_version(),
    )
