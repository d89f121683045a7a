"""The Report as one self-contained HTML page.

The summary (run card or card diff, headline, charts, speed table, notices) is rendered here
as HTML and inline SVG, so it reads and prints without JS. The samples travel as JSON in a
`<script type="application/json" id="report-data">` (every `<` escaped as `\\u003c`, so no text
can close the script), and assets/report.js turns them into the paginated sample browser.
A prompt's leading context up to its last blank line (the header and few-shot examples MMLU
repeats for every question of a subject) is stored once in `prefixes` and referenced by index.

    data = {"mode": "run" | "compare", "labels": [...], "prefixes": [text, ...],
            "runs": [[sample, ...], ...],        # one list per run
            "flips": {id: [bucket, diff]}}       # compare mode
    sample = [id, subject, outcome, prefix index (-1: none), prompt after it, response,
              extracted, gold, [[letter, logprob], ...], failing input, error,
              expected output, output got]   # the last four: null where none
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from html import escape
from importlib import resources
from typing import Any

from runlocalai_bench.report.build import Report
from runlocalai_bench.report.comparison import Comparison, Pair
from runlocalai_bench.report.model import Field, Headline, RunView, Sample, SpeedView
from runlocalai_bench.report.svg import delta_chart, score_chart

OUTCOME_LABELS = {"correct": "correct", "wrong": "wrong", "unparsed": "unparsed",
                  "error": "error", "base-fail": "base fail", "plus-fail": "plus-only fail",
                  "timeout": "timeout", "sandbox-kill": "sandbox kill"}
MIN_PREFIX = 200  # shorter leading context is kept in the sample itself


def asset(name: str) -> str:
    return resources.files("runlocalai_bench.report").joinpath("assets", name).read_text("utf-8")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def _num(value: float | None, unit: str = "") -> str:
    return "—" if value is None else f"{value:.1f}{unit}"


def _notices(notices: Sequence[str], ident: str | None = None) -> str:
    attr = f' id="{ident}"' if ident else ""
    return "".join(f'<p class="notice" role="note"{attr}>{escape(n)}</p>' for n in notices)


def _value(value: str, href: str | None) -> str:
    if href and href.startswith("https://"):
        return f'<a href="{escape(href)}" rel="noopener">{escape(value)}</a>'
    return escape(value)


def _cell(f: Field) -> str:
    if not f.items:
        return _value(f.value, f.href)
    items = "".join(f"<li>{escape(item)}</li>" for item in f.items)
    return f"{escape(f.value.split(':', 1)[0])}<ul>{items}</ul>"


def run_card(view: RunView, ident: str | None) -> str:
    rows = "".join(f'<tr data-field="{f.key}"><th scope="row">{escape(f.label)}</th>'
                   f"<td>{_cell(f)}</td></tr>" for f in view.card)
    attr = f' id="{ident}"' if ident else ""
    return (f'<table class="run-card"{attr}><caption>Run {escape(view.label)}: '
            f"{escape(view.origin)}</caption><tbody>{rows}</tbody></table>")


def card_diff(c: Comparison, views: Sequence[RunView]) -> str:
    differs = ' class="differs"'
    rows = "".join(
        f'<tr data-field="{r.key}"{differs if r.differs else ""}>'
        f'<th scope="row">{escape(r.label)}</th>'
        + "".join(f"<td>{escape(v)}</td>" for v in r.values)
        + f'<td>{"differs" if r.differs else ""}</td></tr>' for r in c.card)
    runs = ", ".join(f"{v.label} {v.origin}" for v in views)
    heads = "".join(f'<th scope="col">{escape(v.label)}</th>' for v in views)
    return (f'<table id="card-diff"><caption>Run cards: {escape(runs)}; differing fields '
            f'highlighted</caption><thead><tr><th scope="col">field</th>{heads}'
            f'<th scope="col"></th></tr></thead><tbody>{rows}</tbody></table>')


def headline(h: Headline, label: str, ident: str | None) -> str:
    attr = f' id="{ident}"' if ident else ""
    counts = ", ".join(f"{name} {'—' if n is None else n}" for name, n in h.counts)
    chance = "no chance level" if h.chance is None else f"chance {_pct(h.chance)}"
    return (f'<div class="headline-box"><p><span class="run-label">{escape(label)}</span> '
            f'{escape(h.metric)}: <strong class="headline"{attr} data-value="{h.score:.4f}">'
            f'{_pct(h.score)}</strong> <span class="interval">95% Wilson interval '
            f"{_pct(h.low)} – {_pct(h.high)}</span>, n = {h.n}; {chance}</p>"
            f'<p class="counts">{escape(counts)}</p></div>')


def speed_table(s: SpeedView, label: str, ident: str | None) -> str:
    attr = f' id="{ident}"' if ident else ""
    rows = "".join(f'<tr class="measured-run"><th scope="row">{escape(r.label)}</th>'
                   f"<td>{_num(r.decode_tps)}</td><td>{_num(r.prefill_tps)}</td>"
                   f"<td>{_num(r.ttft_ms)}</td><td>{r.generated_tokens or '—'}</td></tr>"
                   for r in s.rows)
    spread = "—" if s.spread is None else f"{s.spread * 100:.1f}%"
    share = "—" if s.share is None else f"{s.share * 100:.1f}%"
    share_id = ' id="ceiling-share"' if ident else ""
    value = "" if s.share is None else f' data-value="{s.share:.4f}"'
    return (f'<section class="speed"{attr}><h2>Speed, run {escape(label)}</h2>'
            f"<table><caption>Measured runs (warm-up discarded)</caption><thead><tr>"
            f'<th scope="col">run</th><th scope="col">decode tok/s</th>'
            f'<th scope="col">prefill tok/s</th><th scope="col">TTFT ms</th>'
            f'<th scope="col">tokens</th></tr></thead><tbody>{rows}</tbody></table>'
            f"<p>median decode {_num(s.median_decode, ' tok/s')}; spread {spread} "
            f"(re-run at {s.threshold * 100:.0f}%); verdict {escape(s.verdict)}</p>"
            f"<p>ceiling {_num(s.ceiling_tps, ' tok/s')}: <strong{share_id}{value}>{share}"
            f"</strong> of it reached <span class=\"basis\">({escape(s.basis)})</span></p>"
            "</section>")


def subjects(view: RunView, ident: str | None) -> str:
    attr = f' id="{ident}"' if ident else ""
    chart = score_chart(f"chart-{view.label}", view.bars, view.categories,
                        view.headline.chance if view.headline else None,
                        f"Per-subject scores, run {view.label}")
    cid = ' id="subject-count"' if ident else ""
    return (f'<section class="subjects"{attr}><h2>Subjects, run {escape(view.label)}</h2>'
            f'<p><span{cid} data-count="{len(view.bars)}">{len(view.bars)}</span> subjects'
            f"{f', {len(view.categories)} categories' if view.categories else ''}; bars with "
            f"95% Wilson whiskers, best first within each category</p>{chart}</section>")


def delta_section(pair: Pair, a: str, first: bool) -> str:
    """A against one other run; the first pair's section and chart carry the page's ids."""
    s, b = pair.scores, pair.label
    if s is None:
        return ""
    h = s.headline
    attr = ' id="delta"' if first else ""
    if not s.comparable:
        fa, fb = (f"{x * 100:.2f}%" if x is not None else "—" for x in (h.a, h.b))
        return (f'<section class="delta"{attr}><h2>{a} vs {b}</h2><p>{a} {fa}, {b} {fb}: the '
                "runs asked other prompts, so no item is compared with itself: no paired "
                "test, no flips.</p></section>")
    interval = "" if s.delta_interval_pp is None else \
        f" [{s.delta_interval_pp[0]:+.2f}, {s.delta_interval_pp[1]:+.2f}] (paired bootstrap 95%)"
    delta = "—" if h.delta_pp is None else f"{h.delta_pp:+.2f} pp"
    chart = delta_chart(f"chart-delta-{b}", s.subtasks, f"Per-subject change, {b} minus {a}")
    count, sid = (' id="subject-count"', ' id="subjects"') if first else ("", "")
    return (f'<section class="delta"{attr}><h2>{a} vs {b}</h2><p>{escape(s.method())}</p>'
            f'<p>Δ headline <strong data-value="{(h.delta_pp or 0) / 100:.4f}">'
            f"{delta}</strong>{escape(interval)}; flips: {h.lost} right in {a} only, {h.gained} "
            f"right in {b} only; McNemar exact p = {h.p:.3g}; "
            f"{s.agreeing} of {s.compared} samples identical</p></section>"
            f'<section class="subjects"{sid}><h2>Subjects, {b} − {a}</h2><p><span{count} '
            f'data-count="{len(s.subtasks)}">{len(s.subtasks)}</span> subjects</p>{chart}'
            "</section>")


def _options(values: Sequence[tuple[str, str]]) -> str:
    return "".join(f'<option value="{escape(v)}">{escape(label)}</option>'
                   for v, label in values)


def samples_section(report: Report) -> str:
    first = report.runs[0]
    if first.samples is None:
        return ""
    subjects_ = sorted({s.subject for s in first.samples})
    flip = ""
    if report.comparison is not None:
        flip = ('<label>flip <select id="filter-flip">' + _options(
            [("", "all"), ("a-only", "A right, B wrong"), ("b-only", "A wrong, B right")])
            + "</select></label>")
    return (
        '<section id="samples"><h2>Samples</h2><form class="filters" role="search">'
        '<label>subject <select id="filter-subject">'
        + _options([("", "all"), *((s, s) for s in subjects_)]) + "</select></label>"
        '<label>outcome <select id="filter-outcome">'
        + _options([("", "all"), *((o, OUTCOME_LABELS[o]) for o in first.outcomes)])
        + f"</select></label>{flip}"
        '<label>search <input id="search" type="search"></label></form>'
        f'<p><span id="sample-count" data-count="{len(first.samples)}">{len(first.samples)}'
        "</span> samples match <span id=\"page-info\"></span> "
        '<button type="button" id="page-prev">previous</button> '
        '<button type="button" id="page-next">next</button></p>'
        '<noscript><p class="notice">The sample browser needs JavaScript; the summary above '
        "does not.</p></noscript><div id=\"sample-list\"></div></section>")


def _context(prompt: str) -> str:
    """The prompt up to its last blank line: the header and few-shot examples, if any."""
    cut = prompt.rfind("\n\n") + 2
    return prompt[:cut] if cut >= MIN_PREFIX else ""


def _sample_row(s: Sample, prefixes: dict[str, int]) -> list[Any]:
    context = _context(s.prompt)
    index = prefixes.get(context, -1) if context else -1
    rest = s.prompt[len(context):] if index >= 0 else s.prompt
    return [s.id, s.subject, s.outcome, index, rest, s.response, s.extracted, s.gold,
            [list(p) for p in s.logprobs], s.failing_input, s.error, s.expected, s.got]


def data_of(report: Report) -> dict[str, Any]:
    """The page's data; a leading context two or more samples share is stored once."""
    seen = Counter(_context(s.prompt) for view in report.runs for s in view.samples or ())
    shared = [context for context, n in seen.items() if context and n > 1]
    prefixes = {context: i for i, context in enumerate(shared)}
    runs = [[_sample_row(s, prefixes) for s in view.samples or ()] for view in report.runs]
    c = report.comparison
    flips = {} if c is None else {f.id: [f.bucket, f.diff] for f in c.flips}
    return {"mode": "run" if c is None else "compare",
            "labels": [view.label for view in report.runs], "prefixes": shared,
            "runs": runs, "flips": flips}


def embed(data: Any) -> str:
    """JSON safe inside a script element: no `<` at all, so no `</script>` or `<!--`."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def _run_summary(view: RunView, first: bool) -> str:
    parts = [_notices(view.notices)]
    if view.headline is not None:
        parts.append(headline(view.headline, view.label, "headline" if first else None))
    if view.speed is not None:
        parts.append(speed_table(view.speed, view.label, "speed" if first else None))
    return "".join(parts)


def render(report: Report) -> str:
    return "".join(render_parts(report))


def render_parts(report: Report) -> Iterator[str]:
    """The page in the order it is written: a full run's data is one large part, so the page
    is written part by part rather than joined into one more copy of it first."""
    c = report.comparison
    views = report.runs
    body = [f"<header><h1>{escape(report.title)}</h1></header><main>"]
    if c is None:
        view = views[0]
        body += [_run_summary(view, True), run_card(view, "run-card")]
        if view.bars:
            body.append(subjects(view, "subjects"))
    else:
        unpaired = [n for p in c.pairs if not p.comparable for n in p.notices]
        body += [*(_notices([n], "not-comparable" if k == 0 else None)
                   for k, n in enumerate(unpaired)),
                 _notices(list(dict.fromkeys(n for p in c.pairs if p.comparable
                                             for n in p.notices))),
                 card_diff(c, views), *(_run_summary(v, i == 0) for i, v in enumerate(views)),
                 *(delta_section(p, views[0].label, k == 0) for k, p in enumerate(c.pairs))]
        if unpaired:  # each run's own subjects, beside what could be paired
            own = "subjects" if not c.pairs[0].comparable else None
            body += [subjects(v, own if i == 0 else None) for i, v in enumerate(views)
                     if v.bars]
        body += ['<details class="cards"><summary>The run cards</summary>',
                 *(run_card(v, None) for v in views), "</details>"]
    body += [samples_section(report), "</main>"]
    yield ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           '<meta name="viewport" content="width=device-width, initial-scale=1">'
           f"<title>{escape(report.title)}</title><style>{asset('report.css')}</style></head>"
           f"<body>{''.join(body)}"
           '<script type="application/json" id="report-data">')
    yield embed(data_of(report))
    yield f"</script><script>{asset('report.js')}</script></body></html>\n"
