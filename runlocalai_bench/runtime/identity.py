"""Which model a server run measured: the weights' sha256 where the file can be read, and
whether the file's size fits the quantization claimed for it.

    weights_sha256     the served GGUF's sha256 when the endpoint is this machine and the
                       server's model path is a file here (llama-server /props model_path),
                       through model_file's cache (path, size, mtime): hashed once per file
    ollama_blob        Ollama names its weights by their sha256: the FROM blob of /api/show's
                       modelfile is the GGUF's own digest
    bits_reasons       bits per weight (size × 8 ÷ parameters) against the claimed
                       quantization's plausible range

The range is a sanity check against a file of another kind entirely (an F16 file claimed as
Q4_K_M), not a tell between neighbours: llama.cpp keeps some tensors at higher precision, and a
small model's embedding table (gemma-3-270m: 7.6 bits per weight at Q4_K_M) weighs heavily.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from runlocalai_bench.runtime.locality import is_local_endpoint
from runlocalai_bench.runtime.model_file import sha256_file
from runlocalai_bench.types import RuntimeInfo

# Nominal bits per weight of llama.cpp's file types (llama.cpp's quantize tool and its
# README's tables); the plausible range is BITS_LOW..BITS_HIGH times the nominal figure.
NOMINAL_BITS: Mapping[str, float] = {
    "F32": 32.0, "F16": 16.0, "BF16": 16.0, "Q8_0": 8.5, "Q6_K": 6.56, "Q5_1": 6.0,
    "Q5_0": 5.5, "Q5_K_M": 5.69, "Q5_K_S": 5.54, "Q4_1": 5.0, "Q4_0": 4.5, "Q4_K_M": 4.89,
    "Q4_K_S": 4.58, "IQ4_NL": 4.5, "IQ4_XS": 4.25, "Q3_K_L": 4.27, "Q3_K_M": 3.91,
    "Q3_K_S": 3.5, "IQ3_M": 3.66, "IQ3_S": 3.44, "IQ3_XS": 3.3, "IQ3_XXS": 3.06, "Q2_K": 2.96,
    "Q2_K_S": 2.6, "IQ2_M": 2.7, "IQ2_S": 2.5, "IQ2_XS": 2.31, "IQ2_XXS": 2.06, "IQ1_M": 1.75,
    "IQ1_S": 1.56,
}  # fmt: skip
BITS_LOW, BITS_HIGH = 0.8, 1.6

_BLOB = re.compile(r"(?m)^FROM\s+\S*sha256[-:]([0-9a-f]{64})\s*$")


def ollama_blob(modelfile: str | None) -> str | None:
    """The sha256 of the GGUF an Ollama model is made FROM (its blob's name), if shown."""
    found = _BLOB.search(modelfile or "")
    return found.group(1) if found else None


def with_weights_sha256(runtime: RuntimeInfo, endpoint: str, cache_dir: Path) -> RuntimeInfo:
    """`runtime` with its model's sha256, hashed from the served file when the server runs on
    this machine and its model path is a file here; unchanged otherwise (a path on another
    machine is not this machine's file, whatever it holds)."""
    model = runtime.model
    if model.sha256 or not model.path or not is_local_endpoint(endpoint):
        return runtime
    if not Path(model.path).is_file():
        return runtime
    return replace(runtime, model=replace(model, sha256=sha256_file(model.path,
                                                                    cache_dir=cache_dir)))


def bits_per_weight(size_bytes: int | None, parameters: int | None) -> float | None:
    if not size_bytes or not parameters:
        return None
    return size_bytes * 8.0 / parameters


def bits_reasons(quantization: str | None, size_bytes: int | None,
                 parameters: int | None) -> list[str]:
    """One line when the file's bits per weight fall outside the claimed quantization's range;
    nothing when either is unknown (AWQ, GPTQ and MLX names have no GGUF figure)."""
    bits = bits_per_weight(size_bytes, parameters)
    nominal = NOMINAL_BITS.get(quantization or "")
    if bits is None or nominal is None:
        return []
    low, high = nominal * BITS_LOW, nominal * BITS_HIGH
    if low <= bits <= high:
        return []
    return [f"the model file has {bits:.2f} bits per weight ({size_bytes} bytes for"
            f" {parameters} parameters), outside {low:.1f}–{high:.1f} for the claimed"
            f" {quantization}: the quantization or the model is not what the row says"]
