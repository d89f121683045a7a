"""A Hugging Face model's quantization from its config.json, for servers that report none
(vLLM's /v1/models names the model and its root, not how its weights are stored).

The config is read only where it is this machine's file: the root as a local directory, or the
model's snapshot in this machine's Hugging Face cache (~/.cache/huggingface/hub), and only for
an endpoint on this machine (the caller's check). Names follow the leaderboard's quant families
(REFERENCE §1: GGUF Q4_K_M ≠ AWQ-int4 ≠ GPTQ-int4): AWQ-int4, GPTQ-int8, FP8, BNB-4bit; an
unquantized model its dtype, BF16 or F16.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_DTYPES = {"bfloat16": "BF16", "float16": "F16", "float32": "F32"}


def quantization_of_config(config: Mapping[str, Any]) -> str | None:
    """"AWQ-int4" for {"quantization_config": {"quant_method": "awq", "bits": 4}}; the dtype
    ("BF16") for a model stored unquantized; None when the config says neither."""
    quant = config.get("quantization_config")
    if isinstance(quant, Mapping):
        method = str(quant.get("quant_method") or "").lower()
        bits = quant.get("bits") or quant.get("w_bit")
        if method in ("awq", "gptq") and isinstance(bits, int):
            return f"{method.upper()}-int{bits}"
        if method == "fp8":
            return "FP8"
        if method == "bitsandbytes":
            return "BNB-4bit" if quant.get("load_in_4bit") else "BNB-8bit"
        return method.upper() or None
    dtype = config.get("torch_dtype") or config.get("dtype")
    return _DTYPES.get(str(dtype)) if dtype else None


def local_config(root: str | None, hub: Path | None = None) -> Mapping[str, Any] | None:
    """config.json of `root` (a directory, or a hub id's newest snapshot in `hub`, by default
    ~/.cache/huggingface/hub), if it is on this machine."""
    if not root:
        return None
    hub = hub or Path.home() / ".cache" / "huggingface" / "hub"
    candidates = [Path(root) / "config.json"]
    if "/" in root and not Path(root).is_absolute():
        snapshots = hub / f"models--{root.replace('/', '--')}" / "snapshots"
        if snapshots.is_dir():
            candidates += sorted(snapshots.glob("*/config.json"),
                                 key=lambda p: p.stat().st_mtime, reverse=True)
    for path in candidates:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, Mapping):
            return data
    return None
