"""The HTML report of real runs, opened in headless Chromium and used as a person would: it
becomes ready without a console error, shows the headline and the subjects, a filter narrows
the sample list to the count samples.jsonl says it should, a sample opens on its raw response,
and a screenshot of it is saved. The hooks are the report's DOM contract (`<html data-ready>`,
`#headline`, `#subject-count`, `#filter-*`, `#sample-count`, `details.sample`, `#card-diff`,
`#speed`); the expected figures are worked out here from the run's own files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from runlocalai_bench.results import rundir
from tests.support.browser import Page
from tests.support.cli import rla

pytestmark = pytest.mark.slow

Sample = dict[str, Any]


def report(tmp_path: Path, *runs: rundir.RunDir) -> Path:
    """`rla report RUN… -o FILE`; the file."""
    out = tmp_path / "report.html"
    ran = rla("report", *(str(run.path) for run in runs), "-o", str(out))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return out


def samples(run: rundir.RunDir) -> list[Sample]:
    return rundir.read_samples(run.samples)


def outcome(sample: Sample) -> str:
    """The outcome word a sample is filtered by, from its line in samples.jsonl: a request that
    failed, an answer that could not be read, else right or wrong; a program's failure by where
    it failed (a time limit, a kill, the base inputs, or the plus inputs alone)."""
    if sample["status"] in ("error", "unparsed"):
        return str(sample["status"])
    details = sample["details"]
    if "base" not in details:  # a multiple-choice answer
        return "correct" if sample["score"] == 1.0 else "wrong"
    if sample["status"] == "pass":
        return "correct"
    if "timeout" in (details["base"], details["plus"]):
        return "timeout"
    if "killed by signal" in details["first_failure"]["reason"]:
        return "sandbox-kill"
    return "plus-fail" if details["base"] == "pass" else "base-fail"


def results(run: rundir.RunDir) -> dict[str, Any]:
    return json.loads(run.results.read_text())


def assert_headline(page: Page, run: rundir.RunDir) -> None:
    score = results(run)["score"]
    headline = page.one("#headline")
    assert headline.is_displayed()
    assert f"{100 * score:.2f}%" in headline.text, headline.text
    assert float(headline.get_attribute("data-value")) == pytest.approx(score, abs=5e-5)


def assert_subjects(page: Page, run: rundir.RunDir) -> None:
    """The subject count shown is the number of subtasks scored, each with its element, and
    no chart's label is cut off at its edge."""
    subtasks = [row["name"] for row in results(run)["subtasks"]]
    assert int(page.one("#subject-count").get_attribute("data-count")) == len(subtasks)
    shown = {e.get_attribute("data-subject") for e in page.all("#subjects [data-subject]")}
    assert shown == set(subtasks)
    assert page.clipped_svg_text() == []


def open_first_sample(page: Page, by_id: dict[str, Sample]) -> Sample:
    """Expand the first sample the list shows; its line, once its raw response is shown."""
    from selenium.webdriver.support.ui import WebDriverWait

    details = page.one("#samples details.sample")
    details.find_element("css selector", "summary").click()
    raw = WebDriverWait(page.driver, 5).until(
        lambda _: details.find_element("css selector", ".raw-response"))
    sample = by_id[details.get_attribute("data-id")]
    assert details.get_attribute("open") is not None
    assert raw.is_displayed()
    assert sample["response"].strip() in raw.text, raw.text
    return sample


def narrowing(page: Page, select_id: str, expected: dict[str, int], everything: int) -> None:
    """Each value of `select_id` narrows #sample-count to its expected count; "" shows all."""
    for value, count in expected.items():
        page.choose(select_id, value)
        assert page.count(count) == count, (select_id, value)
        shown = page.all("#samples details.sample")
        assert 0 < len(shown) <= count
    page.choose(select_id, "")
    assert page.count(everything) == everything


@pytest.mark.integration
def test_selfcheck_on_gemma(page: Page, gemma_selfcheck: rundir.RunDir,
                            tmp_path: Path) -> None:
    """The report the run wrote itself, as `rla bench` left it in the run directory."""
    lines = samples(gemma_selfcheck)
    page.open(gemma_selfcheck.path / "report.html")
    assert_headline(page, gemma_selfcheck)
    assert_subjects(page, gemma_selfcheck)
    assert page.count(len(lines)) == len(lines) == 12
    by_subject = Counter(s["subtask"] for s in lines)
    narrowing(page, "filter-subject", dict(by_subject.most_common(3)), len(lines))
    wrong = Counter(outcome(s) for s in lines)["wrong"]
    narrowing(page, "filter-outcome", {"wrong": wrong}, len(lines))
    # Search: an id no other sample's id holds finds that sample alone.
    needle = next(s["id"] for s in lines
                  if sum(s["id"] in other["id"] for other in lines) == 1)
    page.type_into("search", needle)
    assert page.count(1) == 1
    assert [e.get_attribute("data-id") for e in page.all("#samples details.sample")] == [needle]
    page.type_into("search", "")
    assert page.count(len(lines)) == len(lines)
    page.choose("filter-outcome", "wrong")
    sample = open_first_sample(page, {s["id"]: s for s in lines})
    assert outcome(sample) == "wrong"
    page.screenshot(tmp_path / "selfcheck.png")
    assert page.console_errors() == []


def test_the_summary_without_javascript(page_without_js: Page,
                                        humaneval_failures: rundir.RunDir,
                                        tmp_path: Path) -> None:
    """With scripts off the page never marks itself ready, yet its summary shows: the headline,
    every subject's bar (inline SVG), and a notice that the sample browser needs JavaScript."""
    page = page_without_js
    page.load(report(tmp_path, humaneval_failures))
    assert page.one("html").get_attribute("data-ready") is None
    assert_headline(page, humaneval_failures)
    assert_subjects(page, humaneval_failures)
    chart = page.one("#subjects svg")
    assert chart.is_displayed() and chart.size["height"] > 0
    assert page.all("#samples details.sample") == []
    notices = [n.text for n in page.all(".notice") if n.is_displayed()]
    assert any("JavaScript" in text for text in notices), notices
    page.screenshot(tmp_path / "without-js.png")


def test_printed(page: Page, mmlu_pair: tuple[rundir.RunDir, rundir.RunDir],
                 tmp_path: Path) -> None:
    """Printed, the summary stays and the interactive sample browser goes; Chromium prints the
    page to a PDF without a console error."""
    a, _ = mmlu_pair
    page.open(report(tmp_path, a))
    assert page.one("#samples").is_displayed()
    with page.as_printed():
        assert not page.one("#samples").is_displayed()
        assert_headline(page, a)
        assert page.one("#subjects svg").is_displayed()
        assert page.pdf(tmp_path / "report.pdf").stat().st_size > 0
    assert page.one("#samples").is_displayed()
    assert page.console_errors() == []


def test_humaneval_failures(page: Page, humaneval_failures: rundir.RunDir,
                            tmp_path: Path) -> None:
    lines = samples(humaneval_failures)
    by_outcome = Counter(outcome(s) for s in lines)
    assert by_outcome == {"correct": 1, "plus-fail": 1, "base-fail": 1, "timeout": 1,
                          "sandbox-kill": 1}
    page.open(report(tmp_path, humaneval_failures))
    assert_headline(page, humaneval_failures)
    assert_subjects(page, humaneval_failures)
    assert set(by_outcome) <= set(page.options("filter-outcome"))
    narrowing(page, "filter-outcome", dict(by_outcome), len(lines))
    page.choose("filter-outcome", "plus-fail")
    sample = open_first_sample(page, {s["id"]: s for s in lines})
    failing = page.one("#samples details.sample[open] .failing-input")
    assert sample["details"]["first_failure"]["input"] in failing.text, failing.text
    page.screenshot(tmp_path / "humaneval.png")
    assert page.console_errors() == []


def test_speed_run(page: Page, speed_run: rundir.RunDir, tmp_path: Path) -> None:
    speed = json.loads(speed_run.record.read_text())["speed"]
    counted = [r for r in speed["runs"] if r["counted"]]
    page.open(report(tmp_path, speed_run))
    rows = page.all("#speed tr.measured-run")
    assert len(rows) == len(counted) == 3
    for row, measured in zip(rows, counted, strict=True):
        assert measured["label"] in row.text
    assert "%" in page.one("#ceiling-share").text
    page.screenshot(tmp_path / "speed.png")
    assert page.console_errors() == []


def test_two_runs_compared(page: Page, mmlu_pair: tuple[rundir.RunDir, rundir.RunDir],
                           tmp_path: Path) -> None:
    a, b = mmlu_pair
    in_a = {s["id"]: s for s in samples(a)}
    in_b = {s["id"]: s for s in samples(b)}
    assert set(in_a) == set(in_b)
    right_a = {i for i, s in in_a.items() if outcome(s) == "correct"}
    right_b = {i for i, s in in_b.items() if outcome(s) == "correct"}
    flips = {"a-only": right_a - right_b, "b-only": right_b - right_a}
    assert all(flips.values())
    page.open(report(tmp_path, a, b))
    assert len(page.all(".run-card")) == 2
    differs = {row.get_attribute("data-field") for row in page.all("#card-diff tr.differs")}
    assert "quant" in differs, differs
    assert page.all("#not-comparable") == []
    assert page.clipped_svg_text() == []  # the delta chart's longer figures included
    narrowing(page, "filter-flip", {k: len(v) for k, v in flips.items()}, len(in_a))
    # A subject and a flip together: the flips of that subject.
    subject, n = Counter(in_a[i]["subtask"] for i in flips["a-only"]).most_common(1)[0]
    page.choose("filter-subject", subject)
    page.choose("filter-flip", "a-only")
    assert page.count(n) == n
    sample = open_first_sample(page, in_a)
    assert sample["id"] in flips["a-only"] and sample["subtask"] == subject
    page.screenshot(tmp_path / "comparison.png")
    assert page.console_errors() == []
