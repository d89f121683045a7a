"""The CPU: brand, vendor, cores, threads, maximum clock and the instruction-set flags that decide
llama.cpp's CPU speed. Linux reads /proc/cpuinfo and sysfs, macOS sysctl, elsewhere psutil."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from runlocalai_bench.rig.catalog import CpuRules, cpu_rules
from runlocalai_bench.rig.host import Host, attempt
from runlocalai_bench.types import CPUInfo

# The flags worth recording: the SIMD and matrix extensions llama.cpp's kernels dispatch on.
RELEVANT_FLAGS = (
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512vl",
    "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16",
    "neon", "asimd", "asimddp", "dotprod", "i8mm", "bf16", "sve", "sve2", "fp16",
)
_X86_VENDORS = {"GenuineIntel": "intel", "AuthenticAMD": "amd", "HygonGenuine": "hygon"}
# sysctl hw.optional keys (macOS) → the Linux flag names above.
_DARWIN_FLAGS = {
    "hw.optional.sse4_2": "sse4_2", "hw.optional.avx1_0": "avx", "hw.optional.avx2_0": "avx2",
    "hw.optional.fma": "fma", "hw.optional.avx512f": "avx512f", "hw.optional.avx512bw": "avx512bw",
    "hw.optional.avx512vl": "avx512vl", "hw.optional.neon": "neon",
    "hw.optional.arm.FEAT_DotProd": "dotprod", "hw.optional.arm.FEAT_I8MM": "i8mm",
    "hw.optional.arm.FEAT_BF16": "bf16", "hw.optional.arm.FEAT_FP16": "fp16",
}


def parse_cpuinfo(content: str) -> list[dict[str, str]]:
    """/proc/cpuinfo as one dict per logical processor (ARM adds a trailing summary block)."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in content.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
            current = {}
            continue
        key, sep, value = line.partition(":")
        if sep:
            current[key.strip()] = value.strip()
    if current:
        blocks.append(current)
    return blocks


def microarchitecture(
    vendor: str | None, family: int | None, model: int | None, stepping: int | None,
    rules: CpuRules,
) -> str | None:
    """Zen 3, Sapphire Rapids, … from x86 family/model/stepping numbers (hardware/cpu.toml)."""
    if vendor is None or family is None or model is None:
        return None
    for row in rules.microarch:
        lo, hi = row["models"]
        steps = row.get("steppings")
        if row["vendor"] == vendor and row["family"] == family and lo <= model <= hi and (
            steps is None or (stepping is not None and steps[0] <= stepping <= steps[1])
        ):
            return str(row["arch"])
    return None


def _brand_words(brand: str) -> list[str]:
    s = brand.lower()
    s = re.sub(r"\((r|tm)\)|[®™]", " ", s)
    s = re.sub(r"\b\d+(st|nd|rd|th) gen\b", " ", s)  # "13th Gen Intel Core i7-13700H"
    s = re.sub(r"@.*$", " ", s)  # "@ 3.40GHz"
    s = re.sub(r"\s(w/|with)\s.*$", " ", s)  # "w/ Radeon 780M Graphics"
    s = re.sub(r"\b\d+-core\b|\bprocessor\b|\bcpu\b", " ", s)
    return [w.replace("+", "plus") for w in re.findall(r"[a-z0-9+]+", s)]


def cpu_family(
    brand: str | None, vendor: str | None, arch: str | None, rules: CpuRules
) -> str | None:
    """The <family> of a cpu-<family>-<RAM tier>gb slug (hardware/cpu.toml explains the scheme):
    the brand's words when it names a model ("intel-core-i7-13700k"), else vendor and product
    line plus microarchitecture ("amd-epyc-zen3" for a VM's plain "AMD EPYC")."""
    lowered = (brand or "").lower()
    generic = not brand or any(mark in lowered for mark in rules.generic_brands)
    if not generic:
        words = _brand_words(re.sub(r"\(.*?\)", " ", brand or ""))
        if any(ch.isdigit() for w in words for ch in w):
            return "-".join(words)
    words = [] if generic else _brand_words(re.sub(r"\(.*?\)", " ", brand or ""))
    if not words and vendor:
        words = [vendor]
    if arch and arch not in words:
        words.append(arch)
    return "-".join(words) or None


def _to_int(value: str | None) -> int | None:
    return attempt(lambda: int(str(value), 0))


def _flags(raw: str | None) -> tuple[str, ...]:
    present = set((raw or "").split())
    return tuple(f for f in RELEVANT_FLAGS if f in present)


def probe_cpu(host: Host) -> CPUInfo:
    if host.system == "Darwin":
        return _darwin(host)
    if host.system == "Linux":
        return _linux(host)
    return _other(host)


def _linux(host: Host) -> CPUInfo:
    blocks = [b for b in parse_cpuinfo(host.read("/proc/cpuinfo") or "") if "processor" in b]
    first: Mapping[str, str] = blocks[0] if blocks else {}
    rules = cpu_rules()
    vendor = _X86_VENDORS.get(first.get("vendor_id", ""))
    arch = microarchitecture(vendor, _to_int(first.get("cpu family")), _to_int(first.get("model")),
                             _to_int(first.get("stepping")), rules)
    brand = first.get("model name")
    if "CPU implementer" in first:  # Arm: no vendor_id, often no brand
        implementer = _to_int(first.get("CPU implementer"))
        vendor = rules.arm_vendors.get(implementer or -1, "arm")
        cores_seen = _arm_cores(blocks, rules)
        arch = "-".join(cores_seen) or None
        if not brand or brand.lower().startswith("armv"):
            brand = " ".join([vendor, *cores_seen]) if cores_seen else brand
    return CPUInfo(
        brand=brand,
        vendor=vendor,
        family=cpu_family(brand, vendor, arch, rules),
        cores=_linux_cores(host, blocks),
        threads=len(blocks) or None,
        max_mhz=_linux_max_mhz(host),
        flags=_flags(first.get("flags") or first.get("Features")),
    )


def _arm_cores(blocks: Sequence[Mapping[str, str]], rules: CpuRules) -> list[str]:
    seen: list[str] = []
    for block in blocks:
        key = (_to_int(block.get("CPU implementer")), _to_int(block.get("CPU part")))
        core = rules.arm_cores.get((key[0] or -1, key[1] or -1))
        if core and core not in seen:
            seen.append(core)
    return seen


def _linux_cores(host: Host, blocks: Sequence[Mapping[str, str]]) -> int | None:
    """Physical cores: distinct (package, core) pairs in /proc/cpuinfo (x86), else distinct
    sibling sets in sysfs topology (Arm)."""
    pairs = {(b.get("physical id"), b.get("core id")) for b in blocks if "core id" in b}
    if pairs:
        return len(pairs)
    base = host.path("/sys/devices/system/cpu")
    cpus = attempt(lambda: sorted(base.glob("cpu[0-9]*/topology"))) or []
    siblings = {
        (host.read(t / "core_cpus_list") or host.read(t / "thread_siblings_list") or "").strip()
        for t in cpus
    }
    siblings.discard("")
    return len(siblings) or None


def _linux_max_mhz(host: Host) -> float | None:
    raw = host.read("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    khz = _to_int((raw or "").strip())
    return khz / 1000 if khz else None


def _sysctl(host: Host, key: str) -> str | None:
    out = host.run(["sysctl", "-n", key])
    return out.strip() if out and out.strip() else None


def _darwin(host: Host) -> CPUInfo:
    brand = _sysctl(host, "machdep.cpu.brand_string")
    vendor = "apple" if brand and brand.startswith("Apple") else ("intel" if brand else None)
    optional = host.run(["sysctl", "hw.optional"]) or ""
    enabled = {k.strip() for k, _, v in (line.partition(":") for line in optional.splitlines())
               if v.strip() == "1"}
    flags = tuple(dict.fromkeys(f for key, f in _DARWIN_FLAGS.items() if key in enabled))
    hz = _to_int(_sysctl(host, "hw.cpufrequency_max"))
    return CPUInfo(
        brand=brand,
        vendor=vendor,
        family=cpu_family(brand, vendor, None, cpu_rules()),
        cores=_to_int(_sysctl(host, "hw.physicalcpu")),
        threads=_to_int(_sysctl(host, "hw.logicalcpu")),
        max_mhz=hz / 1e6 if hz else None,
        flags=tuple(f for f in RELEVANT_FLAGS if f in flags),
    )


def _other(host: Host) -> CPUInfo:
    """Windows and the rest: psutil for counts, PowerShell (Windows) for the brand."""
    import psutil

    out = host.run(["powershell", "-NoProfile", "-Command",
                    "(Get-CimInstance Win32_Processor).Name"])
    brand = out.strip().splitlines()[0].strip() if out and out.strip() else None
    lowered = (brand or "").lower()
    vendor = "intel" if "intel" in lowered else "amd" if "amd" in lowered else None
    freq = attempt(psutil.cpu_freq)
    return CPUInfo(
        brand=brand,
        vendor=vendor,
        family=cpu_family(brand, vendor, None, cpu_rules()),
        cores=attempt(lambda: psutil.cpu_count(logical=False)),
        threads=attempt(lambda: psutil.cpu_count(logical=True)),
        max_mhz=(freq.max or None) if freq else None,
    )

