"""Statistics for comparing two runs of the same items: pure functions over scores.

    wilson_interval     a proportion's 95% Wilson score interval (scoring.metrics owns it)
    mcnemar_exact       the paired exact test on the items that flipped: two-sided p from the
                        binomial(flips, 1/2), as statsmodels' `mcnemar(exact=True)` computes it
    paired_bootstrap    a seeded percentile bootstrap interval on mean(b) − mean(a), resampling
                        items (pairs), never the two runs apart

Two runs of one benchmark score the same questions, so their scores are paired data: what
carries information is the items that changed, not the two totals. An item lost (right in A,
wrong in B) and an item gained are the discordant pairs; under "no difference" each flip is a
fair coin.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction

from runlocalai_bench.scoring.metrics import wilson_interval

__all__ = ["BOOTSTRAP_RESAMPLES", "BOOTSTRAP_SEED", "SIGNIFICANCE", "mcnemar_exact",
           "paired_bootstrap", "wilson_interval"]

SIGNIFICANCE = 0.05  # a p below this is highlighted; it never decides a verdict alone
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20260501  # fixed: the same two runs always print the same interval
BOOTSTRAP_LEVEL = 0.95


def mcnemar_exact(lost: int, gained: int) -> float:
    """Two-sided exact McNemar p for `lost` items right in A and wrong in B and `gained` the
    other way: 2 · P(X ≤ min) for X ~ Binomial(lost + gained, 1/2), capped at 1; 1 with no
    flips. Computed in exact rational arithmetic (no underflow at thousands of flips)."""
    if lost < 0 or gained < 0:
        raise ValueError(f"flip counts cannot be negative: {lost}, {gained}")
    n = lost + gained
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(lost, gained) + 1))
    return float(min(Fraction(1), Fraction(2 * tail, 2**n)))


def _binomial(rng: random.Random, trials: int, p: float) -> int:
    """An exact Binomial(trials, p) draw by geometric skips between successes: O(trials · p)
    draws, cheap when p is small (flips are rare), and the complement when p is over 1/2."""
    if trials <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return trials
    if p > 0.5:
        return trials - _binomial(rng, trials, 1.0 - p)
    log_q = math.log1p(-p)
    successes, position = 0, 0
    while True:
        # the index of the next success is a Geometric(p) draw past the current position
        position += int(math.log(1.0 - rng.random()) / log_q) + 1
        if position > trials:
            return successes
        successes += 1


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *,
                     resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                     level: float = BOOTSTRAP_LEVEL) -> tuple[float, float]:
    """The percentile interval of mean(b) − mean(a) over `resamples` resamples of the pairs
    (a[i], b[i]), drawn with a Random seeded by `seed`. Only the per-item differences matter, so
    a resample is a multinomial draw of how often each distinct difference appears (exact, and
    fast when most items did not change). (0, 0) for no items."""
    if len(a) != len(b):
        raise ValueError(f"paired scores need the same items: {len(a)} and {len(b)}")
    n = len(a)
    if n == 0:
        return 0.0, 0.0
    counts = Counter(y - x for x, y in zip(a, b, strict=True))
    values = sorted((v for v in counts if v != 0), key=lambda v: -counts[v])
    rng = random.Random(seed)
    means: list[float] = []
    for _ in range(resamples):
        left, rest, total = n, n, 0.0
        for value in values:  # sequential conditional binomials; the zeros take the rest
            share = counts[value] / rest
            drawn = _binomial(rng, left, share)
            total += drawn * value
            left -= drawn
            rest -= counts[value]
        means.append(total / n)
    means.sort()
    tail = (1.0 - level) / 2.0
    low = means[min(resamples - 1, math.floor(tail * resamples))]
    high = means[min(resamples - 1, math.ceil((1.0 - tail) * resamples) - 1)]
    return low, high
