"""The engine layer: one client per server family, each offering generate (quality runs: the
first token's top logprobs) and stream (speed runs: token arrival times), over one HTTP policy.

    base.py            the Backend (generate) and Streamer (stream) protocols
    http.py            endpoint normalisation, clients, retries, keep-alive handling
    fields.py          the request fields beyond the OpenAI schema each engine gets
    openai_compat.py   OpenAI-compatible servers (llama-server, vLLM, LM Studio, ...)
    ollama.py          Ollama's native API
    llama_cpp.py       llama-cpp-python in process (lazy import; extra `llama`)
    factory.py         RunConfig → a probed, ready client, for quality and speed runs alike
    oracle.py          answers every item correctly, for `rla selftest`
    replay.py          a recorded samples.jsonl line as a Generation
"""

from runlocalai_bench.backends.base import Backend

__all__ = ["Backend"]
