"""HumanEval+ scoring: the Eval on real tasks (bundled sample) and on small tasks written here
to pin one rule each, and, marked slow, all 164 canonical solutions on the full data set.
Comparison rules: test_outputs.py; extraction: test_code_extraction.py."""

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

from runlocalai_bench import paths
from runlocalai_bench.evals import load_task_spec
from runlocalai_bench.scoring.code_execution import CodeExecutionEval, aggregate_pass_at_1
from runlocalai_bench.scoring.reference import DIGEST_OVER, reference_dir
from runlocalai_bench.scoring.sandbox import Sandbox
from runlocalai_bench.types import (
    CodeItem,
    DataSource,
    Generation,
    SampleResult,
    to_dict,
)
from tests.support.data import humanevalplus_dir
from tests.support.isolation import confines_files

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
    assert wrong.details["first_failure"]["got"] == "0.0"  # the root it claimed
    assert "expected" not in wrong.details["first_failure"]  # any root within atol would do


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
                                              "input": repr(item.base_input[0]),
                                              "expected": "0.5", "got": repr(3.5 % 1.0 + 1e-3)}


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
    if confines_files(evaluator.isolation()):
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


def test_long_outputs_pass_on_their_digest_and_compare_by_value_when_bytes_differ(
        evaluator: CodeExecutionEval) -> None:
    """Outputs over DIGEST_OVER bytes are cached by digest, in full beside it: the same bytes
    pass, other bytes of an equal or close value pass by value, a wrong one fails where it
    differs; a missing outputs file has the reference computed again."""
    canonical = "    return [i / 2 for i in range(x)]\n"  # floats: tolerance 1e-6 applies
    item = task("T/long", canonical, [[3], [200], [300]], [[400], [2], [500]])
    assert score(evaluator, item, canonical).status == "pass"
    reference = evaluator.reference(item, "plus")
    assert reference.outputs is not None and reference.outputs.is_file()
    with gzip.open(reference.path, "rb") as fh:
        lines = fh.read().splitlines()[1:]
    assert [line.startswith(b"#") for line in lines] == [True, False, True]
    assert len(lines[0]) == 1 + 64 and len(lines[0]) < DIGEST_OVER
    near = "    return [i / 2 + (1e-9 if i == x - 1 else 0) for i in range(x)]\n"
    assert score(evaluator, item, near).status == "pass"
    as_ints = "    return [i // 2 if i % 2 == 0 else i / 2 for i in range(x)]\n"
    assert score(evaluator, item, as_ints).status == "pass"
    far = "    return [i / 2 + (1e-3 if x == 500 else 0) for i in range(x)]\n"
    result = score(evaluator, item, far)
    assert result.details["base"] == "pass" and result.details["plus"] == "fail"
    assert result.details["first_failure"]["index"] == 2
    assert result.details["first_failure"]["reason"] == "wrong output"

    reference.outputs.unlink()
    again = CodeExecutionEval(evaluator.spec, cache_dir=evaluator.cache_root, workers=1)
    try:
        assert score(again, item, near).status == "pass"
        assert reference.outputs.is_file()
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


@pytest.mark.slow
def test_all_164_canonical_solutions_pass_base_and_plus() -> None:
    """With the real spec (4 s floor) and rla's real cache, so references are computed once
    per machine. Also: a solution that returns None everywhere fails each task's base."""
    from concurrent.futures import ThreadPoolExecutor

    ev = CodeExecutionEval(load_task_spec("humaneval-plus"),
                           cache_dir=paths.cache_home(os.environ))
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
