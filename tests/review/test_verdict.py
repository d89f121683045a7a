"""The quality verdict as the policy reads it: the headline within ±2 points decides; subjects
are diagnostics with a paired exact test on their flips; the hardware differing alone is the
editor's own rig (VERIFIED), not a related benchmark."""

from __future__ import annotations

import pytest

from runlocalai_bench.review.compare import compare_runs
from runlocalai_bench.review.dimensions import DimensionMatch
from runlocalai_bench.review.report import render_markdown
from runlocalai_bench.review.reproduce import Reproduction
from runlocalai_bench.review.scored import decide
from runlocalai_bench.review.verify import Finding, VerifyReport

OK = VerifyReport("x", "r", (Finding("files", "ok", "fine"),))
MATCH = tuple(DimensionMatch(n, "match", "a", "a") for n in ("model", "quantization",
                                                             "runtime", "hardware"))
OTHER_GPU = (*MATCH[:3], DimensionMatch("hardware", "differs", "rtx-4090", "h100-sxm",
                                        "GPU rtx-4090 ≠ h100-sxm"))


def samples(subject: str, right: int, n: int = 100, *, offset: int = 0) -> list[dict]:
    """n items of `subject`, ids 0…n-1; items offset … offset+right-1 answered right."""
    return [{"id": f"{subject}-{i}", "subtask": subject, "response": " A",
             "extracted": "A" if offset <= i < offset + right else "B",
             "score": 1.0 if offset <= i < offset + right else 0.0, "status": "ok"}
            for i in range(n)]


def results(lines: list[dict]) -> dict:
    by: dict[str, list[float]] = {}
    for line in lines:
        by.setdefault(line["subtask"], []).append(line["score"])
    return {"score": sum(line["score"] for line in lines) / len(lines), "n": len(lines),
            "subtasks": {k: {"score": sum(v) / len(v), "n": len(v)} for k, v in by.items()}}


def test_headline_at_1_9_points_reproduces_and_at_2_1_does_not():
    a = {"score": 0.500, "n": 1000, "subtasks": {}}
    within = compare_runs(a, {"score": 0.519, "n": 1000, "subtasks": {}}, [], [])
    beyond = compare_runs(a, {"score": 0.521, "n": 1000, "subtasks": {}}, [], [])
    verdict, reasons = decide(OK, [], MATCH, within)
    assert verdict == "reproduced"
    assert reasons[0].startswith("headline within ±2 pp (+1.9 pp, 50.0% → 51.9%)")
    verdict, reasons = decide(OK, [], MATCH, beyond)
    assert (verdict, reasons) == ("not reproduced",
                                  ("headline moved +2.1 pp (50.0% → 52.1%), beyond ±2 pp",))
    below = compare_runs(a, {"score": 0.481, "n": 1000, "subtasks": {}}, [], [])
    assert decide(OK, [], MATCH, below)[0] == "reproduced"
    assert decide(OK, [], MATCH, compare_runs(a, {"score": 0.479, "n": 1000, "subtasks": {}},
                                              [], []))[0] == "not reproduced"


def stable_rest() -> list[dict]:
    return [line for s in ("y", "z", "w", "v") for line in samples(s, 50)]


def test_a_subject_five_points_up_with_a_non_significant_test_still_reproduces():
    # x: 2 items lost and 7 gained (+5 points); McNemar exact p = 2·(1 + 9 + 36)/512
    a = samples("x", 50, offset=0) + stable_rest()
    b = samples("x", 55, offset=2) + stable_rest()
    comparison = compare_runs(results(a), results(b), a, b)
    x = next(d for d in comparison.subtasks if d.name == "x")
    assert x.delta_pp == pytest.approx(5.0) and x.moved
    assert (x.lost, x.gained) == (2, 7)
    assert x.p == pytest.approx(92 / 512)
    assert not x.significant and comparison.significant == ()
    assert comparison.headline.delta_pp == pytest.approx(1.0)
    assert len(comparison.flips) == 9
    assert {f.direction for f in comparison.flips} == {"lost", "gained"}
    verdict, reasons = decide(OK, [], MATCH, comparison)
    assert verdict == "reproduced"
    assert len(reasons) == 1  # nothing significant to name


def test_a_significant_subject_is_named_as_a_diagnostic_never_the_verdict():
    # x: 8 items gained, none lost: p = 2/256
    a = samples("x", 50) + stable_rest()
    b = samples("x", 58) + stable_rest()
    comparison = compare_runs(results(a), results(b), a, b)
    assert [d.name for d in comparison.significant] == ["x"]
    verdict, reasons = decide(OK, [], MATCH, comparison)
    assert verdict == "reproduced"
    assert reasons[1] == ("diagnostic, not the verdict: x +8.0 pp, 0 lost / 8 gained, McNemar "
                          "exact, two-sided p = 0.00781")
    low, high = comparison.delta_interval_pp
    assert 0.0 < low <= 1.6 <= high
    saved = comparison.to_json()
    assert saved["test"] == "McNemar exact, two-sided" and saved["tolerance_pp"] == 2.0
    assert saved["significant"] == ["x"]
    assert saved["flips"][0]["a"]["extracted"] == "B" and saved["flips"][0]["b"]["extracted"] \
        == "A"
    assert saved["headline"]["a_interval"] == pytest.approx([0.4564, 0.5436], abs=1e-4)


def test_only_the_hardware_differing_is_verified_on_the_editors_rig():
    a = samples("x", 50) + stable_rest()
    comparison = compare_runs(results(a), results(a), a, a)
    verdict, reasons = decide(OK, [], OTHER_GPU, comparison)
    assert verdict == "verified on the editor's rig"
    assert reasons[-1] == "only the hardware differs: original rtx-4090, re-run h100-sxm"
    moved = samples("x", 62) + stable_rest()
    assert decide(OK, [], OTHER_GPU, compare_runs(results(a), results(moved), a, moved))[0] \
        == "not reproduced"


def test_the_report_names_the_tolerance_and_the_test():
    a = samples("x", 50) + stable_rest()
    b = samples("x", 58) + stable_rest()
    comparison = compare_runs(results(a), results(b), a, b)
    verdict, reasons = decide(OK, [], OTHER_GPU, comparison)
    text = render_markdown(Reproduction(
        verdict, reasons, {"run_id": "r1", "origin": "o", "rig": "llama.cpp rtx-4090"},
        {"run_id": "r2", "rig": "llama.cpp h100-sxm"}, None, OK, OTHER_GPU, (), comparison))
    assert text.startswith("# Reproduction of r1: verified on the editor's rig")
    assert "tolerance ±2 pp on the headline" in text
    assert "McNemar exact, two-sided p (significant below 0.05)" in text
    assert "| x | 100 | 100 | 50.00 | 58.00 | +8.00 | 0 | 8 | 0.00781 | **significant** |" \
        in text
    assert "| x-50 | x | gained | 'B' score 0.0" in text
    assert "- original: 50.00% (95% Wilson" in text
