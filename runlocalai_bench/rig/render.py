"""How a RigInfo looks in a terminal: one table for the machine, one for its GPUs."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table

from runlocalai_bench.rig.catalog import GIB, bandwidth_ceiling, cpu_bandwidth_bound
from runlocalai_bench.types import GPUInfo, RigInfo

_NONE = "—"


def _gib(n: int | None) -> str:
    return f"{n / GIB:.1f} GiB" if n else _NONE


def _or_none(value: object) -> str:
    return _NONE if value is None or value == "" else str(value)


def _bandwidth(gpu: GPUInfo) -> str:
    if gpu.bandwidth_gbps is None:
        return _NONE
    source = (gpu.bandwidth_source or "").removeprefix("measured-")
    return f"{gpu.bandwidth_gbps:,.1f} {source}".strip()


def _pcie(gpu: GPUInfo) -> str:
    if gpu.pcie_gen is None and gpu.pcie_width is None:
        return _NONE
    return f"Gen{_or_none(gpu.pcie_gen)} x{_or_none(gpu.pcie_width)}"


def _ceiling(rig: RigInfo, ceiling: float | None) -> str:
    """The accelerators' summed bandwidth; a CPU-only rig shows its CPU class's bound (the
    decode-speed ceiling `rla bench speed` checks against)."""
    if ceiling:
        return f"{ceiling:,.1f} GB/s"
    bound = cpu_bandwidth_bound(rig.cpu.family) if rig.hw_class == "CPU_ONLY" else None
    if bound is None:
        return _NONE
    gbps, source = bound
    return f"≤ {gbps:,.1f} GB/s ({source.split(':', 1)[0]}, hardware/cpu.toml)"


def render_rig(rig: RigInfo) -> RenderableType:
    """The rig as rich tables: hardware slug and class first, then OS, CPU, RAM and each GPU."""
    machine = Table(title="Rig", show_header=False, title_justify="left")
    machine.add_column("field", style="bold")
    machine.add_column("value")
    cpu = rig.cpu
    ceiling = bandwidth_ceiling(rig)
    rows = [
        ("hardware slug", rig.hardware_slug),
        ("class", f"{rig.hw_class} ({rig.accelerator})"),
        ("os", " ".join(p for p in (rig.os.distro, rig.os.machine) if p) or _NONE),
        ("kernel", f"{_or_none(rig.os.system)} {_or_none(rig.os.release)}"),
        ("cpu", _or_none(cpu.brand)),
        ("cores / threads", f"{_or_none(cpu.cores)} / {_or_none(cpu.threads)}"),
        ("cpu flags", " ".join(cpu.flags) or _NONE),
        ("memory", _gib(rig.memory_bytes)),
        ("bandwidth ceiling", _ceiling(rig, ceiling)),
        ("python", _or_none(rig.python)),
    ]
    for field, value in rows:
        machine.add_row(field, value)
    if not rig.gpus:
        return machine
    gpus = Table(title="GPUs", title_justify="left")
    for column in ("#", "name", "slug", "memory", "GB/s", "driver", "PCIe", "bus"):
        gpus.add_column(column)
    for index, gpu in enumerate(rig.gpus):
        stack = " ".join(p for p in (gpu.driver, gpu.cuda and f"CUDA {gpu.cuda}",
                                     gpu.rocm and f"ROCm {gpu.rocm}") if p)
        gpus.add_row(
            str(index),
            _or_none(gpu.name),
            gpu.slug or "integrated (not counted)",
            _gib(gpu.memory_bytes) + (" shared" if gpu.unified_memory and gpu.memory_bytes
                                      else ""),
            _bandwidth(gpu),
            stack or _NONE,
            _pcie(gpu),
            _or_none(gpu.pci_bus_id),
        )
    return Group(machine, gpus)
