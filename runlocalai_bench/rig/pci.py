"""Display devices on the PCI bus, read from sysfs (/sys/bus/pci/devices, the same device
directories /sys/class/drm/card*/device point to), and their names from `lspci`."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from runlocalai_bench.rig.host import Host, attempt

NVIDIA = "0x10de"
AMD = "0x1002"
INTEL = "0x8086"

# PCIe link speed (GT/s) → generation.
_GENERATIONS = {2.5: 1, 5.0: 2, 8.0: 3, 16.0: 4, 32.0: 5, 64.0: 6}


@dataclass(frozen=True)
class PciDevice:
    bus_id: str  # 0000:03:00.0
    vendor_id: str  # 0x1002
    device_id: str  # 0x744c
    path: Path


def display_devices(host: Host, vendor_id: str) -> list[PciDevice]:
    """Display-class devices (PCI class 0x03xxxx) of one vendor, in bus order."""
    base = host.path("/sys/bus/pci/devices")
    entries = attempt(lambda: sorted(base.iterdir())) or []
    found = []
    for entry in entries:
        vendor = (host.read(entry / "vendor") or "").strip().lower()
        pci_class = (host.read(entry / "class") or "").strip().lower()
        if vendor == vendor_id and pci_class.startswith("0x03"):
            device = (host.read(entry / "device") or "").strip().lower()
            found.append(PciDevice(entry.name.lower(), vendor, device, entry))
    return found


def link_generation(speed: str | None) -> int | None:
    """"16.0 GT/s PCIe" (or "8 GT/s") → 4."""
    if not speed or not (m := re.match(r"\s*([\d.]+)\s*GT/s", speed)):
        return None
    return _GENERATIONS.get(float(m.group(1)))


def read_int(host: Host, path: Path) -> int | None:
    raw = host.read(path)
    return attempt(lambda: int((raw or "").strip(), 0))


def pcie_link(host: Host, device: PciDevice) -> tuple[int | None, int | None]:
    """The device's maximum PCIe generation and lane width."""
    gen = link_generation(host.read(device.path / "max_link_speed"))
    width = read_int(host, device.path / "max_link_width")
    return gen, width


def normalize_bus_id(bus_id: str) -> str:
    """NVML's 00000000:01:00.0, lspci's 0000:01:00.0 and a bare 01:00.0 as one form."""
    parts = bus_id.strip().lower().split(":")
    if len(parts) == 2:
        parts.insert(0, "0")
    if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]+", parts[0]):
        return bus_id.strip().lower()
    domain, bus, function = parts
    return f"{int(domain, 16):04x}:{bus}:{function}"


def lspci_names(host: Host) -> dict[str, str]:
    """Device names by bus id from `lspci -mm -nn -D`: "Navi 31 [Radeon RX 7900 XT/7900 XTX]"."""
    out = host.run(["lspci", "-mm", "-nn", "-D"])
    names: dict[str, str] = {}
    for line in (out or "").splitlines():
        try:
            fields = shlex.split(line)
        except ValueError:  # an unbalanced quote in a vendor's name
            continue
        if len(fields) < 4 or not re.search(r"\[03[0-9a-f]{2}\]", fields[1]):
            continue
        names[normalize_bus_id(fields[0])] = marketing_name(fields[3])
    return names


def marketing_name(device: str) -> str:
    """lspci's device field as the product's name: "AD102 [GeForce RTX 4090] [2684]" →
    "GeForce RTX 4090". A bracket listing several products ("Navi 31 [Radeon RX 7900 XT/7900
    XTX]") is kept whole: which one it is, VRAM decides later."""
    device = re.sub(r"\s*\[[0-9a-f]{4}\]$", "", device.strip())
    inner = re.search(r"\[([^\]]+)\]", device)
    return inner.group(1).strip() if inner and "/" not in inner.group(1) else device
