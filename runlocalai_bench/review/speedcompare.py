"""Two speed runs side by side: the median decode tok/s decides, prefill tok/s and TTFT are
shown for information. Pure functions over record `speed` sections.

The policy is REFERENCE §1: "Tok/s reproductions land within about 10% of the original", so a
re-run reproduces a speed row when its median decode tok/s is within ±10% of the original's.
Prefill and TTFT depend more on the prompt path and the transport than decode does; they are
reported, never judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runlocalai_bench.speed.protocol import Stat, Summary

# REFERENCE §1: "Tok/s reproductions land within about 10% of the original". A fraction of the
# original's median decode tok/s, either way. Not in tasks/speed.toml: that spec's sha256 is
# pinned in every record, and the band is the editor's policy, not the run's methodology.
SPEED_TOLERANCE = 0.10
FIGURES = (("decode", "decode_tps", "tok/s"), ("prefill", "prefill_tps", "tok/s"),
           ("TTFT", "ttft_ms", "ms"))


@dataclass(frozen=True)
class FigureDelta:
    name: str  # decode | prefill | TTFT
    unit: str
    a: float | None  # the original's median; None when the record has none
    b: float | None  # the re-run's

    @property
    def ratio(self) -> float | None:
        if self.a is None or self.b is None or self.a <= 0:
            return None
        return self.b / self.a

    @property
    def change(self) -> float | None:
        """(b - a) / a: +0.05 is 5% higher."""
        ratio = self.ratio
        return None if ratio is None else ratio - 1.0

    def describe(self) -> str:
        if self.a is None or self.b is None:
            return f"{self.name} {_num(self.a)} → {_num(self.b)} {self.unit}"
        change = self.change
        shown = "" if change is None else f" (×{self.ratio:.2f}, {change * 100:+.1f}%)"
        return f"{self.name} {self.a:.1f} → {self.b:.1f} {self.unit}{shown}"


@dataclass(frozen=True)
class SpeedComparison:
    decode: FigureDelta
    prefill: FigureDelta
    ttft: FigureDelta
    tolerance: float = SPEED_TOLERANCE

    @property
    def within(self) -> bool:
        """The re-run's median decode tok/s is within ±tolerance of the original's."""
        change = self.decode.change
        # an epsilon: 440 / 400 is 1.1000000000000001, which must not fall outside ±10%
        return change is not None and abs(change) <= self.tolerance + 1e-9

    def __rich__(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=Text(f"speed (median of the counted runs; decode within "
                                 f"±{self.tolerance:.0%})"), title_justify="left")
        for column, justify in (("", "left"), ("original", "right"), ("re-run", "right"),
                                ("ratio", "right"), ("change", "right"), ("", "left")):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for d in (self.decode, self.prefill, self.ttft):
            judged = d is self.decode
            verdict = ("within" if self.within else "moved") if judged else "informational"
            table.add_row(f"{d.name} {d.unit}", _num(d.a), _num(d.b),
                          "" if d.ratio is None else f"×{d.ratio:.2f}",
                          "" if d.change is None else f"{d.change * 100:+.1f}%", verdict)
        return table

    def to_json(self) -> dict[str, Any]:
        def figure(d: FigureDelta) -> dict[str, Any]:
            return {"unit": d.unit, "original": d.a, "reproduction": d.b, "ratio": d.ratio,
                    "change": d.change}

        return {"tolerance": self.tolerance, "within": self.within,
                "decode_tps": figure(self.decode), "prefill_tps": figure(self.prefill),
                "ttft_ms": figure(self.ttft)}


def _num(value: float | None) -> str:
    return "absent" if value is None else f"{value:.1f}"


def median_of(summary: Summary, key: str) -> float | None:
    """The median of one figure of the counted runs (decode_tps, prefill_tps, ttft_ms)."""
    stat: Stat = getattr(summary, key)
    return None if stat.median is None else float(stat.median)


def compare_speed(original: Summary, rerun: Summary, *,
                  tolerance: float = SPEED_TOLERANCE) -> SpeedComparison:
    """`original` and `rerun` are the records' speed summaries."""
    decode, prefill, ttft = (FigureDelta(name, unit, median_of(original, key),
                                         median_of(rerun, key)) for name, key, unit in FIGURES)
    return SpeedComparison(decode, prefill, ttft, tolerance)
