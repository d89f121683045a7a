"""TurkishMMLU from the GitHub/hub JSON layout (file names with spaces), from the hub through a
stand-in `datasets` library (labels as 0–4 and as letters), bundled; pins; full-set scoring."""

from __future__ import annotations

import json
import shutil
import sys
import types
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from runlocalai_bench.errors import DataError
from runlocalai_bench.evals import load_eval
from runlocalai_bench.types import DataSource, Generation, TokenLogprob

SUBJECTS = ["Biology", "Chemistry", "Geography", "History", "Mathematics", "Philosophy",
            "Physics", "Religion and Ethics", "Turkish Language and Literature"]


def raw(shared_data: Path, split: str, subject: str) -> list[dict[str, Any]]:
    path = shared_data / "turkishmmlu" / split / f"TurkishMMLU_{subject}.json"
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def full(shared_data: Path) -> Any:
    return load_eval("turkish-mmlu-generative").load(DataSource(kind="dir", path=str(shared_data)))


def test_full_set_loads_and_matches_pin(full: Any) -> None:
    assert len(full.items) == 900
    assert sum(len(pool) for pool in full.fewshot.values()) == 45
    counts = Counter(i.subtask for i in full.items)
    assert len(counts) == 9 and set(counts.values()) == {100}
    assert "religion_and_ethics" in counts and "turkish_language_and_literature" in counts
    assert full.pin.pinned and full.pin.dataset == "AYueksel/TurkishMMLU"
    assert all(len(i.choices) == 5 for i in full.items)
    math0 = next(i for i in full.items if i.id == "mathematics/test/0")
    # Published decomposed (NFD), kept so in the data and hash; prompts compose it (below).
    assert math0.question.startswith(unicodedata.normalize("NFD", "Bir düzlemde 3 ü paralel"))
    assert math0.choices == ("18", "21", "28", "35", "42") and math0.answer == "A"


def test_both_slugs_pin_the_same_data(full: Any, shared_data: Path) -> None:
    slugs = ("turkish-mmlu", "turkish-mmlu-generative")
    tables = [load_eval(s).spec.data["dataset"] for s in slugs]
    assert tables[0] == tables[1]
    source = DataSource(kind="dir", path=str(shared_data / "turkishmmlu"))
    ds = load_eval("turkish-mmlu").load(source)
    assert ds.pin.content_sha256 == full.pin.content_sha256


@pytest.mark.parametrize("slug", ["turkish-mmlu", "turkish-mmlu-generative"])
def test_oracle_scores_100_and_constant_letter_scores_its_share(slug: str, full: Any,
                                                                shared_data: Path) -> None:
    ev = load_eval(slug)
    gold = Counter(row["answer"] for s in SUBJECTS for row in raw(shared_data, "test", s))
    assert sum(gold.values()) == 900
    for style in ("completion", "chat"):
        prompts = [ev.build_prompt(item, full, style) for item in full.items]
        oracle = [ev.score(i, p, ev.reference_generation(i, p))
                  for i, p in zip(full.items, prompts, strict=True)]
        assert ev.aggregate(oracle, expected_n=900).score == 1.0
        for letter in "ABCDE":
            answer = f"Cevap: {letter}" if slug.endswith("generative") else f" {letter}"
            gen = Generation(text=answer, top_logprobs=(TokenLogprob(f"▁{letter}", -0.2),))
            samples = [ev.score(i, p, gen) for i, p in zip(full.items, prompts, strict=True)]
            results = ev.aggregate(samples, expected_n=900)
            assert results.score == gold[letter] / 900
            assert len(results.subtasks) == 9 and len(results.categories) == 4


@pytest.mark.parametrize("style", ["completion", "chat"])
def test_prompts_are_composed_to_nfc(full: Any, style: str) -> None:
    ev = load_eval("turkish-mmlu")
    prompt = ev.build_prompt(full.items[0], full, style)  # type: ignore[arg-type]
    text = prompt.rendered()
    assert text == unicodedata.normalize("NFC", text)
    assert "Mitoz hızı canlılarda farklı olduğu gibi aynı canlının farklı dokularında" in text


def test_bundled_sample_is_a_faithful_subset(full: Any) -> None:
    sample = load_eval("turkish-mmlu").load(DataSource(kind="bundled"))
    assert sample.pin.pinned and sample.pin.source == "bundled"
    by_id = {i.id: i for i in full.items}
    assert len(sample.items) == 45 and all(by_id[i.id] == i for i in sample.items)


def test_the_chemistry_dev_question_repeated_in_test_stays_a_shot(full: Any) -> None:
    # A known quirk (data/turkishmmlu/SOURCE.md): kept as lm-eval keeps it.
    start = unicodedata.normalize("NFD", "Aşağıda verilen çözeltilerden hangisinin bileşenleri")
    assert any(s.question.startswith(start) for s in full.fewshot["chemistry"])
    assert any(i.question.startswith(start) for i in full.items if i.subtask == "chemistry")


def test_edited_copy_is_refused_unless_allowed(tmp_path: Path, shared_data: Path) -> None:
    copy = tmp_path / "turkishmmlu"
    shutil.copytree(shared_data / "turkishmmlu", copy)
    path = copy / "test" / "TurkishMMLU_Physics.json"
    rows = json.loads(path.read_text(encoding="utf-8"))
    rows[0]["question"] += " "
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    ev = load_eval("turkish-mmlu")
    with pytest.raises(DataError, match="does not match the pinned hash"):
        ev.load(DataSource(kind="dir", path=str(copy)))
    ds = ev.load(DataSource(kind="dir", path=str(copy), allow_unpinned=True))
    assert not ds.pin.pinned


def test_missing_subject_file_is_a_data_error(tmp_path: Path, shared_data: Path) -> None:
    copy = tmp_path / "turkishmmlu"
    shutil.copytree(shared_data / "turkishmmlu", copy)
    (copy / "dev" / "TurkishMMLU_Religion and Ethics.json").unlink()
    with pytest.raises(DataError, match="Religion and Ethics"):
        load_eval("turkish-mmlu").load(DataSource(kind="dir", path=str(tmp_path)))


def fake_datasets(shared_data: Path, calls: list[tuple[str, str, str, str]],
                  numeric: bool) -> types.ModuleType:
    """Serves AYueksel/TurkishMMLU's shape: one config per subject ("Religion_and_Ethics"),
    splits dev and test, labels as letters or (as in another upload) as 0-4."""

    def load_dataset(path: str, name: str, *, split: str, revision: str) -> list[dict[str, Any]]:
        calls.append((path, name, split, revision))
        rows = raw(shared_data, split, name.replace("_", " "))
        if numeric:
            rows = [{**r, "answer": "ABCDE".index(r["answer"])} for r in rows]
        return rows

    module = types.ModuleType("datasets")
    module.load_dataset = load_dataset  # type: ignore[attr-defined]
    return module


@pytest.mark.parametrize("numeric", [False, True])
def test_hub_rows_hash_like_the_original_files(monkeypatch: pytest.MonkeyPatch, full: Any,
                                               shared_data: Path, numeric: bool) -> None:
    calls: list[tuple[str, str, str, str]] = []
    monkeypatch.setitem(sys.modules, "datasets", fake_datasets(shared_data, calls, numeric))
    ds = load_eval("turkish-mmlu").load(DataSource(kind="hub"))
    assert ds.pin.pinned and ds.pin.content_sha256 == full.pin.content_sha256
    assert ds.pin.source == "hub"
    configs = {c[1] for c in calls}
    assert configs == {s.replace(" ", "_") for s in SUBJECTS}
    assert {c[3] for c in calls} == {"4e7cbb89b5265734c48e497258fbe364ec96af57"}


def test_unreachable_hub_is_a_data_error_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    def load_dataset(*args: Any, **kwargs: Any) -> None:
        raise OSError("[Errno -3] Temporary failure in name resolution")

    module = types.ModuleType("datasets")
    module.load_dataset = load_dataset  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "datasets", module)
    with pytest.raises(DataError, match="AYueksel/TurkishMMLU") as err:
        load_eval("turkish-mmlu").load(DataSource(kind="hub"))
    assert "--data-dir" in (err.value.hint or "")
