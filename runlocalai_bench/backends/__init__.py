"""Backends: one narrow protocol, several real implementations.

    openai_compat.OpenAICompatBackend   any OpenAI-compatible HTTP server (llama-server, vLLM, ...)
    llama_cpp.LlamaCppBackend           llama-cpp-python in process (lazy import; extra `llama`)
    replay.ReplayBackend                a previous run's samples.jsonl, for rescoring and CI
    oracle.OracleBackend                answers every item correctly, for `rla selftest`
"""

from runlocalai_bench.backends.base import Backend

__all__ = ["Backend"]
