"""The charts as inline SVG, readable without JS: each row is a `<g data-subject>` with a
`<title>` naming its figures, the chart a `<title>`/`<desc>` and role="img" with an aria label.

    score_chart   per-subject scores as bars with Wilson 95% whiskers, grouped by category
                  (a header row per category with its own score), and the chance line
    delta_chart   per-subject B − A in points, bars from zero, lost/gained flips and McNemar p
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from runlocalai_bench.report.model import Bar
from runlocalai_bench.review.compare import ScoreDelta

WIDTH = 860
X0 = 250  # where the plot starts; labels to its left
PLOT = 400
ROW = 18


def _x(fraction: float) -> float:
    return round(X0 + max(0.0, min(1.0, fraction)) * PLOT, 1)


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _frame(ident: str, height: int, title: str, desc: str, body: list[str],
           width: int = WIDTH) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'aria-labelledby="{ident}-title {ident}-desc">'
            f'<title id="{ident}-title">{escape(title)}</title>'
            f'<desc id="{ident}-desc">{escape(desc)}</desc>{"".join(body)}</svg>')


def _axis(y: int, ticks: Sequence[tuple[float, str]]) -> list[str]:
    out = []
    for fraction, label in ticks:
        x = _x(fraction)
        out.append(f'<line class="grid" x1="{x}" y1="0" x2="{x}" y2="{y}"/>'
                   f'<text class="tick" x="{x}" y="{y + 12}" text-anchor="middle">'
                   f'{escape(label)}</text>')
    return out


def score_chart(ident: str, bars: Sequence[Bar], categories: Sequence[Bar],
                chance: float | None, title: str) -> str:
    by_category = {c.name: c for c in categories}
    rows: list[str] = []
    y = 4
    current: object = object()
    for b in bars:
        if b.category != current:
            current = b.category
            if b.category is not None:
                head = by_category.get(b.category)
                figure = f" {_pct(head.score)} (n={head.n})" if head else ""
                rows.append(f'<text class="category" x="4" y="{y + 13}">'
                            f'{escape(b.category)}{escape(figure)}</text>')
                y += ROW
        tip = (f"{b.name}: {_pct(b.score)}, 95% interval {_pct(b.low)} to {_pct(b.high)}, "
               f"n={b.n}")
        mid = y + ROW // 2
        rows.append(
            f'<g class="subject" data-subject="{escape(b.name)}" role="listitem">'
            f'<title>{escape(tip)}</title>'
            f'<text class="label" x="{X0 - 6}" y="{mid + 4}" text-anchor="end">'
            f'{escape(b.name)}</text>'
            f'<rect class="bar" x="{X0}" y="{y + 3}" width="{_x(b.score) - X0}" '
            f'height="{ROW - 6}"/>'
            f'<line class="whisker" x1="{_x(b.low)}" y1="{mid}" x2="{_x(b.high)}" y2="{mid}"/>'
            f'<line class="whisker" x1="{_x(b.low)}" y1="{mid - 4}" x2="{_x(b.low)}" '
            f'y2="{mid + 4}"/><line class="whisker" x1="{_x(b.high)}" y1="{mid - 4}" '
            f'x2="{_x(b.high)}" y2="{mid + 4}"/>'
            f'<text class="value" x="{X0 + PLOT + 8}" y="{mid + 4}">{_pct(b.score)} '
            f'[{b.low * 100:.1f}, {b.high * 100:.1f}] n={b.n}</text></g>')
        y += ROW
    body = _axis(y, [(t / 4, f"{t * 25}%") for t in range(5)]) + rows
    if chance is not None:
        x = _x(chance)
        body.append(f'<line class="chance" x1="{x}" y1="0" x2="{x}" y2="{y}"/>'
                    f'<text class="chance-label" x="{x + 3}" y="{y + 24}">chance '
                    f'{_pct(chance)}</text>')
    desc = (f"{len(bars)} subjects, bars are scores with 95% Wilson intervals"
            + (f"; chance is {_pct(chance)}" if chance is not None else "") + ". "
            + "; ".join(f"{b.name} {_pct(b.score)}" for b in bars))
    return _frame(ident, y + 30, title, desc, ["<g role=\"list\">", *body, "</g>"])


def delta_chart(ident: str, deltas: Sequence[ScoreDelta], title: str) -> str:
    shown = [d for d in deltas if d.delta_pp is not None]
    reach = max([5.0, *(abs(d.delta_pp or 0.0) for d in shown)])
    zero = _x(0.5)
    rows: list[str] = []
    y = 4
    for d in deltas:
        delta = d.delta_pp
        mid = y + ROW // 2
        figure = "absent in one run" if delta is None else \
            f"{delta:+.1f} pp, lost {d.lost}, gained {d.gained}, p={d.p:.3g}"
        width = 0.0 if delta is None else abs(delta) / reach * PLOT / 2
        x = zero if delta is None or delta >= 0 else zero - width
        kind = "gain" if (delta or 0) >= 0 else "loss"
        mark = " significant" if d.significant else ""
        rows.append(
            f'<g class="subject{mark}" data-subject="{escape(d.name)}" role="listitem">'
            f'<title>{escape(d.name)}: {escape(figure)}</title>'
            f'<text class="label" x="{X0 - 6}" y="{mid + 4}" text-anchor="end">'
            f'{escape(d.name)}</text>'
            f'<rect class="bar {kind}" x="{round(x, 1)}" y="{y + 3}" width="{round(width, 1)}" '
            f'height="{ROW - 6}"/>'
            f'<text class="value" x="{X0 + PLOT + 8}" y="{mid + 4}">{escape(figure)}</text></g>')
        y += ROW
    body = _axis(y, [(0.0, f"{-reach:+.0f} pp"), (0.5, "0"), (1.0, f"{reach:+.0f} pp")]) + rows
    desc = f"{len(deltas)} subjects, B minus A in percentage points. " + "; ".join(
        f"{d.name} " + ("absent" if d.delta_pp is None else f"{d.delta_pp:+.1f}")
        for d in deltas)
    # its figures ("+100.0 pp, lost 0, gained 2, p=0.5") run longer than a score's
    return _frame(ident, y + 30, title, desc, ["<g role=\"list\">", *body, "</g>"],
                  width=WIDTH + 140)
