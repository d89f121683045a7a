"""Two runs of one benchmark compared: the card diff, the paired figures from review/compare.py,
the flips as the page's data holds them, the "not comparable" banner, code flips as a diff."""

from __future__ import annotations

from runlocalai_bench.report import build_report
from runlocalai_bench.report.load import load_path
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.review.compare import compare_runs, read_run
from tests.report.conftest import Page, bench, canonical, page_of


def always_a(prompt: str) -> str:
    return "A"


def differing(page: Page) -> set[str]:
    return {str(a["data-field"]) for _, a, _ in page.elements
            if a.get("data-field") and "differs" in (a.get("class") or "")}


def test_two_runs_show_what_differs_the_paired_test_and_the_flips(selfcheck, tmp_path):
    other = bench("selfcheck", tmp_path, always_a, model_file="stub-q8_0.gguf")
    report = build_report([load_path(selfcheck.path), load_path(other.path)])
    (results_a, samples_a), (results_b, samples_b) = read_run(selfcheck.path), read_run(other.path)
    expected = compare_runs(results_a, results_b, samples_a, samples_b)
    scores = report.comparison.pairs[0].scores
    assert scores.headline == expected.headline
    assert scores.delta_interval_pp == expected.delta_interval_pp
    assert scores.subtasks == expected.subtasks and scores.comparable

    page = Page(page_of(selfcheck.path, other.path))
    assert "quant" in differing(page)
    assert "benchmark" not in differing(page) and "spec" not in differing(page)
    a = {line["id"]: line["score"] for line in rundir.read_samples(selfcheck.samples)}
    b = {line["id"]: line["score"] for line in rundir.read_samples(other.samples)}
    flips = page.data()["flips"]
    assert {i for i, (bucket, _) in flips.items() if bucket == "a-only"} == \
        {i for i in a if a[i] == 1.0 and b[i] == 0.0}
    assert {i for i, (bucket, _) in flips.items() if bucket == "b-only"} == \
        {i for i in a if a[i] == 0.0 and b[i] == 1.0}
    assert flips and all(diff is None for _, diff in flips.values())
    assert page.find(id="filter-flip") and page.find(id="card-diff")
    assert len(page.by_class("run-card")) == 2
    ((_, count, _),) = page.find(id="subject-count")
    assert count["data-count"] == str(len(expected.subtasks))
    ((_, headline, _),) = page.find(id="headline")  # run A's
    assert headline["data-value"] == f"{expected.headline.a:.4f}"
    assert not page.find(id="not-comparable")


def test_other_prompts_are_not_comparable(selfcheck, tmp_path):
    chat = bench("selfcheck", tmp_path, always_a, prompt_style="chat")
    page = Page(page_of(selfcheck.path, chat.path))
    ((_, _, text),) = page.find(id="not-comparable")
    assert text.startswith("A vs B: not comparable: 12 of 12 shared items were asked with "
                           "different "
                           "prompts")
    assert "notice" in page.find(id="not-comparable")[0][1]["class"]
    # no paired figures or flips over other prompts: each run's own subjects instead
    assert page.data()["flips"] == {}
    ((_, _, delta),) = page.find(id="delta")
    assert "no paired test, no flips" in delta and "McNemar" not in delta
    assert len(page.by_class("subjects")) == 2


def test_code_flips_carry_a_diff_of_the_two_programs(humaneval, tmp_path):
    fixed = bench("humaneval-plus", tmp_path, canonical, sample=True)
    page = Page(page_of(humaneval.path, fixed.path))
    flips = page.data()["flips"]
    assert set(flips) == {"HumanEval/2", "HumanEval/41", "HumanEval/55", "HumanEval/63"}
    assert {bucket for bucket, _ in flips.values()} == {"b-only"}
    _, diff = flips["HumanEval/63"]
    assert diff.startswith("--- A\n+++ B\n") and "-    return None\n" in diff


def test_speed_runs_are_shown_side_by_side_without_a_paired_test(speed, serving, gpu_rig):
    from tests.support.streaming import StreamingLlamaServer

    runs = [speed(serving(StreamingLlamaServer(decode_tps=lambda n, r=rate: r)).url,
                  gpu_rig).run for rate in (400.0, 300.0)]
    page = Page(page_of(*(r.path for r in runs)))
    assert len(page.by_class("measured-run")) == 6
    assert len(page.find(id="speed")) == 1 and len(page.by_class("speed")) == 2
    notices = " ".join(text for _, _, text in page.by_class("notice"))
    assert "Speed rows have no paired test" in notices
    medians = [load_record(r.record).body.speed.summary.decode_tps.median for r in runs]
    assert f"median decode B against A: {(medians[1] / medians[0] - 1) * 100:+.1f}%" in notices
    assert not page.find(id="samples")


def test_several_runs_are_each_compared_with_the_first(selfcheck, tmp_path):
    other = bench("selfcheck", tmp_path / "b", always_a, model_file="stub-q8_0.gguf")
    chat = bench("selfcheck", tmp_path / "c", always_a, prompt_style="chat")
    report = build_report([load_path(p) for p in (selfcheck.path, other.path, chat.path)])
    assert [v.label for v in report.runs] == ["A", "B", "C"]
    b, c = report.comparison.pairs
    assert (b.label, b.comparable, c.label, c.comparable) == ("B", True, "C", False)
    page = Page(page_of(selfcheck.path, other.path, chat.path))
    ((_, _, text),) = page.find(id="not-comparable")
    assert text.startswith("A vs C: not comparable: 12 of 12 shared items")
    ((_, _, delta),) = page.find(id="delta")
    assert "A vs B" in delta and "McNemar" in delta
    assert len(page.by_class("delta")) == 2
    row = [text for tag, a, text in page.elements
           if tag == "tr" and a.get("data-field") == "quant"]
    assert "Q8_0" in row[0] and "differs" in row[0]
    cells = [t for tag, a, t in page.elements if tag == "td"]
    assert len(cells) == 4 * len(report.comparison.card) + 3 * len(report.runs[0].card)
    data = page.data()
    assert data["labels"] == ["A", "B", "C"] and len(data["runs"]) == 3
    assert {i for i, _ in data["flips"].items()} == {f.id for f in b.flips}
