"""CPU, memory and OS from recorded /proc and /etc files, and the CPU-only slug scheme."""

from __future__ import annotations

from pathlib import Path

import pytest

from runlocalai_bench.rig import detect_rig, ram_tier_gb
from runlocalai_bench.rig.catalog import cpu_rules
from runlocalai_bench.rig.cpu import cpu_family, microarchitecture, parse_cpuinfo
from runlocalai_bench.rig.slug import CPU_ONLY
from runlocalai_bench.rig.system import parse_os_release

from .fakes import fixture, linux_host, write_tree

GIB = 1024**3


def test_epyc_vm_with_a_brand_that_names_no_model(tmp_path: Path) -> None:
    """This machine's own /proc/cpuinfo: "AMD EPYC", family 25 model 1 (Milan, Zen 3)."""
    host, _ = linux_host(tmp_path, cpuinfo="cpuinfo/amd-epyc-milan-vm-2c")
    rig = detect_rig(host)

    assert rig.cpu.brand == "AMD EPYC"
    assert rig.cpu.vendor == "amd"
    assert rig.cpu.family == "amd-epyc-zen3"
    assert (rig.cpu.cores, rig.cpu.threads) == (2, 2)
    assert rig.cpu.flags == ("sse4_2", "avx", "avx2", "fma", "f16c")
    assert rig.memory_bytes == 24683656 * 1024
    assert (rig.hardware_slug, rig.hw_class, rig.accelerator) == ("cpu-amd-epyc-zen3-24gb",
                                                                  CPU_ONLY, "cpu")
    assert rig.os.distro == "Ubuntu 22.04.4 LTS"
    assert rig.os.release == "6.8.0-45-generic"


def test_hybrid_intel_desktop(tmp_path: Path) -> None:
    """i7-13700K: 8 P-cores with two threads and 8 E-cores with one: 16 cores, 24 threads."""
    max_freq = {"sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq": "5400000\n"}
    host, _ = linux_host(tmp_path, cpuinfo="cpuinfo/intel-i7-13700k", files=max_freq)
    rig = detect_rig(host)

    assert rig.cpu.brand == "13th Gen Intel(R) Core(TM) i7-13700K"
    assert rig.cpu.vendor == "intel"
    assert (rig.cpu.cores, rig.cpu.threads) == (16, 24)
    assert rig.cpu.max_mhz == 5400.0
    assert "avx_vnni" in rig.cpu.flags and "avx512f" not in rig.cpu.flags
    # 31.1 GiB visible of 32 GB installed.
    assert rig.hardware_slug == "cpu-intel-core-i7-13700k-32gb"


def test_arm_server_without_brand_or_core_ids(tmp_path: Path) -> None:
    """Ampere Altra: Linux reports implementer/part numbers only; cores come from sysfs."""
    topology = {f"sys/devices/system/cpu/cpu{i}/topology/core_cpus_list": f"{i}\n"
                for i in range(4)}
    host, _ = linux_host(tmp_path, cpuinfo="cpuinfo/ampere-altra-neoverse-n1-4c", files=topology,
                         machine="aarch64")
    rig = detect_rig(host)

    assert rig.cpu.vendor == "arm"
    assert rig.cpu.brand == "arm neoverse-n1"
    assert (rig.cpu.cores, rig.cpu.threads) == (4, 4)
    assert rig.cpu.flags == ("asimd", "asimddp")
    assert rig.hardware_slug == "cpu-arm-neoverse-n1-24gb"


def test_unreadable_proc_gives_nulls_not_a_crash(tmp_path: Path) -> None:
    host, _ = linux_host(tmp_path)
    (tmp_path / "proc" / "cpuinfo").unlink()
    (tmp_path / "proc" / "meminfo").write_text("garbage\n")
    rig = detect_rig(host)
    assert rig.cpu.brand is None and rig.cpu.cores is None and rig.cpu.threads is None
    assert rig.memory_bytes is None
    assert rig.hardware_slug == "cpu-unknown"


def test_parse_cpuinfo_blocks() -> None:
    blocks = parse_cpuinfo(fixture("cpuinfo/intel-i7-13700k.cpuinfo").read_text())
    assert len(blocks) == 24
    assert blocks[23]["core id"] == "39"
    assert blocks[0]["model name"] == "13th Gen Intel(R) Core(TM) i7-13700K"


@pytest.mark.parametrize(("brand", "vendor", "arch", "family"), [
    ("13th Gen Intel(R) Core(TM) i7-13700K", "intel", "raptor-lake", "intel-core-i7-13700k"),
    ("Intel(R) Core(TM) i9-9980HK CPU @ 2.40GHz", "intel", None, "intel-core-i9-9980hk"),
    ("Intel(R) Core(TM) Ultra 7 155H", "intel", "meteor-lake", "intel-core-ultra-7-155h"),
    ("Intel(R) Xeon(R) Platinum 8480+", "intel", "sapphire-rapids",
     "intel-xeon-platinum-8480plus"),
    ("Intel Xeon Processor (Icelake)", "intel", "ice-lake", "intel-xeon-ice-lake"),
    ("AMD Ryzen 9 7950X 16-Core Processor", "amd", "zen4", "amd-ryzen-9-7950x"),
    ("AMD Ryzen 7 7840HS w/ Radeon 780M Graphics", "amd", "zen4", "amd-ryzen-7-7840hs"),
    ("AMD Ryzen 5 5600G with Radeon Graphics", "amd", "zen3", "amd-ryzen-5-5600g"),
    ("AMD EPYC 9654 96-Core Processor", "amd", "zen4", "amd-epyc-9654"),
    ("AMD EPYC", "amd", "zen4", "amd-epyc-zen4"),
    ("QEMU Virtual CPU version 2.5+", "amd", "zen2", "amd-zen2"),
    ("Common KVM processor", "intel", None, "intel"),
    (None, "amd", None, "amd"),
])
def test_cpu_family(brand: str | None, vendor: str, arch: str | None, family: str) -> None:
    assert cpu_family(brand, vendor, arch, cpu_rules()) == family


@pytest.mark.parametrize(("vendor", "family", "model", "stepping", "arch"), [
    ("amd", 0x19, 0x01, 1, "zen3"),      # Milan (this machine)
    ("amd", 0x19, 0x11, 1, "zen4"),      # Genoa
    ("amd", 0x19, 0x61, 2, "zen4"),      # Raphael
    ("amd", 0x19, 0x21, 0, "zen3"),      # Vermeer
    ("amd", 0x1a, 0x44, 0, "zen5"),      # Granite Ridge
    ("amd", 0x17, 0x31, 0, "zen2"),      # Rome
    ("intel", 6, 0x8f, 8, "sapphire-rapids"),
    ("intel", 6, 0x55, 4, "skylake"),
    ("intel", 6, 0x55, 7, "cascade-lake"),
    ("intel", 6, 0xb7, 1, "raptor-lake"),
    ("intel", 6, 0x01, 1, None),
])
def test_microarchitecture(vendor: str, family: int, model: int, stepping: int,
                           arch: str | None) -> None:
    assert microarchitecture(vendor, family, model, stepping, cpu_rules()) == arch


@pytest.mark.parametrize(("visible_gib", "tier"), [
    (23.54, 24), (31.1, 32), (15.3, 16), (7.6, 8), (11.6, 12), (62.7, 64), (125.7, 128),
    (251.5, 256), (0.95, 1), (503.0, 512), (47.0, 48),
])
def test_ram_tier_rounds_to_the_nearest_common_size(visible_gib: float, tier: int) -> None:
    assert ram_tier_gb(int(visible_gib * GIB)) == tier


def test_os_release_parsing(tmp_path: Path) -> None:
    write_tree(tmp_path, {"os-release": 'NAME="Fedora Linux"\nVERSION_ID=40\n'
                                        "PRETTY_NAME='Fedora Linux 40 (Workstation Edition)'\n"})
    parsed = parse_os_release((tmp_path / "os-release").read_text())
    assert parsed == {"NAME": "Fedora Linux", "VERSION_ID": "40",
                      "PRETTY_NAME": "Fedora Linux 40 (Workstation Edition)"}
