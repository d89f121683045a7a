"""Chat-style prompts in process (llama-cpp-python) on a model that has a chat template.

The bundled gemma-3-270m is a base model without `tokenizer.chat_template`, so these tests copy
it once with Gemma 3's official template added (tests/support/gguf_edit.py) and run `rla bench
--prompt-style chat` on the copy. The prompt the model saw is checked by its token count: the
backend records it per sample, and it equals the count of the template-rendered conversation
(rendered here independently, the way transformers' apply_chat_template renders) and differs
from what a plain rendering, or the template's markers read as text, would give.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runlocalai_bench.evals import load_eval
from runlocalai_bench.results import rundir
from runlocalai_bench.runtime.gguf import read_gguf
from runlocalai_bench.types import DataSource, Prompt
from tests.runtime.fakes import ARR, STR, TINY_TENSORS, U32, gguf_bytes, tiny_llama_kv
from tests.support.cli import rla
from tests.support.gguf_edit import GEMMA3_CHAT_TEMPLATE, copy_with_strings, layout_of

TEMPLATE_KEY = "tokenizer.chat_template"


# Each run's printed output and the model's native logging go through run.log's descriptor tee,
# and a real model is loaded: every `rla` here is a real process (process=True).


def the_run(out: Path) -> rundir.RunDir:
    (path,) = [p for p in out.iterdir() if p.is_dir()]
    return rundir.RunDir(path)


def data_sha256(path: Path, offset: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        fh.seek(offset)
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def chat_gguf(gemma_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """gemma-3-270m with Gemma 3's chat template, written once for this module (~250 MB)."""
    path = tmp_path_factory.mktemp("chat-model") / "gemma-3-270m-chat-q4_k_m.gguf"
    copy_with_strings(gemma_gguf, path, {TEMPLATE_KEY: GEMMA3_CHAT_TEMPLATE})
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def vocab(chat_gguf: Path) -> Iterator[Any]:
    """The copy's tokenizer alone (vocab_only: no weights loaded)."""
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(chat_gguf), vocab_only=True, verbose=False)
    yield llm
    llm.close()


# ---------------------------------------------------------------------------------------------
# The copier


def test_copy_edits_keys_and_moves_the_data_section_unchanged(tmp_path: Path) -> None:
    """On a hand-written file with a 64-byte alignment: a replaced key stays in place, a new one
    comes last, the tensor data is byte-identical at its new aligned offset, and a copy with no
    edits is the same file byte for byte."""
    src = tmp_path / "tiny.gguf"
    kv = tiny_llama_kv(**{"general.alignment": (U32, 64),
                          "tokenizer.ggml.merges": (ARR, (STR, ["a b", "ab c"]))})
    raw = bytearray(gguf_bytes(kv, TINY_TENSORS, alignment=64))
    start = read_gguf(_write(src, bytes(raw))).data_offset
    raw[start:] = bytes((i * 7 + 3) % 251 for i in range(len(raw) - start))  # not all zeros
    _write(src, bytes(raw))
    before = read_gguf(src)

    same = copy_with_strings(src, tmp_path / "same.gguf", {})
    assert same.read_bytes() == src.read_bytes()

    new_template = "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}" * 3
    out = copy_with_strings(src, tmp_path / "out.gguf",
                            {TEMPLATE_KEY: new_template, "general.description": "edited"})
    after = read_gguf(out)
    assert after.metadata[TEMPLATE_KEY] == new_template
    assert after.metadata["general.description"] == "edited"
    assert list(after.metadata) == [*before.metadata, "general.description"]
    assert {k: v for k, v in after.metadata.items() if k not in (TEMPLATE_KEY,
            "general.description")} == {k: v for k, v in before.metadata.items()
                                        if k != TEMPLATE_KEY}
    assert (after.alignment, after.tensor_count, after.parameters) == (
        64, before.tensor_count, before.parameters)
    assert after.data_offset % 64 == 0 and after.data_offset > before.data_offset
    assert out.read_bytes()[after.data_offset:] == src.read_bytes()[before.data_offset:]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.integration
def test_real_model_copy_has_the_template_and_the_same_tensors(gemma_gguf: Path,
                                                               chat_gguf: Path,
                                                               vocab: Any) -> None:
    original, copy = read_gguf(gemma_gguf), read_gguf(chat_gguf)
    assert TEMPLATE_KEY not in original.metadata
    assert copy.metadata[TEMPLATE_KEY] == GEMMA3_CHAT_TEMPLATE
    assert {k: v for k, v in copy.metadata.items() if k != TEMPLATE_KEY} == dict(
        original.metadata)
    assert (copy.tensor_count, copy.parameters, copy.quantization) == (
        original.tensor_count, original.parameters, original.quantization)
    assert copy.data_offset % copy.alignment == 0 and copy.data_offset != original.data_offset
    a, b = layout_of(gemma_gguf), layout_of(chat_gguf)
    assert (b.infos_end - b.infos_start) == (a.infos_end - a.infos_start)
    assert data_sha256(chat_gguf, copy.data_offset) == data_sha256(gemma_gguf,
                                                                   original.data_offset)
    # llama.cpp reads the same template from the copy.
    assert vocab.metadata[TEMPLATE_KEY] == GEMMA3_CHAT_TEMPLATE


# ---------------------------------------------------------------------------------------------
# Chat-style runs


def render_gemma(prompt: Prompt) -> str:
    """The conversation through Gemma 3's template, rendered the way transformers renders chat
    templates (sandboxed, trim_blocks and lstrip_blocks), not through rla's code."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise ValueError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(GEMMA3_CHAT_TEMPLATE)
    return template.render(messages=[{"role": m.role, "content": m.content}
                                     for m in prompt.messages],
                           bos_token="<bos>", add_generation_prompt=True,
                           raise_exception=raise_exception)


def count(vocab: Any, text: str, *, special: bool, add_bos: bool) -> int:
    return len(vocab.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special))


@pytest.mark.integration
@pytest.mark.slow
def test_chat_run_in_process_renders_with_the_models_template(chat_gguf: Path, vocab: Any,
                                                              tmp_path: Path) -> None:
    proc = rla("bench", "mmlu-generative", "--sample", "--limit", "2", "--prompt-style", "chat",
               "--model-path", str(chat_gguf), "--output-dir", str(tmp_path), "--json",
               process=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["n"] == 2
    run = the_run(tmp_path)
    record = json.loads(run.record.read_text())
    assert record["benchmark"]["prompt_style"] == "chat"
    assert record["runtime"]["engine"] == "llama-cpp-python"
    # The record names the exact template text (sha256 of its UTF-8 bytes).
    assert record["model"]["chat_template_sha256"] == hashlib.sha256(
        GEMMA3_CHAT_TEMPLATE.encode("utf-8")).hexdigest()

    ev = load_eval("mmlu-generative")
    dataset = ev.load(DataSource(kind="bundled"))
    items = {item.id: item for item in dataset.items}
    samples = rundir.read_samples(run.samples)
    assert len(samples) == 2
    for sample in samples:
        assert sample["status"] != "error", sample["error"]
        prompt = ev.build_prompt(items[sample["id"]], dataset, "chat")
        rendered = render_gemma(prompt)
        assert rendered.startswith("<bos><start_of_turn>user\nThe following are")
        assert rendered.endswith("<end_of_turn>\n<start_of_turn>model\n")
        assert rendered.count("<start_of_turn>model\n") == len(prompt.messages) // 2 + 1
        expected = count(vocab, rendered, special=True, add_bos=False)
        seen = sample["generation"]["prompt_tokens"]
        assert seen == sample["server_timings"]["prompt_n"] == expected
        # What the count would be had the template been skipped (the plain log rendering), its
        # markers read as text, or a second BOS added: each differs, so the check above bites.
        assert count(vocab, prompt.rendered(), special=False, add_bos=True) != seen
        assert count(vocab, rendered, special=False, add_bos=False) != seen
        assert count(vocab, rendered, special=True, add_bos=True) == seen + 1


@pytest.mark.integration
def test_chat_style_on_a_model_without_a_template_is_refused(gemma_gguf: Path,
                                                             tmp_path: Path) -> None:
    """The base model has no template: rla says so and how to run it before it makes a run
    directory (nothing for a --resume to pick up)."""
    proc = rla("bench", "mmlu", "--sample", "--limit", "1", "--prompt-style", "chat",
               "--model-path", str(gemma_gguf), "--output-dir", str(tmp_path), process=True,
               timeout=900)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-2:] == [
        "error: this model has no chat template, so chat-style prompts cannot be rendered",
        "hint: use --prompt-style completion for base models",
    ]
    assert not any(tmp_path.iterdir())


@pytest.mark.integration
def test_a_chat_template_that_does_not_compile_is_a_model_file_error(chat_gguf: Path,
                                                                     tmp_path: Path) -> None:
    """llama-cpp-python compiles the template when it loads the model, whatever the style."""
    broken = copy_with_strings(chat_gguf, tmp_path / "broken.gguf",
                               {TEMPLATE_KEY: "{% for m in messages %}{{ m.content }"})
    try:
        proc = rla("bench", "mmlu", "--sample", "--limit", "1", "--model-path", str(broken),
                   "--output-dir", str(tmp_path / "out"), process=True, timeout=900)
    finally:
        broken.unlink()
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    error, hint = proc.stderr.strip().splitlines()[-2:]
    assert error.startswith(f"error: llama-cpp-python cannot load {broken}: its chat template")
    assert "does not compile" in error
    assert hint.startswith("hint: run the model under llama-server (--endpoint)")
    assert not (tmp_path / "out").exists()


@pytest.mark.integration
@pytest.mark.slow
def test_a_chat_template_that_refuses_the_conversation_stops_the_run(chat_gguf: Path,
                                                                     tmp_path: Path) -> None:
    """A template whose raise_exception fires on rla's messages fails every chat request: the
    run stops with the template's own message, and completion style still runs."""
    refusing = copy_with_strings(
        chat_gguf, tmp_path / "refusing.gguf",
        {TEMPLATE_KEY: "{{ raise_exception('Only one user turn is supported') }}"})
    try:
        chat = rla("bench", "mmlu", "--sample", "--limit", "1", "--prompt-style", "chat",
                   "--model-path", str(refusing), "--output-dir", str(tmp_path / "chat"),
                   process=True, timeout=900)
        completion = rla("bench", "mmlu", "--sample", "--limit", "1", "--model-path",
                         str(refusing), "--output-dir", str(tmp_path / "completion"),
                         process=True, timeout=900)
    finally:
        refusing.unlink()
    assert chat.returncode == 1
    assert "Traceback" not in chat.stderr and "internal error" not in chat.stderr
    assert chat.stderr.strip().splitlines()[-2:] == [
        "error: the model's chat template (tokenizer.chat_template) failed to render the"
        " prompt: ValueError: Only one user turn is supported",
        "hint: use --prompt-style completion, or fix the template in the GGUF"
        " (llama.cpp's gguf_new_metadata.py --chat-template-file replaces it)",
    ]
    assert not (tmp_path / "chat").exists() or not any((tmp_path / "chat").iterdir())
    assert completion.returncode == 0, completion.stderr
    assert len(rundir.read_samples(the_run(tmp_path / "completion").samples)) == 1
