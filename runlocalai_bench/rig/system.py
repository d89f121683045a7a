"""The operating system and the installed memory."""

from __future__ import annotations

import re

from runlocalai_bench.rig.host import Host, attempt
from runlocalai_bench.types import OSInfo


def parse_os_release(content: str) -> dict[str, str]:
    """/etc/os-release's KEY="value" lines."""
    values = {}
    for line in content.splitlines():
        m = re.match(r'^([A-Z_]+)=(["\']?)(.*)\2\s*$', line.strip())
        if m:
            values[m.group(1)] = m.group(3)
    return values


def probe_os(host: Host) -> OSInfo:
    return OSInfo(
        system=host.system or None,
        release=host.release or None,  # the kernel on Linux, Darwin's on macOS
        version=host.version or None,
        distro=_distro(host),
        machine=host.machine or None,
    )


def _distro(host: Host) -> str | None:
    if host.system == "Linux":
        content = host.read("/etc/os-release") or host.read("/usr/lib/os-release") or ""
        release = parse_os_release(content)
        return release.get("PRETTY_NAME") or release.get("NAME") or None
    if host.system == "Darwin":
        name = (host.run(["sw_vers", "-productName"]) or "").strip()
        version = (host.run(["sw_vers", "-productVersion"]) or "").strip()
        return " ".join(p for p in (name, version) if p) or None
    if host.system == "Windows":
        return f"Windows {host.release}".strip()
    return None


def probe_memory(host: Host) -> int | None:
    """Memory the OS manages, in bytes: MemTotal on Linux, hw.memsize on macOS, psutil elsewhere."""
    if host.system == "Linux":
        meminfo = host.read("/proc/meminfo") or ""
        m = re.search(r"^MemTotal:\s+(\d+)\s*kB", meminfo, re.MULTILINE)
        return int(m.group(1)) * 1024 if m else None
    if host.system == "Darwin":
        return attempt(lambda: int((host.run(["sysctl", "-n", "hw.memsize"]) or "").strip()))
    import psutil

    return attempt(lambda: int(psutil.virtual_memory().total))
