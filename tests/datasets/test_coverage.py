"""The pinned item sets: rebuilt from the full data they were written from, and the coverage
check over sample ids, each way a run can fail to cover its dataset named."""

from __future__ import annotations

import pytest

from runlocalai_bench import specs
from runlocalai_bench.datasets.coverage import (
    ItemSet,
    Sampled,
    coverage_reasons,
    ids_sha256,
    item_set,
    pinned_item_set,
    spec_pins,
)
from runlocalai_bench.evals import load_eval
from runlocalai_bench.types import DataSource
from tests.support.data import benchmark_data

FOLDERS = {"mmlu": "mmlu", "turkish-mmlu-generative": "turkishmmlu",
           "humaneval-plus": "humanevalplus"}


@pytest.mark.parametrize(("slug", "n", "subtasks"), [
    ("mmlu", 14042, 57), ("turkish-mmlu-generative", 900, 9), ("humaneval-plus", 164, 1)])
def test_the_pinned_item_set_is_the_full_data_s(slug, n, subtasks):
    data = benchmark_data(FOLDERS[slug]) / FOLDERS[slug]
    dataset = load_eval(slug).load(DataSource(kind="dir", path=str(data)))
    spec = specs.load_spec("tasks", slug)
    pinned = pinned_item_set(spec, dataset.pin.content_sha256)
    assert isinstance(pinned, ItemSet), pinned
    assert pinned == item_set(dataset.pin.dataset,
                              [Sampled(i.id, i.subtask) for i in dataset.items])
    assert (pinned.n, len(pinned.subtasks)) == (n, subtasks)


def test_humaneval_plus_pins_its_release_file_gzipped_and_plain():
    spec = specs.load_spec("tasks", "humaneval-plus")
    gz, plain = spec_pins(spec)
    assert pinned_item_set(spec, gz) == pinned_item_set(spec, plain)


def test_data_the_spec_does_not_pin_has_no_item_set():
    spec = specs.load_spec("tasks", "turkish-mmlu-generative")
    reason = pinned_item_set(spec, "ab" * 32)
    assert isinstance(reason, str)
    assert reason.startswith("the dataset's content sha256 abababababab is not the one"
                             " tasks/turkish-mmlu-generative.toml pins")


FULL = [Sampled(f"{s}/test/{i}", s) for s in ("a", "b", "c") for i in range(4)]
EXPECTED = item_set("toy", FULL)


def test_exactly_the_set_in_any_order_is_covered():
    assert coverage_reasons(list(reversed(FULL)), EXPECTED) == []
    assert ids_sha256(s.id for s in FULL) == ids_sha256(s.id for s in reversed(FULL))


def test_a_slice_is_named_by_subtask():
    sliced = [s for s in FULL if not s.id.endswith(("/2", "/3"))]
    assert coverage_reasons(sliced, EXPECTED) == [
        "the samples cover 6 of the pinned dataset's 12 items (by subtask: a 2/4, b 2/4,"
        " c 2/4)"]


def test_a_dropped_subtask_is_named():
    assert coverage_reasons([s for s in FULL if s.subtask != "b"], EXPECTED) == [
        "the samples cover 8 of the pinned dataset's 12 items (by subtask: b 0/4)"]


def test_a_duplicated_id_in_place_of_another_is_named():
    samples = [*FULL[:-1], FULL[0]]
    reasons = coverage_reasons(samples, EXPECTED)
    assert reasons[0] == "1 sample id(s) appear more than once (e.g. a/test/0)"
    assert "c 3/4" in reasons[1]


def test_other_ids_with_the_same_counts_are_refused():
    samples = [*FULL[:-1], Sampled("c/test/99", "c")]
    assert coverage_reasons(samples, EXPECTED) == [
        "the sample ids are not the pinned dataset's 12 item ids (same counts, other ids)"]


def test_a_subtask_the_dataset_lacks_is_named():
    reasons = coverage_reasons([*FULL, Sampled("z/test/0", "z")], EXPECTED)
    assert reasons == ["samples of subtasks the dataset does not have: z"]
