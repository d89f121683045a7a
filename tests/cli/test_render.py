"""The results table shows each score's 95% Wilson interval beside its standard error, and
still fits 80 columns with MMLU's longest subject name."""

from __future__ import annotations

from rich.console import Console

from runlocalai_bench.cli.render import results_table
from runlocalai_bench.scoring.metrics import aggregate
from runlocalai_bench.types import SampleResult

LONGEST = "high_school_government_and_politics"


def test_every_row_has_its_wilson_interval_within_80_columns():
    samples = [SampleResult(str(i), LONGEST if i % 2 else "abstract_algebra", "", "", "A", "A",
                            float(i % 3 == 0), "ok") for i in range(300)]
    results = aggregate(samples, slug="mmlu", metric="accuracy", expected_n=300,
                        categories={"abstract_algebra": "STEM", LONGEST: "social sciences"})
    console = Console(width=80, record=True)
    console.print(results_table(results))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    row = next(line for line in lines if LONGEST in line)
    assert row.split("│")[1:6] == [f" {LONGEST} ", " 150 ", "     33.3 ", "  3.8 ",
                                    "  26.3–41.2 "]
    headline = next(line for line in lines if "micro (headline)" in line)
    assert headline.split("│")[5] == "  28.2–38.8 "
