"""A samples.jsonl line through its type: what the run writes reads back the same."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from runlocalai_bench.errors import RecordError
from runlocalai_bench.results.sampleline import SampleLine, iter_sample_lines, read_sample_lines
from tests.publish.conftest import bench


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return bench(tmp_path_factory.mktemp("samples"), "selfcheck")


def test_every_line_of_a_real_run_round_trips(run):
    raw = [json.loads(text) for text in run.samples.read_text(encoding="utf-8").splitlines()]
    lines = read_sample_lines(run.samples)
    assert len(lines) == len(raw) == 12
    assert [line.to_json() for line in lines] == raw
    first = lines[0]
    assert first.generation is not None
    replayed = first.replayed()
    assert replayed.text == first.generation.text
    assert [(t.token, t.logprob) for t in replayed.top_logprobs] == \
        [tuple(pair) for pair in raw[0]["generation"]["top_logprobs"]]
    assert first.result().score == raw[0]["score"]


def test_a_wrong_typed_line_names_the_line_and_field(run):
    raw = json.loads(run.samples.read_text(encoding="utf-8").splitlines()[0])
    raw["generation"]["top_logprobs"] = [["A", "-0.1"]]
    with pytest.raises(RecordError, match=r"line 3 cannot be read: \$\.generation\.top_logprobs"
                       r"\[0\]\[1\]: expected number, got string") as info:
        SampleLine.from_json(raw, "line 3")
    assert info.value.field == "generation.top_logprobs[0][1]"


@pytest.mark.parametrize(("pairs", "field", "problem"), [
    ([["A", -0.1], ["B", True]], "generation.top_logprobs[1][1]", "expected number, got boolean"),
    ([["A", -0.1, 0]], "generation.top_logprobs[0]", "expected 2 items, got 3"),
    ([["A", -0.1], [7, -0.2]], "generation.top_logprobs[1][0]", "expected string, got integer"),
    ([["A", -0.1], {"B": -0.2}], "generation.top_logprobs[1]", "expected array, got object"),
])
def test_a_wrong_pair_among_right_ones_is_named_exactly(run, pairs, field, problem):
    raw = json.loads(run.samples.read_text(encoding="utf-8").splitlines()[0])
    raw["generation"]["top_logprobs"] = pairs
    with pytest.raises(RecordError, match=problem) as info:
        SampleLine.from_json(raw, "line 1")
    assert info.value.field == field


def test_read_without_alternatives_keeps_all_but_the_top_logprobs(run):
    full = read_sample_lines(run.samples)
    lean = list(iter_sample_lines(run.samples, alternatives=False))
    assert all(line.generation and line.generation.top_logprobs for line in full)
    assert [line.generation.top_logprobs for line in lean] == [()] * len(full)
    assert [replace(line, generation=replace(line.generation, top_logprobs=()))
            for line in full] == lean
