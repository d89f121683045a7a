"""The reproduction report: reproduction.json for machines and reproduction.md for people, beside
the re-run. Every value taken from a record is written into the Markdown as inert text (no
markup, links or HTML can come through from a submission)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from runlocalai_bench.results import rundir
from runlocalai_bench.review.compare import RunComparison, ScoreDelta
from runlocalai_bench.review.reproduce import REPORT_JSON, REPORT_MD, Reproduction
from runlocalai_bench.review.speed import SpeedComparison

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!~])")
MAX_SAMPLE_ROWS = 30


def md(value: Any) -> str:
    text = " ".join(str(value).split())
    return _SPECIAL.sub(r"\\\1", text)


def _signer(block: Any) -> str:
    signer = block.get("signer") if block else None
    return f"signed by `{signer}`" if signer else "unsigned"


def _pct(value: float | None) -> str:
    return "absent" if value is None else f"{value * 100:.2f}"


def _delta_row(d: ScoreDelta, *, headline: bool = False) -> str:
    delta = "" if d.delta_pp is None else f"{d.delta_pp:+.2f}"
    note = ("**moved**" if d.moved else "within") if headline else \
        ("**significant**" if d.significant else "")
    return (f"| {md(d.name)} | {d.n_a} | {d.n_b} | {_pct(d.a)} | {_pct(d.b)} | {delta} | "
            f"{d.lost} | {d.gained} | {d.p:.3g} | {note} |")


def _flip_side(side: Any) -> str:
    return md(f"{side.get('extracted')!r} score {side.get('score')} "
              f"reply {str(side.get('response'))[:40]!r}")


def _scores(comparison: RunComparison) -> list[str]:
    head = comparison.headline
    lines = [f"## Scores (tolerance ±{head.tolerance_pp:g} pp on the headline)", "",
             md(comparison.method()) + ".", ""]
    if comparison.delta_interval_pp is not None:
        low, high = comparison.delta_interval_pp
        lines += [f"Headline Δ 95% paired bootstrap interval: [{low:+.2f}, {high:+.2f}] pp over "
                  f"the {comparison.compared} samples both runs scored.", ""]
    for name, d in (("original", "a"), ("re-run", "b")):
        interval = head.interval(d)
        if interval is not None:
            lines.append(f"- {name}: {_pct(head.a if d == 'a' else head.b)}% (95% Wilson "
                         f"{interval[0] * 100:.1f}–{interval[1] * 100:.1f})")
    lines += ["", "| | n original | n re-run | original % | re-run % | Δ pp | lost | gained | "
              "p | |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
              _delta_row(head, headline=True)]
    lines += [_delta_row(d) for d in comparison.subtasks]
    lines += ["", "## Samples", "",
              f"{comparison.agreeing} of {comparison.compared} samples identical (reply, "
              f"answer, score, status); {len(comparison.disagreements)} differ; "
              f"{len(comparison.flips)} flipped.", ""]
    if comparison.flips:
        lines += ["| id | subtask | | original | re-run |", "|---|---|---|---|---|"]
        lines += [f"| {md(f.id)} | {md(f.subtask)} | {f.direction} | {_flip_side(f.a)} | "
                  f"{_flip_side(f.b)} |" for f in comparison.flips[:MAX_SAMPLE_ROWS]]
        if len(comparison.flips) > MAX_SAMPLE_ROWS:
            lines.append(f"\n… {len(comparison.flips) - MAX_SAMPLE_ROWS} more in "
                         "reproduction.json")
        lines.append("")
    if comparison.disagreements:
        lines += ["| id | differs in | original | re-run |", "|---|---|---|---|"]
        for s in comparison.disagreements[:MAX_SAMPLE_ROWS]:
            def view(side: Any) -> str:
                return "absent" if side is None else _flip_side(side)

            lines.append(f"| {md(s.id)} | {md(', '.join(s.fields))} | {view(s.a)} | "
                         f"{view(s.b)} |")
        if len(comparison.disagreements) > MAX_SAMPLE_ROWS:
            lines.append(f"\n… {len(comparison.disagreements) - MAX_SAMPLE_ROWS} more in "
                         "reproduction.json")
        lines.append("")
    return lines


def _speed(comparison: SpeedComparison) -> list[str]:
    lines = [f"## Speed (medians of the counted runs; decode within "
             f"±{comparison.tolerance:.0%})", "",
             "| | original | re-run | ratio | change | |", "|---|---:|---:|---:|---:|---|"]
    for d in (comparison.decode, comparison.prefill, comparison.ttft):
        judged = d is comparison.decode
        verdict = ("within" if comparison.within else "**moved**") if judged \
            else "informational"
        cells = ["absent" if v is None else f"{v:.1f}" for v in (d.a, d.b)]
        ratio = "" if d.ratio is None else f"×{d.ratio:.2f}"
        change = "" if d.change is None else f"{d.change * 100:+.1f}%"
        lines.append(f"| {d.name} {d.unit} | {cells[0]} | {cells[1]} | {ratio} | {change} | "
                     f"{verdict} |")
    return [*lines, ""]


def render_markdown(r: Reproduction) -> str:
    original, rerun = r.original, r.reproduction
    independent = {True: "yes (signed by two different keys)",
                   False: "no (the same key signed both)",
                   None: "unknown (a side is unsigned)"}[r.independent]
    lines = [f"# Reproduction of {md(original.get('run_id'))}: {r.verdict}", ""]
    lines += [f"- {md(reason)}" for reason in r.reasons]
    lines += ["", f"- original: {md(original.get('origin'))}, rig {md(original.get('rig'))}, "
              f"{_signer(original)}"]
    if rerun is not None:
        lines.append(f"- re-run: {md(rerun.get('run_id'))}, rig {md(rerun.get('rig'))}, "
                     f"{_signer(rerun)}")
        lines.append(f"- independent: {independent}")
    lines.append("")
    if r.dimensions:
        lines += ["## Dimensions", "", "| dimension | original | re-run | | why |",
                  "|---|---|---|---|---|"]
        lines += [f"| {d.name} | {md(d.original)} | {md(d.local)} | {d.status} | "
                  f"{md(d.reason)} |" for d in r.dimensions]
        lines.append("")
    if r.configuration:
        lines += ["## Configuration differences", ""]
        lines += [f"- {md(c)}" for c in r.configuration]
        lines.append("")
    if r.comparison is not None:
        lines += _scores(r.comparison)
    if isinstance(r.speed, SpeedComparison):
        lines += _speed(r.speed)
    lines += ["## Verification of the original", ""]
    for f in r.integrity.findings:
        where = f" ({md(f.where())})" if f.where() else ""
        lines.append(f"- {f.status}: {f.check}{where}: {md(f.message)}")
    return "\n".join(lines) + "\n"


def write_report(reproduction: Reproduction, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / REPORT_JSON, directory / REPORT_MD
    rundir.write_json_atomic(json_path, reproduction.to_json())
    md_path.write_text(render_markdown(reproduction), encoding="utf-8")
    return json_path, md_path
