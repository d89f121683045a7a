from __future__ import annotations

import math

import pytest

from runlocalai_bench.scoring.metrics import (
    aggregate,
    binomial_stderr,
    mean_stderr,
    status_counts,
    wilson_interval,
)
from runlocalai_bench.types import SampleResult


def sample(subtask: str, score: float, status: str = "ok", n: int = 0) -> SampleResult:
    return SampleResult(id=f"{subtask}/test/{n}", subtask=subtask, prompt="", response="",
                        target="A", extracted="A", score=score, status=status)


# 3/4 in algebra (stem), 1/2 in law (humanities), 0/1 in physics (stem) with one error row.
SAMPLES = [
    sample("algebra", 1, n=0), sample("algebra", 1, n=1), sample("algebra", 0, "unparsed", n=2),
    sample("algebra", 1, "fallback", n=3),
    sample("law", 1, n=0), sample("law", 0, n=1),
    sample("physics", 0, "error", n=0),
]
CATEGORIES = {"algebra": "stem", "physics": "stem", "law": "humanities"}


def test_micro_macro_subtasks_and_categories() -> None:
    r = aggregate(SAMPLES, slug="mmlu", metric="accuracy", expected_n=7, categories=CATEGORIES)
    assert (r.slug, r.metric, r.n, r.expected_n, r.partial) == ("mmlu", "accuracy", 7, 7, False)
    assert r.score == pytest.approx(4 / 7)  # micro: the headline
    assert r.macro == pytest.approx((3 / 4 + 1 / 2 + 0) / 3)
    assert [(s.name, s.n, s.correct, s.category) for s in r.subtasks] == [
        ("algebra", 4, 3, "stem"), ("law", 2, 1, "humanities"), ("physics", 1, 0, "stem")]
    assert [(c.name, c.n, c.score) for c in r.categories] == [
        ("humanities", 2, pytest.approx(0.5)), ("stem", 5, pytest.approx(3 / 5))]
    assert r.stderr == pytest.approx(math.sqrt((4 / 7) * (3 / 7) / 7))
    assert r.subtasks[0].stderr == pytest.approx(math.sqrt(0.75 * 0.25 / 4))
    assert r.counts == {"ok": 4, "unparsed": 1, "fallback": 1, "error": 1}
    assert r.extra["wilson_low"] < r.score < r.extra["wilson_high"]


def test_partial_when_fewer_samples_than_expected() -> None:
    r = aggregate(SAMPLES[:3], slug="mmlu", metric="accuracy", expected_n=7)
    assert r.partial and r.n == 3 and r.expected_n == 7
    assert r.categories == ()  # no map, no categories
    assert all(s.category is None for s in r.subtasks)


def test_empty() -> None:
    r = aggregate([], slug="mmlu", metric="accuracy", expected_n=10)
    assert (r.score, r.macro, r.n, r.partial, r.subtasks) == (0.0, 0.0, 0, True, ())


def test_stderr_matches_the_binomial_formula_for_zero_one_scores() -> None:
    scores = [1.0] * 37 + [0.0] * 63
    mean, stderr = mean_stderr(scores)
    assert mean == pytest.approx(0.37)
    assert stderr == pytest.approx(binomial_stderr(0.37, 100))
    assert binomial_stderr(0.37, 100) == pytest.approx(math.sqrt(0.37 * 0.63 / 100))
    assert binomial_stderr(0.5, 0) == 0.0


def test_wilson_interval_known_values() -> None:
    # Reference values: Wilson (1927) 95% interval, as computed by statsmodels'
    # proportion_confint(method="wilson").
    low, high = wilson_interval(8, 10)
    assert (low, high) == (pytest.approx(0.4902, abs=1e-4), pytest.approx(0.9433, abs=1e-4))
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and high == pytest.approx(0.1611, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_status_counts_keep_zeroes_and_unknown_kinds() -> None:
    counts = status_counts([sample("a", 0, "timeout")])
    assert counts == {"ok": 0, "unparsed": 0, "fallback": 0, "error": 0, "timeout": 1}
