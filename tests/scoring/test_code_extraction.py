"""Extracting the program from a model's reply: completions cut at stops, chat replies with
prose, thinking and several blocks, and real base-model completions."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from runlocalai_bench.scoring.code_extraction import clean, extract_program, sanitize
from tests.support.data import humanevalplus_dir

PROMPT = ('from typing import List\n\n\ndef double_all(xs: List[int]) -> List[int]:\n'
          '    """Double every number.\n    >>> double_all([1])\n    [2]\n    """\n')
STOPS = ("\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert ", "\nif __name__", "\nprint(")


def run_code(code: str, *args: Any) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(code, "<test>", "exec", dont_inherit=True), namespace)
    return namespace["double_all"](*args)


def chat(reply: str) -> str | None:
    return extract_program(reply, prompt=PROMPT, entry_point="double_all", style="chat").code


def test_completion_is_prompt_plus_body_cut_at_stops() -> None:
    body = "    return [2 * x for x in xs]\n\n\ndef check():\n    assert False\n"
    found = extract_program(body, prompt=PROMPT, entry_point="double_all", style="completion",
                            stops=STOPS)
    assert found.method == "completion" and found.code is not None
    assert "check" not in found.code and run_code(found.code, [1, 2]) == [2, 4]


@pytest.mark.parametrize("body", [
    "    return [2 * x for x in xs]\n\nThis doubles each element, as asked.\n",
    "    return [2 * x for x in xs]\n    # and now the end of the tokens: retu",
    "    out = [2 * x for x in xs]\n    return out\n    if (",
    "\x1b[32m    return [2 * x for x in xs]\x1b[0m\n",
])
def test_completion_survives_trailing_prose_truncation_and_ansi(body: str) -> None:
    found = extract_program(body, prompt=PROMPT, entry_point="double_all", style="completion",
                            stops=STOPS)
    assert found.code is not None and run_code(found.code, [3]) == [6]


def test_a_base_model_answering_in_markdown_is_read_like_chat() -> None:
    body = ("\n\nHere is the solution:\n```python\ndef double_all(xs):\n"
            "    return [x * 2 for x in xs]\n```\n")
    found = extract_program(body, prompt=PROMPT, entry_point="double_all", style="completion",
                            stops=STOPS)
    assert found.method == "fenced" and run_code(found.code or "", [4]) == [8]


def test_chat_reply_with_prose_thinking_and_two_blocks() -> None:
    reply = ("<think>Maybe:\n```python\ndef double_all(xs):\n    return xs\n```\nNo.</think>\n"
             "Sure! Here is a self-contained script:\n\n```python\n"
             "def helper(x):\n    return x * SCALE\n\nSCALE = 2\n\n"
             "def double_all(xs: List[int]) -> List[int]:\n    return [helper(x) for x in xs]\n"
             "```\n\nExample:\n```python\nprint(double_all([1, 2]))\nassert False\n```\n")
    code = chat(reply)
    assert code is not None and "print" not in code and "assert False" not in code
    assert "from typing import List" in code  # the prompt's import, added back
    assert run_code(code, [5]) == [10]


def test_chat_keeps_what_the_entry_point_reaches_and_drops_the_rest() -> None:
    reply = ("```python\nimport math\nfrom functools import lru_cache\n\n"
             "class Doubler:\n    def go(self, x):\n        return 2 * x\n\n"
             "def unused():\n    return 0\n\n@lru_cache(maxsize=None)\n"
             "def cached(x):\n    return Doubler().go(x)\n\n"
             "def double_all(xs):\n    return [cached(x) for x in xs]\n\n"
             "if __name__ == '__main__':\n    raise SystemExit(double_all([1]))\n```")
    code = chat(reply) or ""
    assert "unused" not in code and "__main__" not in code
    assert "@lru_cache" in code and "import math" in code
    assert run_code(code, [7]) == [14]


@pytest.mark.parametrize("reply", [
    "def double_all(xs):\n    return [2 * x for x in xs]\n",  # raw, no fences
    "The function:\n\ndef double_all(xs):\n    return [2 * x for x in xs]\n\nDone!",
    "```python\ndef double_all(xs):\n    return [2 * x for x in xs]\n",  # unclosed fence
    "thinking about it...\n</think>\n```py\ndef double_all(xs):\n    return [x + x for x in xs]"
    "\n```",
    "```\ndef double_all(xs):\n    return [x * 2 for x in xs]\n```",  # untagged fence
])
def test_chat_variants(reply: str) -> None:
    code = chat(reply)
    assert code is not None and run_code(code, [1, 2]) == [2, 4]


@pytest.mark.parametrize("reply", [
    "I cannot help with that.",
    "<think>def double_all(xs): return xs",  # all thinking, never closed
    "```python\ndef something_else(xs):\n    return xs\n```",
    "```javascript\nfunction double_all(xs) { return xs; }\n```",
    "",
])
def test_no_definition_means_no_program(reply: str) -> None:
    found = extract_program(reply, prompt=PROMPT, entry_point="double_all", style="chat")
    assert found.code is None and found.method == "none" and found.reason


GEMMA = Path(__file__).parent / "data" / "gemma-3-270m-humaneval.jsonl"


def test_real_base_model_completions() -> None:
    """gemma-3-270m's completions for HumanEval/0-7 through llama-server (greedy, the spec's
    stops and max_tokens): half ran to max_tokens mid-line, one is nothing but comments."""
    replies = [json.loads(line) for line in GEMMA.read_text().splitlines()]
    prompts = {}
    with gzip.open(humanevalplus_dir() / "HumanEvalPlus-v0.1.10.jsonl.gz", "rt") as fh:
        for line in fh:
            row = json.loads(line)
            prompts[row["task_id"]] = (row["prompt"], row["entry_point"])
    found = {}
    for reply in replies:
        prompt, entry_point = prompts[reply["id"]]
        found[reply["id"]] = extract_program(reply["response"], prompt=prompt,
                                             entry_point=entry_point, style="completion",
                                             stops=STOPS)
    for task_id, extraction in found.items():
        if extraction.code is not None:
            namespace: dict[str, Any] = {}
            exec(compile(extraction.code, task_id, "exec", dont_inherit=True), namespace)
            assert callable(namespace[prompts[task_id][1]])
    truncated = [r["id"] for r in replies if r["completion_tokens"] == 768]
    assert all(found[t].trimmed or found[t].code is None for t in truncated)
    assert found["HumanEval/4"].code is None  # 768 tokens of comments: no code at all
    assert found["HumanEval/0"].code is not None and not found["HumanEval/0"].trimmed


def test_clean_strips_thinking_and_escape_codes() -> None:
    assert clean("a<think>b</think>c\x1b[1mX\x1b[0m\r\n") == "acX\n"
    assert clean("thought</think>answer") == "answer"
    assert clean("answer<thinking>never closed") == "answer"


def test_sanitize_keeps_later_definitions_after_earlier_ones() -> None:
    code = "def f():\n    return 1\n\nprint(f())\n\ndef f():\n    return 2\n"
    namespace: dict[str, Any] = {}
    exec(sanitize(code, "f"), namespace)
    assert namespace["f"]() == 2
