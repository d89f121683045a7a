"""Scores as a record states them, and the exact differences between two statements of them.

Both record.json's `results` block and results.json describe one Results; `results_block` puts
any of them into the record's shape (subtasks and categories keyed by name) so a claim and a
recomputation compare field by field, each difference named by its dotted path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runlocalai_bench.results.jsontypes import encode
from runlocalai_bench.results.recordtypes import Results as RecordResults
from runlocalai_bench.types import Results, SubtaskScore

HEADLINE_FIELDS = ("metric", "score", "stderr", "macro", "n")
ROW_FIELDS = ("n", "correct", "score", "stderr", "category")


@dataclass(frozen=True)
class Mismatch:
    field: str
    claimed: Any
    computed: Any

    def describe(self) -> str:
        return f"{self.field}: claimed {_show(self.claimed)}, recomputed {_show(self.computed)}"


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "absent" if value is None else repr(value)


def _rows(rows: Any) -> dict[str, dict[str, Any]]:
    if isinstance(rows, Mapping):
        return {str(k): dict(v) for k, v in rows.items() if isinstance(v, Mapping)}
    if isinstance(rows, list):  # results.json: a list of SubtaskScore dicts
        return {str(r["name"]): {k: v for k, v in r.items() if k != "name"}
                for r in rows if isinstance(r, Mapping) and "name" in r}
    return {}


def results_block(results: Results | RecordResults | Mapping[str, Any]) -> dict[str, Any]:
    """Results, results.json or record.json's `results` (typed or as JSON) as the record's
    block."""
    if isinstance(results, RecordResults):
        return results_block(encode(results))
    if isinstance(results, Results):
        def rows(scores: tuple[SubtaskScore, ...]) -> dict[str, dict[str, Any]]:
            return {s.name: {"n": s.n, "correct": s.correct, "score": s.score,
                             "stderr": s.stderr, "category": s.category} for s in scores}

        return {"metric": results.metric, "score": results.score, "stderr": results.stderr,
                "macro": results.macro, "n": results.n, "expected_n": results.expected_n,
                "partial": results.partial, "subtasks": rows(results.subtasks),
                "categories": rows(results.categories), "counts": dict(results.counts)}
    out = {k: results.get(k) for k in (*HEADLINE_FIELDS, "expected_n", "partial")}
    out["subtasks"] = _rows(results.get("subtasks"))
    out["categories"] = _rows(results.get("categories"))
    counts = results.get("counts")
    out["counts"] = dict(counts) if isinstance(counts, Mapping) else {}
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    return bool(a == b)


def score_mismatches(claimed: RecordResults | Mapping[str, Any],
                     computed: RecordResults | Mapping[str, Any], *,
                     prefix: str = "results",
                     fields: tuple[str, ...] = HEADLINE_FIELDS) -> list[Mismatch]:
    """Every difference between two results blocks: headline fields, each subtask and category
    row, and each status count."""
    a, b = results_block(claimed), results_block(computed)
    out = [Mismatch(f"{prefix}.{f}", a.get(f), b.get(f)) for f in fields
           if not _same(a.get(f), b.get(f))]
    for group in ("subtasks", "categories"):
        rows_a, rows_b = a[group], b[group]
        for name in sorted(set(rows_a) | set(rows_b)):
            if name not in rows_a or name not in rows_b:
                out.append(Mismatch(f"{prefix}.{group}.{name}", rows_a.get(name),
                                    rows_b.get(name)))
                continue
            for f in ROW_FIELDS:
                va, vb = rows_a[name].get(f), rows_b[name].get(f)
                if not _same(va, vb):
                    out.append(Mismatch(f"{prefix}.{group}.{name}.{f}", va, vb))
    counts_a, counts_b = a["counts"], b["counts"]
    for status in sorted(set(counts_a) | set(counts_b)):
        ca, cb = counts_a.get(status, 0), counts_b.get(status, 0)
        if ca != cb:
            out.append(Mismatch(f"{prefix}.counts.{status}", ca, cb))
    return out
