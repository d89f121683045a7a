"""AMD GPUs: `rocm-smi --json` when ROCm is installed, else sysfs (vendor 0x1002) with names
from lspci. sysfs also adds the PCIe link to what rocm-smi reports."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from runlocalai_bench.rig import pci
from runlocalai_bench.rig.catalog import GIB
from runlocalai_bench.rig.host import Host, attempt
from runlocalai_bench.rig.slug import identify_gpu
from runlocalai_bench.types import GPUInfo

ROCM_SMI = ["rocm-smi", "--showproductname", "--showmeminfo", "vram", "--showbus",
            "--showdriverversion", "--json"]

# Below this much VRAM, an AMD GPU the catalog does not know is an APU's integrated graphics.
INTEGRATED_BELOW_BYTES = 4 * GIB

_HEX_ID = re.compile(r"^0x[0-9a-f]{1,4}$", re.IGNORECASE)
_NAME_KEYS = ("Card Series", "Card series", "Device Name", "Card Model", "Card model")
_ID_KEYS = ("Device ID", "Card Model", "Card model")


def parse_rocm_smi(out: str) -> tuple[list[Mapping[str, Any]], str | None]:
    """The per-card objects of rocm-smi's JSON (card0, card1, … in order) and the driver version.
    Warnings printed before the JSON are skipped."""
    data = json.loads(out[out.index("{"):])
    cards = sorted(((k, v) for k, v in data.items() if re.fullmatch(r"card\d+", k)),
                   key=lambda kv: int(kv[0][4:]))
    system = data.get("system") or {}
    driver = system.get("Driver version") if isinstance(system, dict) else None
    return [v for _, v in cards if isinstance(v, dict)], driver


def _first(
    card: Mapping[str, Any], keys: tuple[str, ...], keep: Callable[[str], object]
) -> str | None:
    for key in keys:
        value = str(card.get(key) or "").strip()
        if value and value.upper() != "N/A" and keep(value):
            return value
    return None


def probe_amd(host: Host, system_memory: int | None = None) -> tuple[GPUInfo, ...]:
    devices = {d.bus_id: d for d in pci.display_devices(host, pci.AMD)}
    rocm = _rocm_version(host)
    smi_out = host.run(ROCM_SMI)
    parsed = attempt(lambda: parse_rocm_smi(smi_out or ""))
    if parsed and parsed[0]:
        cards, driver = parsed
        found = [_from_smi(host, card, devices, driver, rocm) for card in cards]
    else:
        found = _from_sysfs(host, list(devices.values()), rocm)
    return tuple(
        identify_gpu(
            gpu,
            pci_id=pci_id,
            system_memory=system_memory,
            integrated_unless_known=(gpu.memory_bytes or 0) < INTEGRATED_BELOW_BYTES,
        )
        for gpu, pci_id in found
    )


def _rocm_version(host: Host) -> str | None:
    raw = (host.read("/opt/rocm/.info/version") or "").strip()
    return raw.split("-")[0] or None


def _from_smi(
    host: Host,
    card: Mapping[str, Any],
    devices: Mapping[str, pci.PciDevice],
    driver: str | None,
    rocm: str | None,
) -> tuple[GPUInfo, str | None]:
    bus_raw = _first(card, ("PCI Bus",), lambda v: True)
    bus_id = pci.normalize_bus_id(bus_raw) if bus_raw else None
    device = devices.get(bus_id or "")
    gen, width = pci.pcie_link(host, device) if device else (None, None)
    pci_id = device.device_id if device else _first(card, _ID_KEYS, _HEX_ID.match)
    memory = attempt(lambda: int(card["VRAM Total Memory (B)"]))
    gpu = GPUInfo(
        vendor="amd",
        name=_first(card, _NAME_KEYS, lambda v: not _HEX_ID.match(v)),
        memory_bytes=memory or None,
        driver=driver,
        rocm=rocm,
        pcie_gen=gen,
        pcie_width=width,
        pci_bus_id=bus_id,
    )
    return gpu, pci_id.lower() if pci_id else None


def _from_sysfs(
    host: Host, devices: list[pci.PciDevice], rocm: str | None
) -> list[tuple[GPUInfo, str | None]]:
    if not devices:
        return []
    names: dict[str, str] | None = None
    driver = (host.read("/sys/module/amdgpu/version") or "").strip() or None
    found: list[tuple[GPUInfo, str | None]] = []
    for device in devices:
        name = (host.read(device.path / "product_name") or "").strip() or None
        if name is None:
            names = pci.lspci_names(host) if names is None else names
            name = names.get(device.bus_id)
        gen, width = pci.pcie_link(host, device)
        gpu = GPUInfo(
            vendor="amd",
            name=name,
            memory_bytes=pci.read_int(host, device.path / "mem_info_vram_total") or None,
            driver=driver,
            rocm=rocm,
            pcie_gen=gen,
            pcie_width=width,
            pci_bus_id=device.bus_id,
        )
        found.append((gpu, device.device_id))
    return found
