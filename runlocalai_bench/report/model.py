"""One run as the page shows it: typed values built from a LoadedRun, nothing rendered yet.

    RunView     the run card, the headline (Wilson 95% interval, chance, unparsed / error /
                timeout counts), per-subject and per-category bars with their intervals, the
                samples with their outcome, a speed run's measured runs and ceiling, notices

A sample's outcome is one word the browser filters on: correct, wrong, unparsed, error for a
multiple-choice sample; for code correct, base-fail (a base input failed), plus-fail (base
passed, a plus input failed), timeout, sandbox-kill (the program was killed by a signal),
unparsed (no code found) or error (the request failed).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runlocalai_bench import specs
from runlocalai_bench.report.load import LoadedRun
from runlocalai_bench.results.recordtypes import Record, Score, Scored, Speed
from runlocalai_bench.results.sampleline import SampleLine
from runlocalai_bench.review.source import is_url
from runlocalai_bench.scoring import plausibility
from runlocalai_bench.stats import wilson_interval

MC_OUTCOMES = ("correct", "wrong", "unparsed", "error")
CODE_OUTCOMES = ("correct", "base-fail", "plus-fail", "timeout", "sandbox-kill", "unparsed",
                 "error")
CODE = "code_execution"


@dataclass(frozen=True)
class Field:
    key: str  # data-field in the page, and what a comparison matches rows on
    label: str
    value: str
    href: str | None = None
    items: tuple[str, ...] = ()  # shown as a list under the value (the gate's reasons)


@dataclass(frozen=True)
class Bar:
    name: str
    category: str | None
    score: float
    n: int
    low: float
    high: float


@dataclass(frozen=True)
class Headline:
    metric: str
    score: float
    n: int
    low: float
    high: float
    chance: float | None
    counts: tuple[tuple[str, int | None], ...]  # unparsed, error, timeout (None: not known)


@dataclass(frozen=True)
class Sample:
    id: str
    subject: str
    outcome: str
    prompt: str
    response: str
    extracted: str | None
    gold: str
    logprobs: tuple[tuple[str, float], ...]
    failing_input: str | None
    error: str | None
    expected: str | None = None  # a wrong program output: the reference's value
    got: str | None = None  # … and the program's


@dataclass(frozen=True)
class SpeedRow:
    label: str
    decode_tps: float | None
    prefill_tps: float | None
    ttft_ms: float | None
    generated_tokens: int | None


@dataclass(frozen=True)
class SpeedView:
    rows: tuple[SpeedRow, ...]
    median_decode: float | None
    spread: float | None
    threshold: float
    ceiling_tps: float | None
    share: float | None  # median decode ÷ ceiling
    basis: str
    verdict: str


@dataclass(frozen=True)
class RunView:
    label: str
    origin: str
    slug: str
    title: str
    kind: str
    card: tuple[Field, ...]
    headline: Headline | None
    bars: tuple[Bar, ...]  # subjects, grouped by category, best first within each
    categories: tuple[Bar, ...]
    outcomes: tuple[str, ...]  # the outcome words this kind uses
    samples: tuple[Sample, ...] | None
    speed: SpeedView | None
    notices: tuple[str, ...]


def outcome_of(line: SampleLine, kind: str) -> str:
    if line.status == "error":
        return "error"
    if line.status == "unparsed":
        return "unparsed"
    if kind != CODE:
        return "correct" if line.score >= 1.0 else "wrong"
    if line.status == "pass":
        return "correct"
    details = line.details
    failure = details.get("first_failure")
    reason = str(failure.get("reason") or "") if isinstance(failure, Mapping) else ""
    if "timeout" in (details.get("base"), details.get("plus")):
        return "timeout"
    if "killed by signal" in reason:
        return "sandbox-kill"
    return "base-fail" if details.get("base") != "pass" else "plus-fail"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def sample_of(line: SampleLine, kind: str) -> Sample:
    failure = line.details.get("first_failure")
    failing = error = expected = got = None
    if isinstance(failure, Mapping):
        expected, got = (None if failure.get(k) is None else str(failure[k])
                         for k in ("expected", "got"))
        where = f"{failure.get('set')} input {failure.get('index')}"
        failing = f"{where}: {failure.get('input')}" if failure.get("input") is not None \
            else where
        error = str(failure.get("reason")) if failure.get("reason") else None
    if line.error:
        error = line.error
    letters = line.details.get("letter_logprobs")
    logprobs = tuple((str(k), float(v)) for k, v in letters.items()
                     if isinstance(v, int | float)) if isinstance(letters, Mapping) else ()
    gold = line.target if kind != CODE else f"passes the base and plus tests of {line.target}"
    return Sample(id=line.id, subject=line.subtask, outcome=outcome_of(line, kind),
                  prompt=line.prompt, response=line.response, extracted=line.extracted,
                  gold=gold, logprobs=logprobs, failing_input=failing, error=error,
                  expected=expected, got=got)


def chance_of(slug: str) -> float | None:
    """The score of guessing (scoring/plausibility.py) by the spec the run names, when this rla
    has it."""
    if slug not in specs.spec_names("tasks"):
        return None
    return plausibility.chance_of(specs.load_spec("tasks", slug))


def bar(name: str, row: Score) -> Bar:
    low, high = wilson_interval(row.correct, row.n) if row.n else (0.0, 0.0)
    return Bar(name, row.category, row.score, row.n, low, high)


def bars_of(subtasks: Mapping[str, Score]) -> tuple[Bar, ...]:
    """Grouped by category (named ones first, alphabetically), best score first within each."""
    rows = [bar(name, row) for name, row in subtasks.items()]
    return tuple(sorted(rows, key=lambda b: (b.category is None, b.category or "", -b.score,
                                             b.name)))


def _fmt(value: Any) -> str:
    if value is None or value == "" or value == {}:
        return "—"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()) or "—"
    return str(value)


def card_of(run: LoadedRun) -> tuple[Field, ...]:
    r: Record = run.record
    m, rt = r.model, r.runtime
    # a Gist holds the record as the run wrote it, before publishing named the Gist
    gist = r.gist.html_url if r.gist else r.test_run_log_url or (
        run.origin if is_url(run.origin) else None)
    server = {"slots": rt.slots, "n_ctx": rt.n_ctx, "concurrency": rt.concurrency,
              **dict(rt.settings)}
    fields = [
        Field("benchmark", "benchmark", f"{r.benchmark.slug} ({r.benchmark.kind}, "
              f"{r.benchmark.prompt_style})"),
        Field("model", "model", _fmt(m.slug or m.name or m.id)),
        Field("weights", "weights sha256", _fmt(m.file_sha256)),
        Field("quant", "quantization", _fmt(m.quantization)),
        Field("runtime", "runtime", f"{rt.engine} {_fmt(rt.version)}"),
        Field("template", "chat template sha256", _fmt(m.chat_template_sha256)),
        Field("server", "server settings read", _fmt(server)),
        Field("sampler_defaults", "server sampler defaults", _fmt(rt.sampler_defaults)),
        Field("hardware", "hardware", f"{r.hardware.hardware_slug} ({r.hardware.hw_class}, "
              f"{r.hardware.accelerator})"),
        Field("rig", "rig", _fmt(r.rig)),
    ]
    if isinstance(r.body, Scored):
        pin = r.body.dataset
        fields.append(Field("dataset", "dataset pin",
                            f"{pin.dataset}@{_fmt(pin.revision)} sha256 {pin.content_sha256}"
                            f" ({'pinned' if pin.pinned else 'NOT pinned'}, {pin.source})"))
    fields += [
        Field("spec", "spec sha256", r.benchmark.spec_sha256),
        Field("sampling", "sampling sent", _fmt(r.sampling.sent)),
        Field("rla", "rla", r.rla.version + (f" ({r.rla.git_commit})" if r.rla.git_commit
                                            else "")),
        Field("gist", "Gist", _fmt(gist), href=gist),
        Field("signature", "signature", run.signature),
        Field("gate", "trust gate", "passes" if run.gate.ok else
              f"refused ({len(run.gate.reasons)} reasons): " + "; ".join(run.gate.reasons),
              items=run.gate.reasons),
        Field("command", "reproduce with", r.command.reproduce),
    ]
    return tuple(fields)


def _headline(r: Record, body: Scored, samples: tuple[Sample, ...] | None) -> Headline:
    res = body.results
    correct = res.score * res.n
    low, high = wilson_interval(correct, res.n) if res.n else (0.0, 0.0)
    if samples is not None:
        seen = Counter(s.outcome for s in samples)
        counts: tuple[tuple[str, int | None], ...] = tuple(
            (o, seen.get(o, 0)) for o in ("unparsed", "error", "timeout"))
    else:
        counts = (("unparsed", res.counts.get("unparsed")), ("error", res.counts.get("error")),
                  ("timeout", None))
    return Headline(res.metric, res.score, res.n, low, high,
                    chance_of(r.benchmark.slug), counts)


def _speed(body: Speed) -> SpeedView:
    s = body.speed
    rows = tuple(SpeedRow(run.label, run.metrics.decode_tps, run.metrics.prefill_tps,
                          run.metrics.ttft_ms, run.metrics.generated_tokens)
                 for run in s.runs if run.counted)
    median = s.summary.decode_tps.median
    ceiling = s.plausibility.tps
    share = median / ceiling if median is not None and ceiling else None
    return SpeedView(rows, median, s.summary.spread, s.protocol.spread_threshold, ceiling, share,
                     s.plausibility.basis, s.verdict)


def build_run(run: LoadedRun, label: str) -> RunView:
    r = run.record
    kind = r.benchmark.kind
    samples = None if run.samples is None else tuple(sample_of(line, kind)
                                                     for line in run.samples)
    if isinstance(r.body, Speed):
        return RunView(label, run.origin, r.benchmark.slug, r.benchmark.title or "speed", kind,
                       card_of(run), None, (), (), (), None, _speed(r.body), run.notices)
    res = r.body.results
    notices = list(run.notices)
    if res.partial:
        notices.append(f"A partial run (a slice or sample of the benchmark's data, or samples "
                       f"missing): {res.n} items scored; the scores are not the full "
                       "benchmark's.")
    return RunView(label, run.origin, r.benchmark.slug, r.benchmark.title or r.benchmark.slug,
                   kind, card_of(run), _headline(r, r.body, samples), bars_of(res.subtasks),
                   bars_of(res.categories), CODE_OUTCOMES if kind == CODE else MC_OUTCOMES,
                   samples, None, tuple(notices))
