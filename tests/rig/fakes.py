"""The outside world of the rig probes, recorded: a fake `pynvml` module that answers from an
NVML recording, a command runner that answers from recorded outputs, and filesystem trees
(/proc, /sys, /etc) written under a temporary root. The probes under test are the real ones."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from runlocalai_bench.rig.host import Host

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rig"


def fixture(relative: str) -> Path:
    return FIXTURES / relative


def load_json(relative: str) -> Any:
    return json.loads(fixture(relative).read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# NVML


class NVMLError(Exception):
    """pynvml's base error; the library creates one subclass per NVML return code."""

    value = 999


# pynvml names its errors NVMLError_<Reason>.
class NVMLError_Uninitialized(NVMLError):
    value = 1


class NVMLError_InvalidArgument(NVMLError):
    value = 2


class NVMLError_NotSupported(NVMLError):
    value = 3


class NVMLError_DriverNotLoaded(NVMLError):
    value = 9


class NVMLError_LibraryNotFound(NVMLError):
    value = 12


class NVMLError_FunctionNotFound(NVMLError):
    value = 13


class _Handle:
    def __init__(self, index: int) -> None:
        self.index = index


def fake_nvml(
    recording: Mapping[str, Any], init_error: type[NVMLError] | None = None
) -> ModuleType:
    """A module shaped like nvidia-ml-py's `pynvml` answering from `recording` (the JSON files in
    tests/fixtures/rig/nvml). {"error": "NotSupported"} in a recording raises
    NVMLError_NotSupported, as NVML does on parts that cannot report that field; every call
    before nvmlInit raises NVMLError_Uninitialized, as the real library does."""
    mod = ModuleType("pynvml")
    state = {"initialized": 0, "shutdowns": 0}
    as_bytes = bool(recording.get("strings_as_bytes"))
    devices: list[Mapping[str, Any]] = list(recording.get("devices", []))

    def out(value: Any) -> Any:
        if isinstance(value, Mapping) and value.get("error") == "NotSupported":
            raise NVMLError_NotSupported()
        if isinstance(value, str) and as_bytes:
            return value.encode()
        return value

    def need_init() -> None:
        if state["initialized"] <= 0:
            raise NVMLError_Uninitialized()

    def nvmlInit() -> None:
        if init_error is not None:
            raise init_error()
        state["initialized"] += 1

    def nvmlShutdown() -> None:
        need_init()
        state["initialized"] -= 1
        state["shutdowns"] += 1

    def system_call(name: str) -> Any:
        def call() -> Any:
            need_init()
            if name not in recording:
                raise NVMLError_FunctionNotFound()
            return out(recording[name])

        return call

    def nvmlDeviceGetCount() -> int:
        need_init()
        return len(devices)

    def nvmlDeviceGetHandleByIndex(index: int) -> _Handle:
        need_init()
        if not 0 <= index < len(devices):
            raise NVMLError_InvalidArgument()
        return _Handle(index)

    def device_call(name: str) -> Any:
        def call(handle: _Handle, *args: Any) -> Any:
            need_init()
            if not isinstance(handle, _Handle):
                raise NVMLError_InvalidArgument()
            device = devices[handle.index]
            if name not in device:
                raise NVMLError_FunctionNotFound()
            value = out(device[name])
            if name == "nvmlDeviceGetMaxClockInfo":
                return out(value[str(args[0])])
            if name == "nvmlDeviceGetMemoryInfo":
                return SimpleNamespace(**value)
            if name == "nvmlDeviceGetPciInfo":
                return SimpleNamespace(**{k: out(v) for k, v in value.items()})
            return value

        return call

    mod.nvmlInit = nvmlInit  # type: ignore[attr-defined]
    mod.nvmlShutdown = nvmlShutdown  # type: ignore[attr-defined]
    mod.nvmlDeviceGetCount = nvmlDeviceGetCount  # type: ignore[attr-defined]
    mod.nvmlDeviceGetHandleByIndex = nvmlDeviceGetHandleByIndex  # type: ignore[attr-defined]
    for name in ("nvmlSystemGetDriverVersion", "nvmlSystemGetCudaDriverVersion"):
        setattr(mod, name, system_call(name))
    for name in ("nvmlDeviceGetName", "nvmlDeviceGetMemoryInfo", "nvmlDeviceGetMemoryBusWidth",
                 "nvmlDeviceGetMaxClockInfo", "nvmlDeviceGetMaxPcieLinkGeneration",
                 "nvmlDeviceGetMaxPcieLinkWidth", "nvmlDeviceGetPciInfo"):
        setattr(mod, name, device_call(name))
    mod.NVML_CLOCK_GRAPHICS, mod.NVML_CLOCK_SM, mod.NVML_CLOCK_MEM = 0, 1, 2  # type: ignore[attr-defined]
    mod.NVMLError = NVMLError  # type: ignore[attr-defined]
    mod.NVMLError_NotSupported = NVMLError_NotSupported  # type: ignore[attr-defined]
    mod.state = state  # type: ignore[attr-defined]
    return mod


# ---------------------------------------------------------------------------------------------
# Commands and files


class FakeRunner:
    """Answers commands from recorded outputs ({"sysctl -n hw.memsize": "68719476736\\n"});
    "@file" reads the output from a file beside the recording. Any other command is missing,
    as a tool that is not installed is. Every call is kept in `calls`."""

    def __init__(self, outputs: Mapping[str, str] | None = None, base: Path = FIXTURES) -> None:
        self.outputs = dict(outputs or {})
        self.base = base
        self.calls: list[str] = []

    def __call__(self, args: Any) -> str | None:
        command = " ".join(args)
        self.calls.append(command)
        value = self.outputs.get(command)
        if value is not None and value.startswith("@"):
            return (self.base / value[1:]).read_text(encoding="utf-8")
        return value


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Write {relative path: content} under root (a recorded /sys, /proc or /etc)."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return root


OS_RELEASE = ('PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\n'
              'VERSION="22.04.4 LTS (Jammy Jellyfish)"\nID=ubuntu\n')


def linux_host(
    root: Path,
    *,
    cpuinfo: str = "cpuinfo/amd-epyc-milan-vm-2c",
    sysfs: str | None = None,
    files: Mapping[str, str] | None = None,
    commands: Mapping[str, str] | None = None,
    nvml: ModuleType | None = None,
    machine: str = "x86_64",
) -> tuple[Host, FakeRunner]:
    """A Linux machine under `root`: /proc/cpuinfo and /proc/meminfo from a recorded sample,
    an os-release, optionally a recorded sysfs tree, commands and an NVML module."""
    tree = {
        "proc/cpuinfo": fixture(f"{cpuinfo}.cpuinfo").read_text(encoding="utf-8"),
        "proc/meminfo": fixture(f"{cpuinfo}.meminfo").read_text(encoding="utf-8"),
        "etc/os-release": OS_RELEASE,
    }
    if sysfs:
        tree.update(load_json(sysfs))
    tree.update(files or {})
    write_tree(root, tree)
    runner = FakeRunner(commands)
    host = Host(system="Linux", release="6.8.0-45-generic",
                version="#45-Ubuntu SMP PREEMPT_DYNAMIC", machine=machine, root=root,
                run=runner, nvml=lambda: nvml)
    return host, runner


def darwin_host(root: Path, commands: str) -> tuple[Host, FakeRunner]:
    runner = FakeRunner(load_json(commands), base=fixture("apple"))
    host = Host(system="Darwin", release="23.5.0", version="Darwin Kernel Version 23.5.0",
                machine="arm64", root=root, run=runner, nvml=lambda: None)
    return host, runner
