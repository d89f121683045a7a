"""McNemar's exact test against tables worked by hand, and the paired bootstrap's interval."""

from __future__ import annotations

import random
import statistics

import pytest

from runlocalai_bench.stats import mcnemar_exact, paired_bootstrap, wilson_interval


@pytest.mark.parametrize(("lost", "gained", "p"), [
    # n = 5, min 0: 2 · C(5,0) / 2^5 = 2/32
    (0, 5, 0.0625),
    # n = 5, min 1: 2 · (1 + 5) / 32 = 12/32
    (1, 4, 0.375),
    (4, 1, 0.375),
    # n = 10, min 2: 2 · (1 + 10 + 45) / 1024 = 112/1024
    (2, 8, 0.109375),
    # n = 6, min 0: 2/64
    (6, 0, 0.03125),
    # n = 3, min 1: 2 · (1 + 3) / 8 = 1 (capped)
    (1, 2, 1.0),
    # ties and no flips are no evidence
    (3, 3, 1.0),
    (0, 0, 1.0),
    # n = 1: 2 · 1/2 = 1
    (0, 1, 1.0),
    # n = 12, min 2: 2 · (1 + 12 + 66) / 4096 = 158/4096
    (2, 10, 158 / 4096),
])
def test_mcnemar_exact_against_hand_computed_tables(lost, gained, p):
    assert mcnemar_exact(lost, gained) == pytest.approx(p, rel=1e-12)


def test_mcnemar_exact_thousands_of_flips_do_not_underflow():
    assert mcnemar_exact(1000, 1000) == 1.0
    assert 0.0 < mcnemar_exact(900, 1100) < 1e-5


def test_mcnemar_refuses_negative_counts():
    with pytest.raises(ValueError, match="negative"):
        mcnemar_exact(-1, 3)


def test_wilson_interval_is_the_metrics_one():
    low, high = wilson_interval(50, 100)
    assert (round(low, 4), round(high, 4)) == (0.4038, 0.5962)


def test_paired_bootstrap_identical_runs_give_zero_width():
    scores = [1.0, 0.0, 1.0, 1.0] * 25
    assert paired_bootstrap(scores, scores) == (0.0, 0.0)
    assert paired_bootstrap([], []) == (0.0, 0.0)


def test_paired_bootstrap_every_item_moved_the_same_way():
    assert paired_bootstrap([0.0] * 40, [1.0] * 40) == (1.0, 1.0)


def test_paired_bootstrap_is_seeded_and_covers_the_observed_delta():
    rng = random.Random(7)
    a = [float(rng.random() < 0.6) for _ in range(400)]
    b = [x if rng.random() < 0.85 else 1.0 - x for x in a]
    delta = (sum(b) - sum(a)) / len(a)
    low, high = paired_bootstrap(a, b)
    assert paired_bootstrap(a, b) == (low, high)
    assert paired_bootstrap(a, b, seed=1) != (low, high)
    assert low < delta < high
    assert paired_bootstrap(a, b, level=0.5)[1] - paired_bootstrap(a, b, level=0.5)[0] \
        < high - low


def test_paired_bootstrap_matches_resampling_the_pairs_directly():
    """The multinomial shortcut draws the same distribution as resampling items one by one."""
    rng = random.Random(3)
    a = [float(rng.random() < 0.5) for _ in range(300)]
    b = [x if rng.random() < 0.8 else 1.0 - x for x in a]
    pairs = list(zip(a, b, strict=True))
    direct = []
    for _ in range(3000):
        drawn = rng.choices(pairs, k=len(pairs))
        direct.append(sum(y - x for x, y in drawn) / len(pairs))
    direct.sort()
    low, high = paired_bootstrap(a, b, resamples=3000)
    assert low == pytest.approx(direct[75], abs=0.012)
    assert high == pytest.approx(direct[2924], abs=0.012)
    flips = [y - x for x, y in pairs]
    spread = statistics.pstdev(flips) / len(flips) ** 0.5
    assert high - low == pytest.approx(2 * 1.96 * spread, rel=0.15)


def test_paired_bootstrap_refuses_unpaired_scores():
    with pytest.raises(ValueError, match="same items"):
        paired_bootstrap([1.0], [1.0, 0.0])
