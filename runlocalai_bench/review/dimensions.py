"""The four dimensions a reproduction must match (REFERENCE §1), compared between two records.

    model         family (architecture), parameter count, instruct vs base
    quantization  the same quant by name: GGUF Q4_K_M ≠ Q6_K ≠ AWQ-int4 ≠ GPTQ-int4
    runtime       the same engine; llama.cpp, Ollama and llama-cpp-python are all llama.cpp
                  underneath and count as one, vLLM is its own
    hardware      the same GPU SKU(s); CPU-only runs: the same CPU family and RAM tier

Each comparison is `match`, `differs`, or `unknown` when a side does not say. Only four matches
make a reproduction; anything else is a related benchmark. Pure functions over the typed record's
model, runtime and hardware.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from runlocalai_bench.results.recordtypes import Model, Record
from runlocalai_bench.rig.catalog import ram_tier_gb
from runlocalai_bench.types import RigInfo

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

    model: Model
    engine: str | None
    runtime_slug: str | None
    hardware: RigInfo


@dataclass(frozen=True)
class DimensionMatch:
    name: str
    status: DimStatus
    original: str
    local: str
    reason: str = ""


def setup_of(record: Record) -> Setup:
    return Setup(model=record.model, engine=record.runtime.engine,
                 runtime_slug=record.runtime.slug, hardware=record.hardware)


def _params(n: int | None) -> str:
    if not isinstance(n, int) or n <= 0:  # an integral float decodes as an int field
        return "?"
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M"


def describe_model(model: Model) -> str:
    parts = [str(model.family or model.slug or "?"), _params(model.parameters),
             str(model.tuning or "base/instruct ?")]
    return " ".join(parts)


def compare_model(a: Model, b: Model) -> DimensionMatch:
    desc_a, desc_b = describe_model(a), describe_model(b)

    def result(status: DimStatus, reason: str) -> DimensionMatch:
        return DimensionMatch("model", status, desc_a, desc_b, reason)

    if a.file_sha256 and a.file_sha256 == b.file_sha256:
        return result("match", "the same model file (sha256)")
    reasons: list[str] = []
    compared = 0
    if a.family and b.family:
        compared += 1
        if a.family.lower() != b.family.lower():
            reasons.append(f"family {a.family} ≠ {b.family}")
    elif a.slug and b.slug:
        compared += 1
        if a.slug != b.slug:
            reasons.append(f"model {a.slug} ≠ {b.slug}")
    pa, pb = a.parameters, b.parameters
    if isinstance(pa, int) and isinstance(pb, int) and pa > 0 and pb > 0:
        compared += 1
        if abs(pa - pb) / max(pa, pb) > PARAMETER_TOLERANCE:
            reasons.append(f"parameters {_params(pa)} ≠ {_params(pb)}")
    if a.tuning and b.tuning and a.tuning != b.tuning:
        reasons.append(f"{a.tuning} ≠ {b.tuning}")
    if reasons:
        return result("differs", "; ".join(reasons))
    if compared < 2:
        return result("unknown", "family and parameter count are not both known on both sides")
    if bool(a.tuning) != bool(b.tuning):
        return result("unknown", "instruct vs base is known on one side only")
    return result("match", "same family and parameter count"
                  + (f", both {a.tuning}" if a.tuning else ""))


def compare_quantization(a: Model, b: Model) -> DimensionMatch:
    qa, qb = a.quantization, b.quantization
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


def _cpu_identity(hw: RigInfo) -> tuple[str | None, int | None]:
    family = hw.cpu.family or hw.cpu.brand
    memory = hw.memory_bytes
    tier = ram_tier_gb(memory) if isinstance(memory, int) and memory > 0 else None
    return family, tier


def compare_hardware(a: RigInfo, b: RigInfo) -> DimensionMatch:
    slug_a, slug_b = a.hardware_slug or "?", b.hardware_slug or "?"

    def result(status: DimStatus, reason: str) -> DimensionMatch:
        return DimensionMatch("hardware", status, slug_a, slug_b, reason)

    class_a, class_b = a.hw_class, b.hw_class
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
