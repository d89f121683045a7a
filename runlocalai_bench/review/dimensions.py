"""The four dimensions a reproduction must match (REFERENCE §1), compared between two records.

    model         family (architecture), parameter count, instruct vs base
    quantization  the same quant by name: GGUF Q4_K_M ≠ Q6_K ≠ AWQ-int4 ≠ GPTQ-int4
    runtime       the same engine; llama.cpp, Ollama and llama-cpp-python are all llama.cpp
                  underneath and count as one, vLLM is its own
    hardware      the same GPU SKU(s); CPU-only runs: the same CPU family and RAM tier

Each comparison is `match`, `differs`, or `unknown` when a side does not say. Only four matches
make a reproduction; anything else is a related benchmark. Pure functions over record blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from runlocalai_bench.rig.catalog import ram_tier_gb

DimStatus = Literal["match", "differs", "unknown"]
DIMENSIONS = ("model", "quantization", "runtime", "hardware")
# Engines that run the same kernels on the same GGUF files.
ENGINE_FAMILIES = {"llama.cpp": "llama.cpp", "ollama": "llama.cpp",
                   "llama-cpp-python": "llama.cpp"}
# Engines that do not say what they are cannot be matched.
UNIDENTIFIED_ENGINES = {"openai-compatible", "replay", "oracle"}
PARAMETER_TOLERANCE = 0.05  # "270M" as a label vs 268,098,176 counted


@dataclass(frozen=True)
class Setup:
    """What a run ran on, as its record states it."""

    model: Mapping[str, Any]
    engine: str | None
    runtime_slug: str | None
    hardware: Mapping[str, Any]


@dataclass(frozen=True)
class DimensionMatch:
    name: str
    status: DimStatus
    original: str
    local: str
    reason: str = ""


def setup_of(record: Mapping[str, Any]) -> Setup:
    runtime = record.get("runtime") or {}
    return Setup(model=record.get("model") or {}, engine=runtime.get("engine"),
                 runtime_slug=runtime.get("slug"), hardware=record.get("hardware") or {})


def _params(n: Any) -> str:
    if not isinstance(n, int) or n <= 0:
        return "?"
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M"


def describe_model(model: Mapping[str, Any]) -> str:
    parts = [str(model.get("family") or model.get("slug") or "?"), _params(model.get("parameters")),
             str(model.get("tuning") or "base/instruct ?")]
    return " ".join(parts)


def compare_model(a: Mapping[str, Any], b: Mapping[str, Any]) -> DimensionMatch:
    desc_a, desc_b = describe_model(a), describe_model(b)

    def result(status: DimStatus, reason: str) -> DimensionMatch:
        return DimensionMatch("model", status, desc_a, desc_b, reason)

    if a.get("file_sha256") and a.get("file_sha256") == b.get("file_sha256"):
        return result("match", "the same model file (sha256)")
    reasons: list[str] = []
    compared = 0
    if a.get("family") and b.get("family"):
        compared += 1
        if str(a["family"]).lower() != str(b["family"]).lower():
            reasons.append(f"family {a['family']} ≠ {b['family']}")
    elif a.get("slug") and b.get("slug"):
        compared += 1
        if a["slug"] != b["slug"]:
            reasons.append(f"model {a['slug']} ≠ {b['slug']}")
    pa, pb = a.get("parameters"), b.get("parameters")
    if isinstance(pa, int) and isinstance(pb, int) and pa > 0 and pb > 0:
        compared += 1
        if abs(pa - pb) / max(pa, pb) > PARAMETER_TOLERANCE:
            reasons.append(f"parameters {_params(pa)} ≠ {_params(pb)}")
    if a.get("tuning") and b.get("tuning") and a["tuning"] != b["tuning"]:
        reasons.append(f"{a['tuning']} ≠ {b['tuning']}")
    if reasons:
        return result("differs", "; ".join(reasons))
    if compared < 2:
        return result("unknown", "family and parameter count are not both known on both sides")
    if bool(a.get("tuning")) != bool(b.get("tuning")):
        return result("unknown", "instruct vs base is known on one side only")
    return result("match", "same family and parameter count"
                  + (f", both {a['tuning']}" if a.get("tuning") else ""))


def compare_quantization(a: Mapping[str, Any], b: Mapping[str, Any]) -> DimensionMatch:
    qa, qb = a.get("quantization"), b.get("quantization")
    if not qa or not qb:
        return DimensionMatch("quantization", "unknown", str(qa or "?"), str(qb or "?"),
                              "a side does not name its quantization")
    same = str(qa).upper() == str(qb).upper()
    return DimensionMatch("quantization", "match" if same else "differs", str(qa), str(qb),
                          "" if same else f"{qa} ≠ {qb}")


def engine_family(engine: str | None) -> str | None:
    if not engine or engine in UNIDENTIFIED_ENGINES:
        return None
    return ENGINE_FAMILIES.get(engine, engine)


def compare_runtime(a: Setup, b: Setup) -> DimensionMatch:
    fa, fb = engine_family(a.engine), engine_family(b.engine)
    shown_a, shown_b = a.runtime_slug or a.engine or "?", b.runtime_slug or b.engine or "?"
    if fa is None or fb is None:
        return DimensionMatch("runtime", "unknown", shown_a, shown_b,
                              "an engine rla could not identify")
    if fa != fb:
        return DimensionMatch("runtime", "differs", shown_a, shown_b,
                              f"engine {a.engine} ≠ {b.engine}")
    reason = "same engine" if a.engine == b.engine else f"{a.engine} and {b.engine} are both {fa}"
    return DimensionMatch("runtime", "match", shown_a, shown_b, reason)


def _cpu_identity(hw: Mapping[str, Any]) -> tuple[str | None, int | None]:
    cpu = hw.get("cpu") or {}
    family = cpu.get("family") or cpu.get("brand")
    memory = hw.get("memory_bytes")
    tier = ram_tier_gb(memory) if isinstance(memory, int) and memory > 0 else None
    return family, tier


def compare_hardware(a: Mapping[str, Any], b: Mapping[str, Any]) -> DimensionMatch:
    slug_a, slug_b = str(a.get("hardware_slug") or "?"), str(b.get("hardware_slug") or "?")

    def result(status: DimStatus, reason: str) -> DimensionMatch:
        return DimensionMatch("hardware", status, slug_a, slug_b, reason)

    class_a, class_b = a.get("hw_class"), b.get("hw_class")
    if not class_a or not class_b:
        return result("unknown", "a side does not say what hardware it ran on")
    if class_a != class_b:
        return result("differs", f"{class_a} ≠ {class_b}")
    if class_a == "CPU_ONLY":
        (fam_a, tier_a), (fam_b, tier_b) = _cpu_identity(a), _cpu_identity(b)
        if not (fam_a and fam_b and tier_a and tier_b):
            return result("unknown", "CPU family or memory size is not known on both sides")
        if fam_a != fam_b:
            return result("differs", f"CPU family {fam_a} ≠ {fam_b}")
        if tier_a != tier_b:
            return result("differs", f"RAM tier {tier_a} GB ≠ {tier_b} GB")
        return result("match", f"CPU {fam_a}, {tier_a} GB RAM tier")
    if slug_a == "?" or slug_b == "?":
        return result("unknown", "a side has no GPU slug")
    if slug_a != slug_b:
        return result("differs", f"GPU {slug_a} ≠ {slug_b}")
    return result("match", f"GPU {slug_a}")


def compare_dimensions(original: Setup, local: Setup) -> tuple[DimensionMatch, ...]:
    return (compare_model(original.model, local.model),
            compare_quantization(original.model, local.model),
            compare_runtime(original, local),
            compare_hardware(original.hardware, local.hardware))
