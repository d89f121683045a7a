"""Duplicates over a set of records: the same five-tuple within N weeks belongs to the row it
repeats; past the window a record starts the next row; another quantization is another row."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from runlocalai_bench.review.duplicates import Entry, find_duplicates
from tests.review.conftest import copy_run
from tests.support.cli import rla

KEY = ("gemma-3-270m", "mmlu", "Q4_K_M", "llama.cpp-b5000", "rtx-4090")
T0 = datetime(2026, 5, 1)


def entry(label: str, days: float, key: tuple = KEY) -> Entry:
    return Entry(label, key, T0 + timedelta(days=days))


def test_repeats_within_the_window_belong_to_the_first_row():
    found = find_duplicates([entry("c", 27), entry("a", 0), entry("b", 3),
                             entry("d", 29), entry("e", 40),
                             entry("q8", 1, (*KEY[:2], "Q8_0", *KEY[3:]))], weeks=4)
    assert [(d.entry.label, d.row.label, d.apart.days) for d in found] == [
        ("b", "a", 3), ("c", "a", 27), ("e", "d", 11)]


def test_exactly_at_the_window_is_still_a_duplicate():
    found = find_duplicates([entry("a", 0), entry("b", 28)], weeks=4)
    assert [(d.entry.label, d.row.label) for d in found] == [("b", "a")]
    assert find_duplicates([entry("a", 0), entry("b", 28.01)], weeks=4) == ()


def moved(run, dest, *, days: float, quantization: str | None = None):
    copy = copy_run(run, dest)
    record = json.loads(copy.record.read_text())
    started = datetime.fromisoformat(record["timings"]["started_at"])
    record["timings"]["started_at"] = (started + timedelta(days=days)).isoformat()
    if quantization:
        record["model"]["quantization"] = quantization
    copy.record.write_text(json.dumps(record, indent=2), encoding="utf-8")
    return copy


def test_rla_duplicates_names_the_row_each_belongs_to(original, tmp_path):
    soon = moved(original, tmp_path / "soon", days=10)
    later = moved(original, tmp_path / "later", days=60)
    other = moved(original, tmp_path / "other", days=1, quantization="Q8_0")
    code, out, err = rla("duplicates", *(str(r.path) for r in (later, soon, original, other)),
                         "--json")
    assert code == 0, err
    report = json.loads(out)
    assert [(d["record"], d["of"], round(d["days_apart"])) for d in report["duplicates"]] == [
        (str(soon.path), str(original.path), 10)]
    assert report["duplicates"][0]["key"]["quantization"] == "Q4_K_M"
    code, out, _ = rla("duplicates", str(original.path), str(later.path))
    assert code == 0 and out.startswith("no duplicates among 2 records (within 4 weeks)")
