"""One run's report from real runs: the view model's figures against the record and samples, the
page self-contained, its summary readable without JS, its embedded data round-tripping."""

from __future__ import annotations

import json
import re
from pathlib import Path

from runlocalai_bench.report import build_report
from runlocalai_bench.report.load import load_path
from runlocalai_bench.report.page import data_of, embed
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.stats import wilson_interval
from tests.report.conftest import CODE_OUTCOMES, Page, bench, page_of
from tests.review.conftest import copy_run


def test_the_view_model_holds_the_records_figures_and_each_samples_outcome(mmlu):
    record = load_record(mmlu.record)
    results = record.body.results
    (view,) = build_report([load_path(mmlu.path)]).runs
    h = view.headline
    assert (h.score, h.n) == (results.score, 114)
    assert (h.low, h.high) == wilson_interval(results.score * 114, 114)
    assert h.chance == 0.25
    assert len(view.bars) == 57 and {b.name for b in view.bars} == set(results.subtasks)
    assert sorted(c.name for c in view.categories) == ["humanities", "other",
                                                       "social_sciences", "stem"]
    # grouped by category, best first within each
    order = [(b.category, -b.score) for b in view.bars]
    assert order == sorted(order)
    lines = {line["id"]: line for line in rundir.read_samples(mmlu.samples)}
    assert len(view.samples) == 114
    for s in view.samples:
        line = lines[s.id]
        assert s.outcome == ("correct" if line["score"] == 1.0 else "wrong")
        assert (s.prompt, s.response, s.gold) == (line["prompt"], line["response"],
                                                  line["target"])
        assert dict(s.logprobs) == line["details"]["letter_logprobs"]
    assert sum(s.outcome == "correct" for s in view.samples) == round(results.score * 114)
    assert dict(h.counts) == {"unparsed": 0, "error": 0, "timeout": 0}


def test_code_samples_get_their_outcome_failing_input_and_error(humaneval):
    (view,) = build_report([load_path(humaneval.path)]).runs
    assert {s.id: s.outcome for s in view.samples} == CODE_OUTCOMES
    assert view.headline.chance is None
    assert [(b.name, b.score) for b in view.bars] == [("base", 0.4), ("plus", 0.2)]
    assert dict(view.headline.counts) == {"unparsed": 0, "error": 0, "timeout": 1}
    samples = {s.id: s for s in view.samples}
    assert samples["HumanEval/2"].failing_input == "plus input 0: [999.99999]"
    assert samples["HumanEval/2"].error == "wrong output"
    assert "killed by signal 9" in samples["HumanEval/55"].error
    assert samples["HumanEval/32"].failing_input is None
    # a wrong output: the reference's value and the program's
    assert (samples["HumanEval/2"].expected, samples["HumanEval/2"].got) == (
        repr(999.99999 - int(999.99999)), "0.0")
    assert (samples["HumanEval/63"].expected, samples["HumanEval/63"].got) == ("1", "None")
    assert samples["HumanEval/55"].got is None  # killed: nothing returned


def test_the_page_loads_nothing_from_anywhere(mmlu):
    page = Page(page_of(mmlu.path))
    for tag, attrs, _ in page.elements:
        for name in ("src", "href", "action", "data", "poster"):
            value = attrs.get(name) or ""
            assert not re.match(r"(?i)\s*(https?:)?//", value), (tag, name, value)
        assert not (tag == "link" and attrs.get("rel") == "stylesheet"), attrs
        assert not (tag == "script" and "src" in attrs), attrs
    html = page_of(mmlu.path)
    assert "@import" not in html and "url(" not in html
    assert "report-data" in html and "data-ready" in html  # script and styles inlined


def test_the_summary_is_there_without_js(mmlu):
    record = load_record(mmlu.record)
    page = Page(page_of(mmlu.path))
    ((_, attrs, text),) = page.find(id="headline")
    assert text == f"{record.body.results.score * 100:.2f}%"
    assert attrs["data-value"] == f"{record.body.results.score:.4f}"
    ((_, count, _),) = page.find(id="subject-count")
    assert count["data-count"] == "57"
    shown = {a["data-subject"] for _, a, _ in page.elements if a.get("data-subject")}
    assert shown == set(record.body.results.subtasks)
    ((_, card, _),) = page.find(id="run-card")
    assert "run-card" in card["class"]
    svg = [a for tag, a, _ in page.elements if tag == "svg"]
    assert svg and all(a["role"] == "img" and a.get("aria-labelledby") for a in svg)
    assert {tag for tag, _, _ in page.elements} >= {"title", "desc"}
    html = page_of(mmlu.path)
    assert "@media print" in html and "chance 25.00%" in html


def test_the_embedded_data_round_trips_each_sample_and_stores_shared_context_once(mmlu):
    page = Page(page_of(mmlu.path))
    data = page.data()
    assert data == json.loads(embed(data_of(build_report([load_path(mmlu.path)]))))
    lines = {line["id"]: line for line in rundir.read_samples(mmlu.samples)}
    (samples,) = data["runs"]
    assert len(samples) == 114
    for sid, subject, outcome, prefix, rest, response, extracted, gold, lps, failing, error, \
            expected, got in samples:
        line = lines[sid]
        prompt = (data["prefixes"][prefix] if prefix >= 0 else "") + rest
        assert (prompt, response, extracted, gold) == (line["prompt"], line["response"],
                                                       line["extracted"], line["target"])
        assert subject == line["subtask"] and failing is None and error is None
        assert expected is None and got is None
        assert outcome == ("correct" if line["score"] == 1.0 else "wrong")
        assert dict(lps) == line["details"]["letter_logprobs"]
    # the 5-shot context of each subject once, not once per question
    assert len(data["prefixes"]) == 57
    ((_, options, _),) = page.find(id="sample-count")
    assert options["data-count"] == "114"


def test_no_text_in_a_sample_can_close_the_data_script(tmp_path: Path):
    hostile = "</script><script>document.title='owned'</script><!-- B"
    run = bench("selfcheck", tmp_path, lambda prompt: hostile)
    html = page_of(run.path)
    body = html.split('<script type="application/json" id="report-data">', 1)[1]
    data_text = body.split("</script>", 1)[0]
    assert "<" not in data_text
    data = Page(html).data()
    assert {s[5] for s in data["runs"][0]} == {f" {hostile}"}


def test_the_filters_offer_the_subjects_and_the_kinds_outcomes(mmlu, humaneval):
    def options(page: Page, select: str) -> list[str]:
        html_ids = [i for i, (tag, a, _) in enumerate(page.elements) if a.get("id") == select]
        out = []
        for tag, a, _ in page.elements[html_ids[0] + 1:]:
            if tag != "option":
                break
            out.append(a["value"])
        return out

    page = Page(page_of(mmlu.path))
    assert options(page, "filter-outcome") == ["", "correct", "wrong", "unparsed", "error"]
    assert len(options(page, "filter-subject")) == 58
    assert not page.find(id="filter-flip")
    code = Page(page_of(humaneval.path))
    assert code.data()["prefixes"] == []  # five tasks share no context: each prompt whole
    assert options(code, "filter-outcome") == ["", "correct", "base-fail", "plus-fail",
                                               "timeout", "sandbox-kill", "unparsed", "error"]


def test_a_speed_run_shows_each_measured_run_and_the_ceiling_share(speed, serving, gpu_rig):
    from tests.support.streaming import StreamingLlamaServer

    run = speed(serving(StreamingLlamaServer(decode_tps=lambda n: 400.0)).url, gpu_rig).run
    record = load_record(run.record)
    page = Page(page_of(run.path))
    rows = page.by_class("measured-run")
    assert len(rows) == sum(r.counted for r in record.body.speed.runs) == 3
    ((_, share, text),) = page.find(id="ceiling-share")
    ceiling = record.body.speed.plausibility.tps
    median = record.body.speed.summary.decode_tps.median
    assert float(share["data-value"]) == round(median / ceiling, 4)
    assert text == f"{median / ceiling * 100:.1f}%"
    assert page.find(id="speed") and not page.find(id="samples")


def test_a_run_dir_without_samples_says_what_it_cannot_show(mmlu, tmp_path):
    run = copy_run(mmlu, tmp_path)
    run.samples.unlink()
    page = Page(page_of(run.path))
    notices = [text for _, _, text in page.by_class("notice")]
    assert any("no samples.jsonl" in n for n in notices), notices
    assert not page.find(id="samples") and page.data()["runs"] == [[]]
    ((_, _, text),) = page.find(id="headline")  # the record's own score still shows
    assert text == f"{load_record(run.record).body.results.score * 100:.2f}%"


def test_samples_that_are_not_the_scored_ones_are_not_shown(mmlu):
    lines = mmlu.samples.read_text().splitlines()
    first = json.loads(lines[0])
    first["score"] = 1.0 - first["score"]
    mmlu.samples.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    page = Page(page_of(mmlu.path))
    notices = [text for _, _, text in page.by_class("notice")]
    assert any("does not hash to the sha256 the record states" in n for n in notices), notices
    assert not page.find(id="samples")


def test_the_run_card_lists_the_trust_gates_reasons(mmlu):
    from runlocalai_bench.publish.trust import check_gate, publishable_specs

    verdict = check_gate(load_record(mmlu.record), mmlu.path, publishable_specs())
    assert not verdict.ok
    page = Page(page_of(mmlu.path))
    gate = [i for i, (tag, a, _) in enumerate(page.elements) if a.get("data-field") == "gate"]
    shown = ["".join(text) for tag, _, text in page.elements[gate[0]:] if tag == "li"]
    assert shown[:len(verdict.reasons)] == list(verdict.reasons)
    card = {a["data-field"]: "".join(text) for _, a, text in page.elements
            if a.get("data-field")}
    assert card["signature"].endswith("unsigned") and "Q4_K_M" in card["quant"]


def test_unreadable_answers_are_their_own_outcome_and_counted(tmp_path):
    run = bench("selfcheck", tmp_path, lambda prompt: "zzz" if len(prompt) % 2 else "A")
    results = load_record(run.record).body.results
    assert results.counts["unparsed"] > 0
    (view,) = build_report([load_path(run.path)]).runs
    assert dict(view.headline.counts)["unparsed"] == results.counts["unparsed"]
    lines = {line["id"]: line for line in rundir.read_samples(run.samples)}
    assert {s.id for s in view.samples if s.outcome == "unparsed"} == \
        {i for i, line in lines.items() if line["status"] == "unparsed"}
    page = Page(page_of(run.path))
    ((_, _, counts),) = page.by_class("counts")
    assert f"unparsed {results.counts['unparsed']}" in counts


def test_the_page_names_a_run_under_home_with_a_tilde(mmlu):
    run = copy_run(mmlu, Path.home() / "runs")
    html = page_of(run.path)
    assert f"~/runs/{run.id}" in html and str(Path.home()) not in html


def test_an_old_record_without_its_samples_says_what_it_cannot_show(tmp_path):
    """A version 2 record rla wrote before `request` (tests/fixtures/runlog), alone with its
    run.log: the record's own scores, and a notice for the samples."""
    import shutil

    fixtures = Path(__file__).parents[1] / "fixtures" / "runlog"
    scored = shutil.copytree(fixtures / "scored", tmp_path / "scored")
    record = load_record(scored / "record.json")
    page = Page(page_of(scored))
    ((_, _, text),) = page.find(id="headline")
    assert text == f"{record.body.results.score * 100:.2f}%"
    ((_, count, _),) = page.find(id="subject-count")
    assert count["data-count"] == str(len(record.body.results.subtasks))
    notices = " ".join(text for _, _, text in page.by_class("notice"))
    assert "no samples.jsonl" in notices and not page.find(id="samples")
    speed = shutil.copytree(fixtures / "speed", tmp_path / "speed")
    page = Page(page_of(speed))
    counted = [r for r in load_record(speed / "record.json").body.speed.runs if r.counted]
    assert len(page.by_class("measured-run")) == len(counted) and page.find(id="ceiling-share")
