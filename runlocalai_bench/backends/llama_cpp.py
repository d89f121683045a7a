"""llama-cpp-python in process: the embedded default when a GGUF is given with --model-path.

    LlamaCppBackend     generate. After the prompt is evaluated it reads the whole next-token
                        distribution: the top-k alternatives and the exact log-probabilities of
                        the prompt's candidate continuations (answer letters), then decodes
                        greedily with the stop sequences.
    InProcessStreamer   stream: Llama.create_completion(stream=True), each token's arrival
                        timed, with llama.cpp's perf counters reset before and read after

Every request starts from an empty KV cache (no prompt reuse across requests), so a sample's
output never depends on the one before it and every speed run prefills its whole prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from runlocalai_bench.backends.base import SpeedRequest, experts_from_metadata
from runlocalai_bench.errors import BackendError, ConfigError, ModelFileError
from runlocalai_bench.speed.measure import LLAMA_CPP_PERF, RawRun
from runlocalai_bench.types import (
    Generation,
    ModelInfo,
    Prompt,
    RuntimeInfo,
    SamplingParams,
    TokenLogprob,
)

INSTALL_HINT = "pip install 'runlocalai-bench[llama]'  (builds llama-cpp-python)"


def import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise ConfigError("in-process runs need llama-cpp-python, which is not installed",
                          hint=INSTALL_HINT) from exc
    return llama_cpp


class LlamaCppBackend:
    name = "llama-cpp-python"

    def __init__(
        self,
        model_path: Path,
        model_info: ModelInfo,
        *,
        sampling: SamplingParams | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
    ) -> None:
        llama_cpp = import_llama_cpp()
        if not model_path.is_file():
            raise ModelFileError(f"model file {model_path} does not exist",
                                 hint="pass --model-path with a .gguf file")
        self.sampling = sampling or SamplingParams()
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self._lock = threading.Lock()
        self._logits_stale = False
        import jinja2  # llama-cpp-python's own dependency: it compiles the GGUF's chat template

        # llama.cpp writes load-time notes straight to fd 2; show them only if loading fails.
        with _captured_stderr() as native:
            try:
                self._llm = llama_cpp.Llama(
                    model_path=str(model_path), n_ctx=n_ctx, n_threads=n_threads,
                    seed=self.sampling.seed, logits_all=False, verbose=False,
                )
            except (ValueError, RuntimeError, OSError, jinja2.TemplateError) as exc:
                failure: Exception | None = exc
            else:
                failure = None
        if isinstance(failure, jinja2.TemplateError):
            # Llama() compiles every chat template in the file, whatever the prompt style.
            raise ModelFileError(
                f"llama-cpp-python cannot load {model_path}: its chat template"
                f" (tokenizer.chat_template) does not compile: {failure}",
                hint="run the model under llama-server (--endpoint), or fix the template in the"
                " GGUF (llama.cpp's gguf_new_metadata.py --chat-template-file replaces it)",
            ) from failure
        if failure is not None:
            detail = native.text().strip().splitlines()[-1:] or [str(failure)]
            raise ModelFileError(f"llama.cpp could not load {model_path}: {detail[0]}",
                                 hint="is the file a complete GGUF? re-download it"
                                 ) from failure
        self._n_vocab = self._llm.n_vocab()
        self._chat_template = self._llm.metadata.get("tokenizer.chat_template")
        self._runtime = in_process_runtime(llama_cpp, self._llm, model_info, n_ctx=n_ctx,
                                           n_threads=n_threads)

    # -- description ----------------------------------------------------------------------

    def runtime(self) -> RuntimeInfo:
        return self._runtime

    def sent_params(self, prompt: Prompt) -> Mapping[str, Any]:
        if prompt.style == "chat":
            # The run's first prompt comes here before a run directory exists: a model that
            # cannot render chat prompts (no template, or one that refuses them) stops the run
            # before anything is written.
            self._prompt_text(prompt)
        s = self.sampling
        return {
            "temperature": s.temperature, "top_k": s.top_k, "top_p": s.top_p, "min_p": 0.0,
            "typical_p": 1.0, "repeat_penalty": 1.0, "frequency_penalty": 0.0,
            "presence_penalty": 0.0, "mirostat_mode": 0, "seed": s.seed, "n": s.n,
            "max_tokens": prompt.max_tokens, "stop": list(prompt.stop),
            "top_logprobs": prompt.top_logprobs, "candidates": list(prompt.candidates),
        }

    # -- generation -----------------------------------------------------------------------

    async def generate(self, prompt: Prompt) -> Generation:
        return await asyncio.to_thread(self._generate_sync, prompt)

    def _prompt_text(self, prompt: Prompt) -> str:
        if prompt.style == "completion":
            return prompt.text
        if not self._chat_template:
            raise BackendError(
                "this model has no chat template, so chat-style prompts cannot be rendered",
                hint="use --prompt-style completion for base models", fatal=True)
        import jinja2
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llm = self._llm
        messages: list[Any] = [{"role": m.role, "content": m.content} for m in prompt.messages]
        # The template is the model file's own Jinja code. One that refuses these messages (its
        # raise_exception is a ValueError) or fails while rendering fails every request alike.
        try:
            formatter = Jinja2ChatFormatter(
                template=self._chat_template,
                eos_token=llm.detokenize([llm.token_eos()], special=True).decode(
                    "utf-8", "replace"),
                bos_token=llm.detokenize([llm.token_bos()], special=True).decode(
                    "utf-8", "replace"),
                add_generation_prompt=True,
            )
            return str(formatter(messages=messages).prompt)
        except (jinja2.TemplateError, ValueError) as exc:
            raise BackendError(
                f"the model's chat template (tokenizer.chat_template) failed to render the"
                f" prompt: {type(exc).__name__}: {exc}",
                hint="use --prompt-style completion, or fix the template in the GGUF"
                " (llama.cpp's gguf_new_metadata.py --chat-template-file replaces it)",
                fatal=True) from exc

    def _generate_sync(self, prompt: Prompt) -> Generation:
        import numpy as np

        llm = self._llm
        with self._lock:
            started = time.perf_counter()
            text = self._prompt_text(prompt)
            # The chat template already carries the BOS token when it wants one.
            tokens = llm.tokenize(text.encode("utf-8"), add_bos=prompt.style == "completion",
                                  special=prompt.style == "chat")
            if len(tokens) + prompt.max_tokens > self.n_ctx:
                raise BackendError(
                    f"prompt of {len(tokens)} tokens + {prompt.max_tokens} to generate exceeds"
                    f" the context of {self.n_ctx}", hint="raise --n-ctx")
            llm.reset()
            self._logits_stale = False
            llm.eval(tokens)
            n_prompt = len(tokens)
            logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(self._n_vocab,))
            logprobs = _log_softmax(logits.astype(np.float64))
            top = self._top_k(logprobs, prompt.top_logprobs)
            candidates = self._candidates(prompt.candidates, tokens, logprobs)
            prefill_ms = (time.perf_counter() - started) * 1000.0
            if prompt.max_tokens <= 1:
                best = int(np.argmax(logprobs))
                out = llm.detokenize([best], prev_tokens=tokens).decode("utf-8", "replace")
                finish = "length"
                n_out = 1
                for stop in prompt.stop:
                    if stop and stop in out:
                        out, finish = out[: out.index(stop)], "stop"
            else:
                s = self.sampling
                if self._logits_stale:
                    llm.reset()
                completion = llm.create_completion(
                    prompt=tokens, max_tokens=prompt.max_tokens, temperature=s.temperature,
                    top_k=s.top_k, top_p=s.top_p, min_p=0.0, typical_p=1.0,
                    repeat_penalty=1.0, frequency_penalty=0.0, presence_penalty=0.0,
                    mirostat_mode=0, stop=list(prompt.stop) or None, seed=s.seed,
                )
                choice = completion["choices"][0]
                out = choice["text"]
                finish = choice.get("finish_reason")
                n_out = completion.get("usage", {}).get("completion_tokens")
            total_ms = (time.perf_counter() - started) * 1000.0
        return Generation(
            text=out, top_logprobs=top, candidate_logprobs=candidates, finish_reason=finish,
            prompt_tokens=n_prompt, completion_tokens=n_out, latency_ms=total_ms,
            server_timings={"prompt_n": n_prompt, "prompt_ms": round(prefill_ms, 3),
                            "predicted_n": n_out,
                            "predicted_ms": round(total_ms - prefill_ms, 3)},
        )

    def _top_k(self, logprobs: Any, k: int) -> tuple[TokenLogprob, ...]:
        import numpy as np

        if k <= 0:
            return ()
        idx = np.argpartition(-logprobs, min(k, len(logprobs) - 1))[:k]
        idx = idx[np.argsort(-logprobs[idx], kind="stable")]
        return tuple(TokenLogprob(self._piece(int(i)), float(logprobs[i])) for i in idx)

    def _piece(self, token: int) -> str:
        return self._llm.detokenize([token], special=True).decode("utf-8", "replace")

    def _candidates(self, candidates: tuple[str, ...], prompt_tokens: list[int],
                    logprobs: Any) -> tuple[TokenLogprob, ...] | None:
        """Exact log P(candidate | prompt) for each candidate continuation.

        A single-token candidate reads the distribution already computed. A multi-token one is
        scored token by token and the cache rolled back to the prompt afterwards.
        """
        if not candidates:
            return None
        llm = self._llm
        import numpy as np

        out = []
        for cand in candidates:
            ids = llm.tokenize(cand.encode("utf-8"), add_bos=False, special=False)
            if not ids:
                continue
            total = float(logprobs[ids[0]])
            for i in range(1, len(ids)):
                llm.eval([ids[i - 1]])
                step = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1),
                                             shape=(self._n_vocab,))
                total += float(_log_softmax(step.astype(np.float64))[ids[i]])
            if len(ids) > 1:
                # Roll back to the prompt; the next decode must not reuse these logits.
                llm.n_tokens = len(prompt_tokens)
                self._logits_stale = True
            out.append(TokenLogprob(cand, total))
        return tuple(out)

    async def aclose(self) -> None:
        close = getattr(self._llm, "close", None)
        if close is not None:
            close()


class InProcessStreamer:
    def __init__(self, model_path: Path, info: ModelInfo, *, sampling: SamplingParams,
                 n_ctx: int, n_threads: int | None) -> None:
        from runlocalai_bench.runtime.gguf import read_gguf

        self._llama_cpp = import_llama_cpp()
        self.sampling = sampling
        gguf = read_gguf(model_path)
        self.experts = experts_from_metadata(gguf.metadata, gguf.architecture)
        try:
            self._llm = self._llama_cpp.Llama(
                model_path=str(model_path), n_ctx=n_ctx, n_threads=n_threads,
                seed=sampling.seed, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelFileError(f"llama.cpp could not load {model_path}: {exc}",
                                 hint="is the file a complete GGUF? re-download it") from exc
        self.runtime = in_process_runtime(self._llama_cpp, self._llm, info, n_ctx=n_ctx,
                                          n_threads=n_threads)

    def tokenize(self, text: str) -> list[int] | None:
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=False))

    def body(self, request: SpeedRequest) -> dict[str, Any]:
        s = self.sampling
        return {
            "prompt": list(request.token_ids) if request.token_ids is not None
            else request.prompt,
            "max_tokens": request.n_predict, "temperature": s.temperature, "top_k": s.top_k,
            "top_p": s.top_p, "min_p": 0.0, "repeat_penalty": 1.0, "seed": request.seed,
            "stream": True, "ignore_eos": request.ignore_eos,
        }

    def _ban_eos(self) -> Any:
        import numpy as np

        eos = self._llm.token_eos()

        def processor(input_ids: Any, scores: Any) -> Any:
            scores[eos] = -np.inf
            return scores

        return self._llama_cpp.LogitsProcessorList([processor])

    def stream(self, request: SpeedRequest) -> RawRun:
        llm, lib = self._llm, self._llama_cpp
        body = self.body(request)
        prompt: Any = list(request.token_ids) if request.token_ids is not None else \
            llm.tokenize(request.prompt.encode("utf-8"), add_bos=True, special=False)
        llm.reset()  # no prefix reuse: every run prefills its whole prompt
        lib.llama_perf_context_reset(llm.ctx)
        text: list[str] = []
        arrivals: list[float] = []
        finish: str | None = None
        started = time.perf_counter()
        chunks = llm.create_completion(
            prompt=prompt, max_tokens=request.n_predict, temperature=self.sampling.temperature,
            top_k=self.sampling.top_k, top_p=self.sampling.top_p, min_p=0.0, typical_p=1.0,
            repeat_penalty=1.0, frequency_penalty=0.0, presence_penalty=0.0, mirostat_mode=0,
            seed=request.seed, stream=True,
            logits_processor=self._ban_eos() if request.ignore_eos else None,
        )
        for chunk in chunks:
            now = time.perf_counter()
            choice = chunk["choices"][0]
            piece = choice.get("text") or ""
            if piece:
                text.append(piece)
                arrivals.append((now - started) * 1000.0)
            finish = choice.get("finish_reason") or finish
        total = (time.perf_counter() - started) * 1000.0
        perf = lib.llama_perf_context(llm.ctx)
        engine = {name: getattr(perf, name) for name, _ in perf._fields_}
        # Every generated token but the last is fed back (a decode step); a run that stops at
        # an end-of-generation token has fed back all of its tokens.
        steps = int(engine.get("n_eval") or 0)
        generated = steps + 1 if finish == "length" and arrivals else steps
        return RawRun(
            text="".join(text), arrivals_ms=tuple(arrivals), total_ms=total, engine=engine,
            engine_format=LLAMA_CPP_PERF, prompt_tokens=len(prompt),
            completion_tokens=generated, finish_reason=finish, request=body,
        )

    def close(self) -> None:
        close = getattr(self._llm, "close", None)
        if close is not None:
            close()


def in_process_runtime(llama_cpp: Any, llm: Any, info: ModelInfo, *, n_ctx: int,
                       n_threads: int | None) -> RuntimeInfo:
    """The runtime a loaded Llama is: llama-cpp-python's version, one slot, no KV reuse, and
    the model with its chat template's sha256 when the GGUF carries one."""
    version = getattr(llama_cpp, "__version__", None)
    template = llm.metadata.get("tokenizer.chat_template")
    if template and info.chat_template_sha256 is None:
        info = replace(info, chat_template_sha256=hashlib.sha256(template.encode()).hexdigest())
    return RuntimeInfo(
        engine="llama-cpp-python", version=version,
        slug=f"llama-cpp-python-{version or 'unknown'}", model=info, slots=1, n_ctx=n_ctx,
        settings={"n_threads": llm.n_threads if hasattr(llm, "n_threads") else n_threads,
                  "n_batch": llm.n_batch, "kv_cache_reuse": False},
    )


def _log_softmax(logits: Any) -> Any:
    import numpy as np

    shifted = logits - np.max(logits)
    return shifted - np.log(np.sum(np.exp(shifted)))


class _Captured:
    def __init__(self, path: Path) -> None:
        self.path = path

    def text(self) -> str:
        return self.path.read_text(errors="replace") if self.path.exists() else ""


@contextlib.contextmanager
def _captured_stderr() -> Iterator[_Captured]:
    """Send fd 2 to a temporary file for the duration (native code included)."""
    with tempfile.TemporaryDirectory(prefix="rla-llama-") as tmp:
        captured = _Captured(Path(tmp) / "stderr.txt")
        sys.stderr.flush()
        saved = os.dup(2)
        fd = os.open(captured.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.dup2(fd, 2)
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(fd)
