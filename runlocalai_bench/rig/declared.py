"""The rig of a run whose server is another machine: declared with `--hardware SLUG`, never
detected. rla can only detect the machine it runs on, so an endpoint that is not this machine
(runtime/locality.py) makes the hardware the contributor's statement, checked against the catalog
in hardware/ and marked `declared` in the record and the submission.

    rig_source     the rig a run records: detected here, or declared for another machine
    declared_rig   a RigInfo from a catalog slug: the GPU's name, memory and bandwidth from
                   hardware/*.toml; OS, CPU and RAM unknown (they are the other machine's)
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence

from runlocalai_bench.errors import ConfigError
from runlocalai_bench.redact import redact
from runlocalai_bench.rig.catalog import GIB, gpu_catalog
from runlocalai_bench.runtime.locality import is_local_endpoint
from runlocalai_bench.types import CPUInfo, GPUInfo, OSInfo, RigInfo

# CPU-only rigs' slugs are made, not listed: cpu-<family>-<RAM tier>gb (hardware/cpu.toml).
_CPU_SLUG = re.compile(r"cpu-[a-z0-9]+(?:-[a-z0-9]+)*-\d+gb")
_ACCELERATOR = {"nvidia": "cuda", "amd": "rocm", "apple": "metal", "intel": "vulkan"}


def declared_rig(slug: str) -> RigInfo:
    """The rig `--hardware SLUG` declares; a ConfigError naming close slugs when the catalog
    does not know it."""
    if _CPU_SLUG.fullmatch(slug):
        return RigInfo(os=OSInfo(), cpu=CPUInfo(), memory_bytes=None, gpus=(),
                       hardware_slug=slug, hw_class="CPU_ONLY", accelerator="cpu",
                       declared=True)
    for spec in gpu_catalog():
        if spec.slug == slug:
            gpu = GPUInfo(vendor=spec.vendor, name=spec.name, slug=spec.slug,
                          memory_bytes=int(spec.memory_gb * GIB) if spec.memory_gb else None,
                          bandwidth_gbps=spec.bandwidth_gbps, bandwidth_source="catalog",
                          unified_memory=spec.unified)
            return RigInfo(os=OSInfo(), cpu=CPUInfo(), memory_bytes=None, gpus=(gpu,),
                           hardware_slug=slug,
                           hw_class="UNIFIED" if spec.unified else "DISCRETE_GPU",
                           accelerator=_ACCELERATOR.get(spec.vendor, "cpu"), declared=True)
    close = difflib.get_close_matches(slug, [s.slug for s in gpu_catalog()], n=6, cutoff=0.5)
    raise ConfigError(f"--hardware {slug!r} is not in rla's hardware catalog (hardware/)",
                      hint=f"close slugs: {', '.join(close)}" if close else
                      "a GPU's slug from hardware/*.toml (rtx-4090, m3-max-…), or"
                      " cpu-<family>-<RAM>gb for a CPU-only machine")


def rig_source(endpoint: str | None, hardware: str | None,
               detect: Callable[[], RigInfo],
               replicas: Sequence[str] = ()) -> Callable[[], RigInfo]:
    """How a run gets its rig: detected when rla runs on the serving machine (in process, or
    an endpoint on this machine), declared with --hardware for another machine. Replicas
    (`--endpoint` repeated) are one kind of rig: all this machine, or all declared."""
    local = endpoint is None or is_local_endpoint(endpoint)
    mixed = next((url for url in replicas if is_local_endpoint(url) != local), None)
    if mixed is not None:
        here, there = (endpoint, mixed) if local else (mixed, endpoint)
        raise ConfigError(f"{redact(here or '')} is this machine and {redact(there or '')} is"
                          " another: a run's endpoints are one kind of rig, detected here or"
                          " declared with --hardware, not both",
                          hint="run the replicas all on this machine or all on others of one"
                          " kind (with --hardware SLUG)")
    if local and hardware:
        raise ConfigError("--hardware declares another machine's hardware; this endpoint is"
                          " this machine, whose hardware rla detects",
                          hint="drop --hardware (rla rig shows what it detects)")
    if local:
        return detect
    if not hardware:
        raise ConfigError(f"{redact(endpoint or '')} is another machine: rla cannot detect its"
                          " hardware",
                          hint="declare it with --hardware SLUG (the serving machine's GPU"
                          " slug from hardware/, e.g. rtx-4090)")
    rig = declared_rig(hardware)
    return lambda: rig
