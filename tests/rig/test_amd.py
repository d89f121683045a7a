"""AMD through recorded rocm-smi JSON and recorded sysfs trees fed to the real probe."""

from __future__ import annotations

from pathlib import Path

from runlocalai_bench.rig import detect_rig
from runlocalai_bench.rig.amd import ROCM_SMI, parse_rocm_smi
from runlocalai_bench.rig.slug import BANDWIDTH_CATALOG, CPU_ONLY, DISCRETE_GPU

from .fakes import fixture, linux_host

SMI = " ".join(ROCM_SMI)


def test_rocm_smi_with_warnings_before_the_json(tmp_path: Path) -> None:
    host, runner = linux_host(
        tmp_path, sysfs="sysfs/amd-rx-7900-xtx-and-raphael.json",
        commands={SMI: "@rocm-smi/rx-7900-xtx-and-raphael.txt"},
    )
    rig = detect_rig(host)

    xtx, apu = rig.gpus
    assert xtx.name == "Radeon RX 7900 XTX"
    assert xtx.slug == "rx-7900-xtx"
    assert xtx.memory_bytes == 25753026560
    assert xtx.driver == "6.8.5"
    assert xtx.rocm == "6.2.4"
    assert (xtx.bandwidth_gbps, xtx.bandwidth_source) == (960.0, BANDWIDTH_CATALOG)
    # rocm-smi says nothing of the PCIe link; sysfs does, for the same bus id.
    assert (xtx.pcie_gen, xtx.pcie_width) == (4, 16)
    assert xtx.pci_bus_id == "0000:03:00.0"
    # The APU's own graphics is listed but does not count.
    assert apu.name == "Raphael"
    assert apu.slug is None and apu.unified_memory
    assert (rig.hardware_slug, rig.hw_class, rig.accelerator) == ("rx-7900-xtx", DISCRETE_GPU,
                                                                  "rocm")
    assert SMI in runner.calls


def test_pci_ids_style_name_is_resolved_only_when_vram_tells(tmp_path: Path) -> None:
    """ "Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]" with 16 GB could be any of the three: no
    catalog guess, no bandwidth, a slug naming the chip and its VRAM."""
    host, _ = linux_host(tmp_path, commands={SMI: "@rocm-smi/navi21-and-raphael.json"})
    rig = detect_rig(host)

    navi, apu = rig.gpus
    assert navi.slug == "navi-21-16gb"
    assert navi.bandwidth_gbps is None
    assert navi.driver == "6.8.0-45-generic"
    assert apu.slug is None
    assert rig.hardware_slug == "navi-21-16gb"
    assert rig.hw_class == DISCRETE_GPU


def test_the_same_list_resolves_when_vram_differs(tmp_path: Path) -> None:
    """Navi 31's list (7900 XT 20 GB / XTX 24 GB / GRE 16 GB), as lspci and rocm-smi print it."""
    recorded = fixture("rocm-smi/rx-7900-xtx-and-raphael.txt").read_text()
    listed = recorded.replace('"Radeon RX 7900 XTX"',
                              '"Navi 31 [Radeon RX 7900 XT/7900 XTX/7900 GRE/7900M]"')
    listed = listed.replace('"25753026560"', '"21458059264"')  # a 7900 XT's 20 GB
    host, _ = linux_host(tmp_path, commands={SMI: listed})
    assert detect_rig(host).gpus[0].slug == "rx-7900-xt"


def test_instinct_by_device_id_when_the_name_is_a_board_string(tmp_path: Path) -> None:
    """An MI250X reports "AMD INSTINCT MI200 (MCM) OAM LC MBA HPE C2"; its device id 0x7408
    names it. Each of its two dies is a device of its own."""
    host, _ = linux_host(tmp_path, commands={SMI: "@rocm-smi/mi250x-one-card.json"})
    rig = detect_rig(host)

    assert [g.slug for g in rig.gpus] == ["mi250x-gcd", "mi250x-gcd"]
    assert [g.pci_bus_id for g in rig.gpus] == ["0000:c1:00.0", "0000:c6:00.0"]
    assert rig.hardware_slug == "2x-mi250x-gcd"
    assert rig.gpus[0].bandwidth_gbps == 1638.0


def test_two_mi300x(tmp_path: Path) -> None:
    host, _ = linux_host(tmp_path, commands={SMI: "@rocm-smi/mi300x-x2.json"})
    rig = detect_rig(host)
    assert rig.hardware_slug == "2x-mi300x-192gb"
    assert rig.accelerator == "rocm"


def test_sysfs_alone_without_rocm_smi_or_lspci(tmp_path: Path) -> None:
    """No ROCm tools at all: the device id and VRAM in sysfs identify the card."""
    host, runner = linux_host(tmp_path, sysfs="sysfs/amd-rx-7900-xtx-and-raphael.json")
    rig = detect_rig(host)

    xtx, apu = rig.gpus  # the card's HDMI audio function and the virtio NIC are not GPUs
    assert xtx.name is None
    assert xtx.slug == "rx-7900-xtx"
    assert xtx.memory_bytes == 25753026560
    assert xtx.rocm == "6.2.4"
    assert (xtx.pcie_gen, xtx.pcie_width) == (4, 16)
    assert apu.slug is None
    assert rig.hardware_slug == "rx-7900-xtx"
    assert "lspci -mm -nn -D" in runner.calls


def test_garbage_from_rocm_smi_falls_back_to_sysfs(tmp_path: Path) -> None:
    host, _ = linux_host(tmp_path, sysfs="sysfs/amd-rx-7900-xtx-and-raphael.json",
                         commands={SMI: "ERROR: GPU[0] : unable to read\n"})
    assert detect_rig(host).hardware_slug == "rx-7900-xtx"


def test_an_apu_alone_is_a_cpu_rig(tmp_path: Path) -> None:
    apu_only = fixture("rocm-smi/navi21-and-raphael.json").read_text()
    host, _ = linux_host(tmp_path, commands={SMI: apu_only.replace('"card0"', '"gone"')})
    rig = detect_rig(host)
    assert [g.name for g in rig.gpus] == ["Raphael"]
    assert rig.hw_class == CPU_ONLY
    assert rig.hardware_slug.startswith("cpu-")


def test_parse_rocm_smi_orders_cards_numerically() -> None:
    out = '{"card10": {"Card Series": "b"}, "card2": {"Card Series": "a"}, "system": {}}'
    cards, driver = parse_rocm_smi(out)
    assert [c["Card Series"] for c in cards] == ["a", "b"]
    assert driver is None


def test_strix_halo_is_unified_and_sized_by_system_memory(tmp_path: Path) -> None:
    """Ryzen AI Max+ 395: the iGPU's "VRAM" is a 512 MB carve-out of 128 GB it reads at 256 GB/s."""
    smi = ('{"card0": {"Card Series": "AMD Radeon 8060S Graphics", "Card Model": "0x1586", '
           '"VRAM Total Memory (B)": "536870912", "PCI Bus": "0000:c5:00.0"}, "system": {}}')
    host, _ = linux_host(tmp_path, commands={SMI: smi},
                         files={"proc/meminfo": "MemTotal:       129157564 kB\n"})
    rig = detect_rig(host)

    (gpu,) = rig.gpus
    assert gpu.unified_memory
    assert gpu.memory_bytes == 129157564 * 1024
    assert gpu.bandwidth_gbps == 256.0
    assert (rig.hardware_slug, rig.hw_class, rig.accelerator) == ("radeon-8060s-128gb", "UNIFIED",
                                                                  "rocm")
