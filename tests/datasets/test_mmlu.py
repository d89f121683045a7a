"""MMLU from the original CSV layout, from the hub (a fake `datasets` library serving the same
rows in the hub's shape), and bundled; pins; and full-set oracle / constant-letter scoring."""

from __future__ import annotations

import csv
import shutil
import sys
import types
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from runlocalai_bench.errors import DataError
from runlocalai_bench.evals import load_eval
from runlocalai_bench.types import DataSource, Generation, MCItem, TokenLogprob

PIN_SLUGS = ["mmlu", "mmlu-generative"]


def raw_rows(root: Path, split: str) -> dict[str, list[list[str]]]:
    """The CSVs read directly, independent of rla's loader."""
    out = {}
    for path in sorted((root / "mmlu" / "data" / split).glob(f"*_{split}.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            out[path.name[: -len(f"_{split}.csv")]] = list(csv.reader(fh))
    return out


@pytest.fixture(scope="module")
def full(shared_data: Path) -> Any:
    return load_eval("mmlu").load(DataSource(kind="dir", path=str(shared_data)))


def test_full_set_loads_and_matches_pin(full: Any, shared_data: Path) -> None:
    assert len(full.items) == 14042
    assert sum(len(pool) for pool in full.fewshot.values()) == 285
    assert len(full.fewshot) == 57 and all(len(p) == 5 for p in full.fewshot.values())
    assert full.pin.pinned and full.pin.source == "dir"
    assert full.pin.dataset == "cais/mmlu"
    assert full.pin.revision == "c30699e8356da336a370243923dbaf21066bb9fe"
    first = full.items[0]
    assert first.id == "abstract_algebra/test/0"
    assert first.question.startswith("Find the degree for the given field extension")
    assert first.choices == ("0", "4", "2", "6") and first.answer == "B"
    assert len({i.id for i in full.items}) == 14042


@pytest.mark.parametrize("sub", ["mmlu", "mmlu/data"])
def test_every_layout_gives_the_pinned_hash(sub: str, full: Any, shared_data: Path) -> None:
    ds = load_eval("mmlu").load(DataSource(kind="dir", path=str(shared_data / sub)))
    assert ds.pin.content_sha256 == full.pin.content_sha256 and ds.pin.pinned


def test_both_slugs_pin_the_same_data() -> None:
    tables = [load_eval(slug).spec.data["dataset"] for slug in PIN_SLUGS]
    assert all(t == tables[0] for t in tables)


@pytest.mark.slow
def test_oracle_scores_100_and_constant_letter_scores_its_share(full: Any,
                                                                shared_data: Path) -> None:
    ev = load_eval("mmlu")
    prompts = [ev.build_prompt(item, full, "completion") for item in full.items]
    oracle = [ev.score(i, p, ev.reference_generation(i, p))
              for i, p in zip(full.items, prompts, strict=True)]
    assert ev.aggregate(oracle, expected_n=14042).score == 1.0

    gold = Counter(row[5] for rows in raw_rows(shared_data, "test").values() for row in rows)
    assert sum(gold.values()) == 14042
    assert gold == {"A": 3222, "B": 3462, "C": 3582, "D": 3776}  # data/mmlu/SOURCE.md
    for letter in "AD":
        gen = Generation(text=f" {letter}", top_logprobs=(TokenLogprob(f" {letter}", -0.1),
                                                          TokenLogprob(" ", -2.5)))
        results = ev.aggregate([ev.score(i, p, gen) for i, p in
                                zip(full.items, prompts, strict=True)], expected_n=14042)
        assert results.score == gold[letter] / 14042
        assert results.counts["ok"] == 14042
        assert len(results.subtasks) == 57 and len(results.categories) == 4


def test_bundled_sample_is_a_faithful_subset(full: Any) -> None:
    sample = load_eval("mmlu").load(DataSource(kind="bundled"))
    assert sample.pin.source == "bundled" and sample.pin.pinned
    by_id = {i.id: i for i in full.items}
    assert len({i.subtask for i in sample.items}) == 57
    assert all(by_id[i.id] == i for i in sample.items)
    assert {k: tuple(v) for k, v in sample.fewshot.items()} == {
        k: tuple(v) for k, v in full.fewshot.items()}
    selfcheck = load_eval("selfcheck").load(DataSource())
    assert all(by_id[i.id] == i for i in selfcheck.items)


# ---------------------------------------------------------------------------------------------
# Edited or broken local copies

CRLF_CSV = (
    '"Which is prime?\r\nPick one.",4,6,7,9,C\r\n'
    "What is 2+2?,3,4,5,6,B\r\n"
)


def tiny_layout(root: Path, test_csv: str = CRLF_CSV) -> Path:
    for split, text in (("test", test_csv), ("dev", "1+1?,2,3,4,5,A\n" * 5)):
        (root / "data" / split).mkdir(parents=True, exist_ok=True)
        (root / "data" / split / f"toy_math_{split}.csv").write_bytes(text.encode())
    return root


def test_unpinned_copy_stops_the_run_unless_allowed(tmp_path: Path) -> None:
    root = tiny_layout(tmp_path)
    ev = load_eval("mmlu")
    with pytest.raises(DataError, match="does not match the pinned hash") as err:
        ev.load(DataSource(kind="dir", path=str(root)))
    assert err.value.hint
    ds = ev.load(DataSource(kind="dir", path=str(root), allow_unpinned=True))
    assert not ds.pin.pinned and ds.pin.expected_sha256 != ds.pin.content_sha256
    # CRLF rows and a quoted field spanning lines parse as the csv module reads them.
    assert ds.items == (
        MCItem("toy_math/test/0", "toy_math", "Which is prime?\r\nPick one.", ("4", "6", "7", "9"),
               "C"),
        MCItem("toy_math/test/1", "toy_math", "What is 2+2?", ("3", "4", "5", "6"), "B"),
    )


def test_one_changed_answer_changes_the_hash(tmp_path: Path, shared_data: Path,
                                             full: Any) -> None:
    copy = tmp_path / "mmlu"
    for split in ("test", "dev"):
        shutil.copytree(shared_data / "mmlu" / "data" / split, copy / "data" / split)
    path = copy / "data" / "test" / "virology_test.csv"
    text = path.read_text(encoding="utf-8")
    last_answer = text.rstrip()[-1]
    path.write_text(text.rstrip()[:-1] + ("A" if last_answer != "A" else "B") + "\n",
                    encoding="utf-8")
    with pytest.raises(DataError):
        load_eval("mmlu").load(DataSource(kind="dir", path=str(copy)))


@pytest.mark.parametrize(("test_csv", "message"), [
    ("q,a,b,c,A\n", "expected 6 fields"),
    ("q,a,b,c,d,Z\n", "answer 'Z'"),
])
def test_malformed_rows_are_data_errors(tmp_path: Path, test_csv: str, message: str) -> None:
    root = tiny_layout(tmp_path, test_csv)
    with pytest.raises(DataError, match=message):
        load_eval("mmlu").load(DataSource(kind="dir", path=str(root), allow_unpinned=True))


def test_missing_folder_names_the_layout(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no MMLU test files") as err:
        load_eval("mmlu").load(DataSource(kind="dir", path=str(tmp_path)))
    assert "data.tar" in (err.value.hint or "")


# ---------------------------------------------------------------------------------------------
# The hub, through a stand-in for the `datasets` library


def fake_datasets(shared_data: Path, calls: list[dict[str, Any]]) -> types.ModuleType:
    """Serves cais/mmlu's shape: config "all", rows {question, subject, choices, answer: 0-3},
    subjects interleaved to show that the loader does not rely on row order across subjects."""

    def load_dataset(path: str, name: str, *, split: str, revision: str) -> list[dict[str, Any]]:
        calls.append({"path": path, "name": name, "split": split, "revision": revision})
        per_subject = [
            [{"question": r[0], "subject": s, "choices": r[1:5], "answer": "ABCD".index(r[5])}
             for r in rows]
            for s, rows in raw_rows(shared_data, split).items()
        ]
        longest = max(map(len, per_subject))
        return [rows[k] for k in range(longest) for rows in per_subject if k < len(rows)]

    module = types.ModuleType("datasets")
    module.load_dataset = load_dataset  # type: ignore[attr-defined]
    return module


def test_hub_rows_hash_like_the_original_files(monkeypatch: pytest.MonkeyPatch,
                                               shared_data: Path, full: Any) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setitem(sys.modules, "datasets", fake_datasets(shared_data, calls))
    ds = load_eval("mmlu").load(DataSource(kind="hub"))
    assert ds.pin.source == "hub" and ds.pin.pinned
    assert ds.pin.content_sha256 == full.pin.content_sha256
    assert ds.items == full.items
    assert {(c["path"], c["name"], c["revision"]) for c in calls} == {
        ("cais/mmlu", "all", "c30699e8356da336a370243923dbaf21066bb9fe")}
    assert sorted(c["split"] for c in calls) == ["dev", "test"]


def test_unreachable_hub_is_a_data_error_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    def load_dataset(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("Couldn't reach 'cais/mmlu' on the Hub (LocalEntryNotFoundError)")

    module = types.ModuleType("datasets")
    module.load_dataset = load_dataset  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "datasets", module)
    with pytest.raises(DataError, match="Couldn't reach") as err:
        load_eval("mmlu").load(DataSource(kind="hub"))
    assert "--data-dir" in (err.value.hint or "")


def test_missing_datasets_package_is_a_data_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets → ImportError
    with pytest.raises(DataError, match="needs the `datasets` package"):
        load_eval("mmlu").load(DataSource(kind="hub"))
