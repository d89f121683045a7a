"""The outside world the rig probes read: the OS identity, a filesystem root (for /proc, /sys and
/etc), a command runner and the NVML module. `Host.current()` is the real machine; a test hands
the same probes a Host over a temporary tree, recorded command outputs and a fake NVML module.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# Runs a command and returns its stdout, or None when it is missing, fails or times out.
CommandRunner = Callable[[Sequence[str]], str | None]

COMMAND_TIMEOUT_S = 15.0


def run_command(args: Sequence[str]) -> str | None:
    """Run a system tool (rocm-smi, lspci, sysctl, system_profiler) without a shell."""
    exe = shutil.which(args[0])
    if exe is None:
        return None
    try:
        proc = subprocess.run(
            [exe, *args[1:]],
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    # Some tools (rocm-smi) exit non-zero over one unsupported field yet print the rest.
    if proc.returncode != 0 and not proc.stdout.strip():
        return None
    return proc.stdout


def load_nvml() -> Any | None:
    """The pynvml module of nvidia-ml-py, or None when it is not installed (the `nvidia` extra)."""
    try:
        with warnings.catch_warnings():
            # The deprecated `pynvml` wrapper package warns on import; nvidia-ml-py does not.
            warnings.simplefilter("ignore")
            import pynvml
    except ImportError:
        return None
    return pynvml


@dataclass(frozen=True)
class Host:
    system: str  # platform.system(): Linux | Darwin | Windows
    release: str = ""
    version: str = ""
    machine: str = ""
    root: Path = Path("/")
    run: CommandRunner = run_command
    nvml: Callable[[], Any | None] = load_nvml

    @classmethod
    def current(cls) -> Host:
        uname = platform.uname()
        return cls(system=uname.system, release=uname.release, version=uname.version,
                   machine=uname.machine)

    def path(self, absolute: str) -> Path:
        """An absolute path such as /proc/cpuinfo, under this host's root."""
        return self.root / absolute.lstrip("/")

    def read(self, absolute: str | Path) -> str | None:
        """A text file's content, or None when it is missing or unreadable."""
        path = absolute if isinstance(absolute, Path) else self.path(absolute)
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None


def attempt(read: Callable[[], T]) -> T | None:
    """Read one field on its own: any failure of the outside world (NVMLError_NotSupported, a
    malformed line, a missing key) gives None for that field, never a crash."""
    try:
        return read()
    except Exception:
        return None


def text(value: object) -> str:
    """A library string that may arrive as bytes (older pynvml) or str."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace").strip("\x00 ")
    return str(value).strip()
