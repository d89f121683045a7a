"""HumanEval+ scoring: EvalPlus's comparison rules, extraction from messy replies, the Eval on
real tasks (bundled sample) and on small tasks written here to pin one rule each, and, marked
slow, all 164 canonical solutions on the full data set."""

from __future__ import annotations

import copy
import gzip
import json
import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from runlocalai_bench.evals import load_task_spec
from runlocalai_bench.scoring.code_execution import (
    CodeExecutionEval,
    Opaque,
    aggregate_pass_at_1,
    allclose,
    decode_value,
    has_nan,
    is_floats,
    outputs_match,
    payload_traits,
    poly_root_ok,
    reference_dir,
)
from runlocalai_bench.scoring.code_extraction import clean, extract_program, sanitize
from runlocalai_bench.scoring.sandbox import Sandbox, encode_value
from runlocalai_bench.types import (
    CodeItem,
    DataSource,
    Generation,
    SampleResult,
    to_dict,
)

# -- comparing values ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    0, -7, 2**63, -(2**200), pytest.param(10**5000, id="10**5000"), 1.5, -0.0, float("inf"),
    "text", "ü\ud800", "", None, True, [1, [2, (3,)]], (1, 2.5), {"a": 1, 2: [3]},
    {(1, 2): "k"}, {1, 2}, frozenset({3}), 1 + 2j, b"\x00\xff", bytearray(b"ab"), [1.5] * 100,
    list(range(100)), [1, 2.5] * 50, [2**60 + 1] + [1.0] * 99, [], (), {},
])
def test_values_survive_the_wire(value: Any) -> None:
    decoded = decode_value(encode_value(value))
    assert decoded == value
    assert type(decoded) is (bytes if isinstance(value, bytearray) else type(value))


def test_subclasses_travel_as_their_builtin_value_and_others_as_opaque() -> None:
    class LyingInt(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    class Liar:
        def __eq__(self, other: object) -> bool:
            return True

    assert decode_value(encode_value(LyingInt(3))) == 3
    assert decode_value(encode_value(LyingInt(3))) != 4
    opaque = decode_value(encode_value(Liar()))
    assert isinstance(opaque, Opaque) and opaque != opaque and not outputs_match(opaque, 1, 0,
                                                                                1e-7)


@pytest.mark.parametrize("payload", [
    b"", b"[", b'{"~":"d","v":[[[1],2]]}', b'{"~":"i","v":"zz"}', b'{"~":"n","v":["",":"]}',
    b'{"~":"zzz"}', b"[" * 100_000 + b"]" * 100_000, b"1" * 5000,
])
def test_garbage_decodes_to_something_equal_to_nothing(payload: bytes) -> None:
    value = decode_value(payload)
    assert isinstance(value, Opaque)
    assert not outputs_match(value, 1, 1e-6, 1e-7)


def test_outputs_match_follows_evalplus() -> None:
    assert outputs_match(1, 1.0, 0, 1e-7)  # == says so
    assert outputs_match(True, 1, 0, 1e-7)
    assert not outputs_match([1, 2], (1, 2), 1e-6, 1e-7)  # tuple is not list, even with atol
    assert not outputs_match(0.1 + 0.2, 0.3, 0, 1e-7)  # atol 0: exact
    assert outputs_match(0.1 + 0.2, 0.3, 1e-6, 1e-7)
    assert not outputs_match(1.0000001, 1, 1e-6, 1e-7)  # close, but float is not int
    assert outputs_match([1.0, 2.0000001], [1.0, 2.0], 1e-6, 1e-7)
    assert not outputs_match([1.0, 2.1], [1.0, 2.0], 1e-6, 1e-7)
    assert not outputs_match([1.0], [1.0, 2.0], 1e-6, 1e-7)
    assert not outputs_match(["a"], ["b"], 1e-6, 1e-7)  # numpy refuses strings
    assert not outputs_match(float("nan"), float("nan"), 1e-6, 1e-7)
    assert outputs_match(float("inf"), float("inf"), 1e-6, 1e-7)
    assert allclose(1e9 + 50, 1e9, 1e-6, 1e-7)  # rtol scales with the expected value


@pytest.mark.parametrize("value", [
    1.5, float("nan"), [1.0] * 100, [1.0] * 99 + [float("nan")], [1.0, float("inf")] * 40,
    [float("inf"), float("-inf")] * 40, [1, 2.0] * 50, list(range(100)), "NaN", ["x", 1.0],
    (1.0, 2.0), {"k": float("nan")}, [[float("nan")]], 3, None, [], [1e308] * 100,
])
def test_payload_traits_agree_with_decoding(value: Any) -> None:
    payload = encode_value(value)
    assert payload_traits(payload, True) == (is_floats(value), has_nan(value), False)
    assert payload_traits(encode_value(Opaque("x")), True)[2]


def test_is_floats() -> None:
    assert is_floats(1.0) and is_floats([1.0, 2.0]) and is_floats((0.5,))
    assert not is_floats(1) and not is_floats([]) and not is_floats([1.0, 2])


def test_poly_root_is_checked_like_evalplus() -> None:
    # (x - 1)(x + 2)(x - 3) = x^3 - 2x^2 - 5x + 6: coefficients from x^0 up
    coefficients = [6, -5, -2, 1]
    assert poly_root_ok([coefficients], 1.0, 1e-4)
    assert poly_root_ok([coefficients], -2.0, 1e-4)  # any root will do
    assert not poly_root_ok([coefficients], 0.0, 1e-4)
    assert not poly_root_ok([coefficients], "1", 1e-4)
    assert not poly_root_ok([coefficients], 1e308, 1e-4)


# -- extraction ---------------------------------------------------------------------------------

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


# -- the Eval -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def evaluator(tmp_path_factory: pytest.TempPathFactory) -> CodeExecutionEval:
    """The humaneval-plus spec with short time limits and a small memory limit, so hostile
    solutions fail fast; a private reference cache."""
    spec = load_task_spec("humaneval-plus")
    data = copy.deepcopy(dict(spec.data))
    data["scoring"].update(time_limit_floor_s=0.5, task_timeout_s=3.0, task_timeout_grace_s=0.5)
    data["sandbox"]["memory_mb"] = 512
    ev = CodeExecutionEval(replace(spec, data=data), cache_dir=tmp_path_factory.mktemp("cache"),
                           workers=2)
    yield ev
    ev.close()


@pytest.fixture(scope="module")
def sample(evaluator: CodeExecutionEval) -> dict[str, CodeItem]:
    dataset = evaluator.load(DataSource(kind="bundled"))
    return {item.id: item for item in dataset.items}  # type: ignore[misc]


def task(task_id: str, canonical: str, base: list[list[Any]], plus: list[list[Any]],
         atol: float = 0.0) -> CodeItem:
    return CodeItem(id=task_id, subtask="humaneval", prompt="def f(x):\n",
                    entry_point="f", canonical_solution=canonical, base_input=tuple(base),
                    plus_input=tuple(plus), atol=atol)


def score(ev: CodeExecutionEval, item: CodeItem, text: str,
          style: str = "completion") -> SampleResult:
    prompt = ev.build_prompt(item, None, style)  # type: ignore[arg-type]
    return ev.score(item, prompt, Generation(text=text))


@pytest.mark.parametrize("style", ["completion", "chat"])
def test_canonical_solutions_of_the_sample_pass(evaluator: CodeExecutionEval,
                                                sample: dict[str, CodeItem], style: str) -> None:
    for item in sample.values():
        prompt = evaluator.build_prompt(item, None, style)  # type: ignore[arg-type]
        result = evaluator.score(item, prompt, evaluator.reference_generation(item, prompt))
        assert (result.status, result.details["base"], result.details["plus"]) == (
            "pass", "pass", "pass"), (item.id, result.details)
        assert result.score == 1.0 and result.details["isolation"] == evaluator.isolation().level


def test_find_zero_passes_with_the_intended_oracle(evaluator: CodeExecutionEval,
                                                   sample: dict[str, CodeItem]) -> None:
    item = sample["HumanEval/32"]
    # Newton from 0.5 first: another root than the canonical one on most inputs.
    other = (
        '    dxs = [c * i for i, c in enumerate(xs)][1:]\n'
        '    x = 0.5\n'
        '    for _ in range(100):\n'
        '        fx, d = poly(xs, x), poly(dxs, x)\n'
        '        if abs(fx) < 1e-9 or d == 0:\n'
        '            break\n'
        '        x -= fx / d\n'
        '    if abs(poly(xs, x)) < 1e-9:\n'
        '        return x\n'
        '    x = 0\n'
        '    for _ in range(1000):\n'
        '        fx = poly(xs, x)\n'
        '        if abs(fx) < 1e-5:\n'
        '            break\n'
        '        x = x - fx / poly(dxs, x)\n'
        '    return x\n'
    )
    namespace: dict[str, Any] = {}
    exec(item.prompt + item.canonical_solution, namespace)
    canonical, poly = namespace["find_zero"], namespace["poly"]
    exec(item.prompt + other, namespace)
    roots = [namespace["find_zero"](*json.loads(json.dumps(args))) for args in item.plus_input]
    differ = sum(abs(root - canonical(*json.loads(json.dumps(args)))) > 1e-3
                 for root, args in zip(roots, item.plus_input, strict=True))
    assert differ > 50 and all(abs(poly(args[0], root)) <= item.atol
                               for root, args in zip(roots, item.plus_input, strict=True))
    assert score(evaluator, item, other).status == "pass"
    wrong = score(evaluator, item, "    return 0.0\n")
    assert wrong.status == "fail" and wrong.details["first_failure"]["reason"] == (
        "not a root within atol")


def test_a_lookup_of_the_base_answers_fails_plus(evaluator: CodeExecutionEval,
                                                 sample: dict[str, CodeItem]) -> None:
    item = sample["HumanEval/55"]
    namespace: dict[str, Any] = {}
    exec(item.prompt + item.canonical_solution, namespace)
    answers = {args[0]: namespace["fib"](*args) for args in item.base_input}
    result = score(evaluator, item, f"    return {answers!r}[n]\n")
    assert result.details["base"] == "pass" and result.details["plus"] == "fail"
    failure = result.details["first_failure"]
    first_unknown = next(i for i, args in enumerate(item.plus_input) if args[0] not in answers)
    assert failure["set"] == "plus" and failure["index"] == first_unknown
    assert failure["reason"].startswith("raised KeyError")
    assert failure["input"] == repr(item.plus_input[first_unknown])


def test_float_outputs_get_the_tasks_tolerance(evaluator: CodeExecutionEval,
                                               sample: dict[str, CodeItem]) -> None:
    item = sample["HumanEval/2"]  # atol 1e-6
    assert score(evaluator, item, "    return number % 1.0 + 1e-9\n").status == "pass"
    wrong = score(evaluator, item, "    return number % 1.0 + 1e-3\n")
    assert wrong.status == "fail" and wrong.details["plus"] is None
    assert wrong.details["first_failure"] == {"set": "base", "index": 0,
                                              "reason": "wrong output",
                                              "input": repr(item.base_input[0])}


def test_float_tolerance_is_sticky_from_the_first_float_output(
        evaluator: CodeExecutionEval) -> None:
    # expected: [0.5, 0.25] (floats: tolerance 1e-6 from here on), then [1, 0.5] (mixed)
    canonical = "    return [1 / x, 0.5 / x] if x > 1 else [1, 0.5]\n"
    # (each input set starts afresh, as EvalPlus checks base and plus in separate calls)
    floats_first = task("T/sticky", canonical, [[2], [1]], [[3], [1]])
    mixed_first = task("T/not-sticky", canonical, [[1], [2]], [[1], [3]])
    near = "    return [1 / x, 0.5 / x] if x > 1 else [1, 0.5000001]\n"
    assert score(evaluator, floats_first, near).status == "pass"
    assert score(evaluator, mixed_first, near).status == "fail"


@pytest.mark.parametrize(("body", "reason"), [
    ("    class Liar:\n        def __eq__(self, o):\n            return True\n"
     "    return Liar()\n", "wrong output"),
    ("    class LyingInt(int):\n        def __eq__(self, o):\n            return True\n"
     "    return LyingInt(-1)\n", "wrong output"),
    ("    import json\n    json.dumps = lambda *a, **k: '5'\n    return -1\n", "wrong output"),
    ("    import builtins\n    builtins.isinstance = lambda *a: True\n    return -1\n",
     "wrong output"),
    ("    import sys\n    sys.exit(0)\n", "raised SystemExit: 0"),
    ("    import os\n    os._exit(3)\n", "ended before returning all outputs (exit code 3)"),
    ("    import os\n    os._exit(0)\n", "ended before returning all outputs"),
    ("    while True:\n        pass\n", "timed out"),
    ("    return undefined_name\n", "raised NameError: name 'undefined_name' is not defined"),
])
def test_hostile_or_broken_solutions_fail(evaluator: CodeExecutionEval, body: str,
                                          reason: str) -> None:
    item = task("T/square", "    return x * x\n", [[2], [3]], [[4]])
    result = score(evaluator, item, body)
    assert result.status == "fail" and result.score == 0.0
    assert result.details["first_failure"]["reason"] == reason
    assert result.details["base"] == ("timeout" if reason == "timed out" else "fail")


def test_a_solution_cannot_read_the_expected_outputs(evaluator: CodeExecutionEval,
                                                      sample: dict[str, CodeItem]) -> None:
    """At a level that confines files the cache is out of sight; at the rlimits level (no file
    confinement) the same cheat works, which shows the test would catch a leak."""
    item = sample["HumanEval/63"]
    evaluator.reference(item, "base")
    folder = reference_dir(evaluator.cache_root)
    cheat = (
        "    import glob, gzip, json\n"
        "    fibfib.calls = getattr(fibfib, 'calls', -1) + 1\n"
        f"    for path in sorted(glob.glob({str(folder)!r} + '/*-base.jsonl.gz')):\n"
        "        with gzip.open(path) as fh:\n"
        "            if json.loads(fh.readline())['task'] == 'HumanEval/63':\n"
        "                return json.loads(fh.readlines()[fibfib.calls])\n"
        "    raise LookupError('no cache in sight')\n")
    if evaluator.isolation().confines_files:
        result = score(evaluator, item, cheat)
        assert result.details["base"] == "fail"
        assert result.details["first_failure"]["reason"] == "raised LookupError: no cache in sight"
    if os.geteuid() == 0:
        pytest.skip("under root, rlimits jobs are nobody (65534) and cannot read root's cache "
                    "either: no level here leaks it")
    with Sandbox(workers=1, level="rlimits") as unconfined:
        leaky = CodeExecutionEval(evaluator.spec, sandbox=unconfined,
                                  cache_dir=evaluator.cache_root)
        assert score(leaky, item, cheat).details["base"] == "pass"


def test_a_lying_subclass_with_the_right_value_still_passes(evaluator: CodeExecutionEval) -> None:
    item = task("T/square", "    return x * x\n", [[2], [3]], [[4]])
    body = ("    class LyingInt(int):\n        def __eq__(self, o):\n            return False\n"
            "    return LyingInt(x * x)\n")
    assert score(evaluator, item, body).status == "pass"


def test_numpy_scalars_compare_by_value(evaluator: CodeExecutionEval) -> None:
    pytest.importorskip("numpy")
    item = task("T/half", "    return x / 2\n", [[3]], [[5]])
    assert score(evaluator, item, "    import numpy\n    return numpy.float64(x) / 2\n"
                 ).status == "pass"


def test_unparsed_and_load_errors(evaluator: CodeExecutionEval) -> None:
    item = task("T/square", "    return x * x\n", [[2]], [[4]])
    unparsed = score(evaluator, item, "I don't know.", style="chat")
    assert unparsed.status == "unparsed" and unparsed.extracted is None
    assert unparsed.details["base"] is None
    broken = score(evaluator, item, "```python\nimport no_such_module\n"
                                    "def f(x):\n    return x * x\n```", style="chat")
    assert broken.status == "fail"
    assert broken.details["first_failure"]["reason"].startswith(
        "did not load: ModuleNotFoundError")
    assert broken.details["first_failure"]["index"] is None


def test_prompts(evaluator: CodeExecutionEval, sample: dict[str, CodeItem]) -> None:
    item = sample["HumanEval/55"]
    completion = evaluator.build_prompt(item, None, "completion")  # type: ignore[arg-type]
    assert completion.text == item.prompt and "\ndef " in completion.stop
    assert completion.max_tokens == 768
    conversation = evaluator.build_prompt(item, None, "chat")  # type: ignore[arg-type]
    (message,) = conversation.messages
    assert message.role == "user" and not conversation.stop
    assert message.content == ("Please provide a self-contained Python script that solves the "
                               f"following problem in a markdown code block:\n```\n"
                               f"{item.prompt.strip()}\n```\n")


def test_references_are_cached_and_recomputed_when_damaged(
        evaluator: CodeExecutionEval, sample: dict[str, CodeItem]) -> None:
    item = sample["HumanEval/41"]
    prompt = evaluator.build_prompt(item, None, "completion")  # type: ignore[arg-type]
    assert evaluator.score(item, prompt, evaluator.reference_generation(item, prompt)
                           ).status == "pass"
    folder = reference_dir(evaluator.cache_root)
    files = sorted(folder.glob("*.jsonl.gz"))
    stamps = {path: path.stat().st_mtime_ns for path in files}
    again = CodeExecutionEval(evaluator.spec, cache_dir=evaluator.cache_root, workers=1)
    try:
        assert again.score(item, prompt, again.reference_generation(item, prompt)
                           ).status == "pass"
        assert {path: path.stat().st_mtime_ns for path in files} == stamps
        plus = next(p for p in files if again.reference(item, "plus").path == p)
        plus.write_bytes(b"not gzip")
        fresh = CodeExecutionEval(evaluator.spec, cache_dir=evaluator.cache_root, workers=1)
        try:
            assert fresh.score(item, prompt, fresh.reference_generation(item, prompt)
                               ).status == "pass"
            with gzip.open(plus, "rb") as fh:
                header = json.loads(fh.readline())
            assert header["task"] == "HumanEval/41" and len(header["times"]) == len(
                item.plus_input)
        finally:
            fresh.close()
    finally:
        again.close()


def test_concurrent_scoring_computes_each_reference_once(tmp_path: Path,
                                                         evaluator: CodeExecutionEval,
                                                         sample: dict[str, CodeItem]) -> None:
    ev = CodeExecutionEval(evaluator.spec, cache_dir=tmp_path, workers=2)
    item = sample["HumanEval/63"]
    prompt = ev.build_prompt(item, None, "completion")  # type: ignore[arg-type]
    results: list[str] = []

    def work() -> None:
        results.append(ev.score(item, prompt, ev.reference_generation(item, prompt)).status)

    try:
        threads = [threading.Thread(target=work) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        ev.close()
    assert results == ["pass"] * 6
    assert len(list(reference_dir(tmp_path).glob("*.jsonl.gz"))) == 2
    assert not list(reference_dir(tmp_path).glob("*.part"))


def test_aggregate_reports_base_and_plus(evaluator: CodeExecutionEval) -> None:
    def row(status: str, base: str | None) -> SampleResult:
        return SampleResult(id="x", subtask="humaneval", prompt="", response="", target="f",
                            extracted=None, score=1.0 if status == "pass" else 0.0,
                            status=status, details={"base": base})

    samples = [row("pass", "pass"), row("pass", "pass"), row("fail", "pass"),
               row("fail", "fail"), row("unparsed", None), row("error", None)]
    # as the pipeline reads them back from samples.jsonl
    samples = [SampleResult(**to_dict(s)) for s in samples]
    results = evaluator.aggregate(samples, expected_n=10)
    assert results.metric == "pass@1" and results.n == 6 and results.partial
    assert results.score == pytest.approx(2 / 6)
    assert results.extra["pass@1_base"] == pytest.approx(3 / 6)
    assert [(s.name, s.correct) for s in results.subtasks] == [("base", 3.0), ("plus", 2.0)]
    assert results.counts["pass"] == 2 and results.counts["unparsed"] == 1
    assert results.counts["error"] == 1
    assert aggregate_pass_at_1([], 0, slug="x").score == 0.0


def test_provenance_names_the_isolation(evaluator: CodeExecutionEval,
                                        sample: dict[str, CodeItem]) -> None:
    evaluator.reference(sample["HumanEval/55"], "base")
    record = evaluator.provenance()
    assert record["isolation"]["level"] == evaluator.isolation().level
    assert "HumanEval/55/base" in record["reference_seconds"]
    assert record["time_limit_floor_s"] == 0.5


# -- the full data set ----------------------------------------------------------------------------


def humanevalplus_dir() -> Path:
    path = Path(os.environ.get("RLA_TEST_DATA", "/work/shared/data")) / "humanevalplus"
    if not (path / "HumanEvalPlus-v0.1.10.jsonl.gz").is_file():
        pytest.skip(f"HumanEval+ data not found at {path} (set RLA_TEST_DATA)")
    return path


@pytest.mark.slow
def test_all_164_canonical_solutions_pass_base_and_plus() -> None:
    """With the real spec (4 s floor) and rla's real cache, so references are computed once
    per machine. Also: a solution that returns None everywhere fails each task's base."""
    from concurrent.futures import ThreadPoolExecutor

    ev = CodeExecutionEval(load_task_spec("humaneval-plus"))
    try:
        dataset = ev.load(DataSource(kind="dir", path=str(humanevalplus_dir())))
        assert len(dataset.items) == 164 and dataset.pin.pinned

        def canonical(item: Any) -> SampleResult:
            prompt = ev.build_prompt(item, dataset, "completion")
            return ev.score(item, prompt, ev.reference_generation(item, prompt))

        items = sorted(dataset.items, key=lambda i: -len(i.plus_input))  # type: ignore[union-attr]
        with ThreadPoolExecutor(ev.sandbox().workers) as pool:
            results = list(pool.map(canonical, items))
        failing = [(r.id, r.details) for r in results if r.status != "pass"]
        assert not failing
        nones = [score(ev, item, "    return None\n") for item in items[:40]]  # type: ignore[arg-type]
        assert all(r.details["base"] != "pass" for r in nones if r.id != "HumanEval/32")
    finally:
        ev.close()
