"""NVIDIA GPUs through NVML (nvidia-ml-py's `pynvml`, imported lazily), else from the PCI bus.

Every NVML call is read on its own: consumer, virtual and unified-memory parts raise
NVMLError_NotSupported for some of them (bus width, clocks, memory), and that field is None.
"""

from __future__ import annotations

from typing import Any

from runlocalai_bench.rig import pci
from runlocalai_bench.rig.catalog import peak_bandwidth_gbps
from runlocalai_bench.rig.host import Host, attempt, text
from runlocalai_bench.rig.slug import BANDWIDTH_NVML, identify_gpu
from runlocalai_bench.types import GPUInfo

NVML_CLOCK_MEM = 2


def cuda_version(driver_version: int) -> str:
    """NVML's integer CUDA driver version as people write it: 12040 → "12.4"."""
    return f"{driver_version // 1000}.{driver_version % 1000 // 10}"


def probe_nvidia(host: Host, system_memory: int | None = None) -> tuple[GPUInfo, ...]:
    gpus = _from_nvml(host.nvml())
    if not gpus:
        gpus = _from_pci(host)
    return tuple(identify_gpu(g, system_memory=system_memory) for g in gpus)


def _from_nvml(nvml: Any | None) -> list[GPUInfo]:
    if nvml is None:
        return []
    try:
        nvml.nvmlInit()
    except Exception:  # no driver, no libnvidia-ml: not an NVIDIA machine as far as NVML can tell
        return []
    try:
        driver = attempt(lambda: text(nvml.nvmlSystemGetDriverVersion()))
        cuda = attempt(lambda: cuda_version(int(nvml.nvmlSystemGetCudaDriverVersion())))
        count = attempt(lambda: int(nvml.nvmlDeviceGetCount())) or 0
        return [_device(nvml, index, driver, cuda) for index in range(count)]
    finally:
        attempt(nvml.nvmlShutdown)


def _device(nvml: Any, index: int, driver: str | None, cuda: str | None) -> GPUInfo:
    handle = attempt(lambda: nvml.nvmlDeviceGetHandleByIndex(index))
    if handle is None:
        return GPUInfo(vendor="nvidia", driver=driver, cuda=cuda)
    clock_mem = getattr(nvml, "NVML_CLOCK_MEM", NVML_CLOCK_MEM)
    # Zero means "not reported" for these counters on some virtual GPUs.
    bus_width = attempt(lambda: int(nvml.nvmlDeviceGetMemoryBusWidth(handle))) or None
    mem_clock = attempt(lambda: int(nvml.nvmlDeviceGetMaxClockInfo(handle, clock_mem))) or None
    bandwidth = peak_bandwidth_gbps(bus_width, mem_clock)
    bus_id = attempt(lambda: pci.normalize_bus_id(text(nvml.nvmlDeviceGetPciInfo(handle).busId)))
    return GPUInfo(
        vendor="nvidia",
        name=attempt(lambda: text(nvml.nvmlDeviceGetName(handle))),
        memory_bytes=attempt(lambda: int(nvml.nvmlDeviceGetMemoryInfo(handle).total)) or None,
        driver=driver,
        cuda=cuda,
        bus_width_bits=bus_width,
        mem_clock_mhz=mem_clock,
        bandwidth_gbps=bandwidth,
        bandwidth_source=BANDWIDTH_NVML if bandwidth is not None else None,
        pcie_gen=attempt(lambda: int(nvml.nvmlDeviceGetMaxPcieLinkGeneration(handle))) or None,
        pcie_width=attempt(lambda: int(nvml.nvmlDeviceGetMaxPcieLinkWidth(handle))) or None,
        pci_bus_id=bus_id,
    )


def _from_pci(host: Host) -> list[GPUInfo]:
    """Without NVML (nvidia-ml-py not installed, or no driver loaded) the bus still says which
    cards are there; names come from lspci and bandwidth from the catalog."""
    devices = pci.display_devices(host, pci.NVIDIA)
    if not devices:
        return []
    names = pci.lspci_names(host)
    driver = (host.read("/sys/module/nvidia/version") or "").strip() or None
    gpus = []
    for device in devices:
        gen, width = pci.pcie_link(host, device)
        gpus.append(GPUInfo(vendor="nvidia", name=names.get(device.bus_id), driver=driver,
                            pcie_gen=gen, pcie_width=width, pci_bus_id=device.bus_id))
    return gpus
