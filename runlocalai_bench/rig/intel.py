"""Intel GPUs from sysfs (vendor 0x8086) with names from lspci. Arc cards are identified from the
catalog by name or PCI device id; anything else Intel shows on the bus is integrated graphics."""

from __future__ import annotations

from runlocalai_bench.rig import pci
from runlocalai_bench.rig.host import Host
from runlocalai_bench.rig.slug import identify_gpu
from runlocalai_bench.types import GPUInfo


def probe_intel(host: Host, system_memory: int | None = None) -> tuple[GPUInfo, ...]:
    devices = pci.display_devices(host, pci.INTEL)
    if not devices:
        return ()
    names = pci.lspci_names(host)
    gpus = []
    for device in devices:
        gen, width = pci.pcie_link(host, device)
        # i915 and xe expose no VRAM total in sysfs: memory stays unknown, the catalog knows the
        # card's bandwidth.
        gpu = GPUInfo(
            vendor="intel",
            name=names.get(device.bus_id),
            pcie_gen=gen,
            pcie_width=width,
            pci_bus_id=device.bus_id,
        )
        gpus.append(identify_gpu(gpu, pci_id=device.device_id, system_memory=system_memory,
                                 integrated_unless_known=True))
    return tuple(gpus)
