"""Aggregation shared by every benchmark kind: pure functions from sample results to Results.

- per subtask: n, correct, mean score, standard error of the mean;
- per category (when a subtask → category map is given): the same over the category's samples
  (micro, i.e. size-weighted, as lm-eval groups MMLU);
- overall: the micro average over all samples (the headline), the macro average over subtasks,
  the standard error of the headline and a 95% Wilson interval;
- counts of each sample status (ok, unparsed, fallback, error, …), errors included as wrong;
- partial: fewer samples than the full set (`--limit`, `--limit-per-subtask`, an unfinished run).

For 0/1 scores the standard error is the binomial one, sqrt(p(1 − p) / n); for fractional scores
it is the population standard deviation over sqrt(n), which reduces to the same formula.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from runlocalai_bench.types import Results, SampleResult, SubtaskScore

# Always present in Results.counts, so a zero is visible rather than absent.
BASE_STATUSES = ("ok", "unparsed", "fallback", "error")


def mean_stderr(scores: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (population variance / n); (0, 0) when empty."""
    n = len(scores)
    if n == 0:
        return 0.0, 0.0
    mean = math.fsum(scores) / n
    variance = math.fsum((s - mean) ** 2 for s in scores) / n
    return mean, math.sqrt(variance / n)


def binomial_stderr(p: float, n: int) -> float:
    """sqrt(p(1 − p) / n): the standard error of an accuracy p over n questions."""
    return math.sqrt(p * (1.0 - p) / n) if n > 0 else 0.0


def wilson_interval(successes: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval for a proportion (95% by default); (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _score_group(name: str, scores: Sequence[float], category: str | None = None) -> SubtaskScore:
    mean, stderr = mean_stderr(scores)
    return SubtaskScore(name=name, n=len(scores), correct=math.fsum(scores), score=mean,
                        stderr=stderr, category=category)


def status_counts(samples: Iterable[SampleResult]) -> dict[str, int]:
    counts = Counter(sample.status for sample in samples)
    return {status: counts.get(status, 0) for status in (*BASE_STATUSES, *sorted(counts))}


def aggregate(
    samples: Sequence[SampleResult],
    *,
    slug: str,
    metric: str,
    expected_n: int,
    categories: Mapping[str, str] | None = None,
) -> Results:
    """Scores per subtask (sorted by name), per category, micro and macro overall."""
    by_subtask: dict[str, list[float]] = {}
    for sample in samples:
        by_subtask.setdefault(sample.subtask, []).append(sample.score)
    categories = categories or {}
    subtasks = tuple(_score_group(name, by_subtask[name], categories.get(name))
                     for name in sorted(by_subtask))

    by_category: dict[str, list[float]] = {}
    for name in sorted(by_subtask):
        if name in categories:
            by_category.setdefault(categories[name], []).extend(by_subtask[name])
    category_scores = tuple(_score_group(name, by_category[name]) for name in sorted(by_category))

    all_scores = [sample.score for sample in samples]
    micro, stderr = mean_stderr(all_scores)
    macro = math.fsum(s.score for s in subtasks) / len(subtasks) if subtasks else 0.0
    low, high = wilson_interval(math.fsum(all_scores), len(all_scores))
    return Results(
        slug=slug,
        metric=metric,
        score=micro,
        stderr=stderr,
        n=len(all_scores),
        macro=macro,
        subtasks=subtasks,
        categories=category_scores,
        counts=status_counts(samples),
        extra={"wilson_low": low, "wilson_high": high},
        partial=len(all_scores) < expected_n,
        expected_n=expected_n,
    )
