"""Does a run's log tell the same story as its record.json? A pure reading of the log's lines,
with a part for each kind of run.

A scored run (`rla bench`) writes, per session (a resumed run appends a second one), the lines
results/runlog.py lays out and reads back: the title, the header fields (benchmark, rig, model,
data, command, samples), the final progress line, the results' headline (or the results as
JSON with --json) and the closing line. The last session decides.

A speed run (`rla bench speed`) writes run.log (everything printed: the title, the `benchmark`
and `rig` header fields, one line per run, warm-ups included, the speed summary's headline or,
with --json, the speed section as a JSON object, the logs' sha256 and the closing line) and one
log per run, runs/<label>.log, holding what the record's raw observations come from (per
request the engine's timings as sent, token counts, arrival times and total time, then the
figures derived from them). Their layouts, and the reading of each line, are
results/runlog.py's and results/speedlogs.py's. A record whose figures were rewritten
consistently (they pass `speed_gate`) still disagrees with the logs its own hashes vouch for.

Each fact present is compared with the record's field, and a fact a log must hold but lacks is
itself a finding.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runlocalai_bench import jsonio
from runlocalai_bench.errors import RlaError
from runlocalai_bench.results import runlog, speedlogs
from runlocalai_bench.results.recordtypes import (
    RawRun,
    Record,
    Scored,
    ShardRun,
    SpeedRun,
    SpeedSection,
)
from runlocalai_bench.results.runlog import (
    ProgressLine,
    ScoredHeadline,
    SpeedHeadline,
    SpeedRunLine,
    Title,
)

_FIELDS = ("benchmark", "rig", "model", "data", "command", "samples", "prompt")


@dataclass(frozen=True)
class LogFinding:
    field: str  # the record field the log disagrees with
    message: str


NO_TITLE = LogFinding("run_id", "run.log has no `# rla <version> run <id>` title line")
CUT_SHORT = LogFinding("files.run.log", "run.log does not end with its closing line (cut short?)")


def check_title(lines: list[str], record: Record) -> tuple[list[str], list[LogFinding]] | None:
    """The last session and what its title line (and any other session's) disagrees with;
    None when there is no title line at all. Both kinds' run.log checks start here."""
    session = runlog.last_session(lines)
    title = Title.parse(session[0]) if session else None
    if title is None:
        return None
    out: list[LogFinding] = []
    version, run_id, started = title.version, title.run_id, title.started_at
    if version != record.rla.version:
        out.append(LogFinding("rla.version", f"the log was written by rla {version}, the "
                              f"record says {record.rla.version}"))
    if run_id != record.run_id:
        out.append(LogFinding("run_id", f"the log is of run {run_id}, the record of "
                              f"{record.run_id}"))
    if started != record.body.timings.started_at:
        out.append(LogFinding("timings.started_at", f"the log started at {started}, the "
                              f"record says {record.body.timings.started_at}"))
    for other in runlog.titles(lines):
        if other.run_id != record.run_id:
            out.append(LogFinding("run_id", f"the log holds a session of run {other.run_id}"))
    return session, out


def check_closed(session: list[str]) -> list[LogFinding]:
    """CUT_SHORT unless the session ends with run.log's closing line."""
    return [] if runlog.is_closed(session) else [CUT_SHORT]


# -- a scored run --------------------------------------------------------------------------


def check_log(text: str, record: Record, scored: Scored) -> list[LogFinding]:
    """run.log of a scored run against its record (`scored`: the record's body)."""
    titled = check_title(text.splitlines(), record)
    if titled is None:
        return [NO_TITLE]
    session, out = titled
    slug, spec = record.benchmark.slug, record.benchmark.spec_sha256
    fields = runlog.fields(session, _FIELDS)
    for name in ("benchmark", "rig", "samples"):
        if name not in fields:
            out.append(LogFinding(name if name != "samples" else "results.expected_n",
                                  f"run.log has no `{name}` line"))
    bench = runlog.parse_benchmark(fields.get("benchmark", ""))
    if "benchmark" in fields and (
            bench is None or bench[0] != slug or not spec.startswith(bench[1])):
        out.append(LogFinding("benchmark.spec_sha256", f"the log ran `{fields['benchmark']}`, "
                              f"the record says {slug} (spec sha256 {spec[:12]})"))
    if "rig" in fields and fields["rig"] != record.rig:
        out.append(LogFinding("rig", f"the log's rig is `{fields['rig']}`, the record's "
                              f"`{record.rig}`"))
    data = runlog.parse_data_sha256(fields.get("data", ""))
    if data and not scored.dataset.content_sha256.startswith(data):
        out.append(LogFinding("dataset.content_sha256", f"the log's data hashes to "
                              f"{data}, the record's to "
                              f"{scored.dataset.content_sha256[:12]}"))
    if "command" in fields and fields["command"] != record.command.invoked:
        out.append(LogFinding("command.invoked", f"the log ran `{fields['command']}`, the "
                              f"record says `{record.command.invoked}`"))
    expected_n, n = scored.results.expected_n, scored.results.n
    samples = runlog.parse_samples(fields.get("samples", ""))
    if samples is not None and samples != expected_n:
        out.append(LogFinding("results.expected_n", f"the log planned {samples} "
                              f"samples, the record says {expected_n}"))

    finals = [f for f in map(ProgressLine.parse_final, session) if f]
    if not finals:
        out.append(LogFinding("results.n", "run.log has no final `progress` line"))
    elif finals[-1] != (n, expected_n):
        out.append(LogFinding("results.n", f"the log finished {finals[-1][0]}/"
                              f"{finals[-1][1]} samples, the record says {n}/{expected_n}"))

    return out + _scored_headline(session, slug, scored) + check_closed(session)


def check_shard_log(text: str, shard: ShardRun, where: str) -> list[LogFinding]:
    """A merged run's copy of one shard's run.log (`where`: its shards[] path) against what the
    merged record says of that shard: its run, rig and part, and that it ran to the end."""
    lines = text.splitlines()
    session = runlog.last_session(lines)
    out = [LogFinding(f"{where}.run_id", f"{shard.log} is a log of run {t.run_id}, not of"
                      f" {shard.run_id}") for t in runlog.titles(lines) if t.run_id != shard.run_id]
    if not runlog.titles(lines):
        out.append(LogFinding(f"{where}.run_id", f"{shard.log} has no title line"))
    fields = runlog.fields(session, ("rig", "shard"))
    if fields.get("rig") != shard.rig:
        out.append(LogFinding(f"{where}.rig", f"{shard.log} ran on `{fields.get('rig')}`, the"
                              f" record says `{shard.rig}`"))
    if not fields.get("shard", "").startswith(f"{shard.index}/{shard.count} "):
        out.append(LogFinding(f"{where}.index", f"{shard.log} ran shard"
                              f" `{fields.get('shard')}`, the record says"
                              f" {shard.index}/{shard.count}"))
    return out + [LogFinding(f"{where}.log", f"{shard.log} {f.message}")
                  for f in check_closed(session)]


def _scored_headline(session: list[str], slug: str, scored: Scored) -> list[LogFinding]:
    results = scored.results
    heads = [h for h in map(ScoredHeadline.parse, session) if h and h.slug == slug]
    if heads:
        metric, score, n = heads[-1].metric, f"{heads[-1].score_pct:.2f}", heads[-1].n
        claimed = f"{float(results.score or 0.0) * 100:.2f}"
        if score != claimed or n != results.n or metric != results.metric:
            return [LogFinding("results.score", f"the log printed {metric} {score}% (n={n}), "
                               f"the record claims {results.metric} {claimed}% "
                               f"(n={results.n})")]
        return []
    printed = runlog.last_json_object(session, "score")
    if printed is None:
        return [LogFinding("results.score", "run.log never printed the results")]
    if printed.get("score") != results.score or printed.get("n") != results.n:
        return [LogFinding("results.score", f"the log printed score {printed.get('score')} "
                           f"(n={printed.get('n')}), the record claims {results.score} "
                           f"(n={results.n})")]
    return []


# -- a speed run ---------------------------------------------------------------------------


# Figures the logs print rounded: to one decimal (run.log) or three (a run's own log).
_ONE, _THREE = 0.05 + 1e-9, 0.0005 + 1e-9


def _one(value: Any) -> str:
    return "" if not isinstance(value, int | float) else f"{value:.1f}"


def check_speed_run_log(text: str, record: Record, speed: SpeedSection) -> list[LogFinding]:
    """run.log of a speed run against its record (`speed`: the record's speed section)."""
    lines = text.splitlines()
    titled = check_title(lines, record)
    if titled is None:
        return [NO_TITLE]
    session, out = titled

    fields = runlog.fields(session, ("benchmark", "rig"))
    bench = runlog.parse_speed_benchmark(fields.get("benchmark", ""))
    slug, spec = record.benchmark.slug, record.benchmark.spec_sha256
    if bench is None or bench[0] != slug or bench[1] != speed.profile or \
            not spec.startswith(bench[2]):
        shown = f"`{fields['benchmark']}`" if "benchmark" in fields else "no `benchmark` line"
        out.append(LogFinding("benchmark.spec_sha256", f"the log ran {shown}, the record says "
                              f"{slug}, profile {speed.profile} (spec sha256 {spec[:12]})"))
    if fields.get("rig") != record.rig:
        out.append(LogFinding("rig", f"the log's rig is `{fields.get('rig')}`, the record's "
                              f"`{record.rig}`"))

    printed: dict[str, str] = {}
    for run_line in map(SpeedRunLine.parse, session):
        if run_line and run_line.label not in printed:
            printed[run_line.label] = _one(run_line.decode_tps)
    entries = [*speed.warmup, *speed.runs]
    for entry in entries:
        label = entry.label
        claimed = _one(entry.metrics.decode_tps)
        if label not in printed:
            out.append(LogFinding(f"speed.runs.{label}", f"run.log has no line for {label}"))
        elif printed[label] != claimed:
            out.append(LogFinding(f"speed.runs.{label}.metrics.decode_tps",
                                  f"the log printed {label} at {printed[label] or 'no'} tok/s, "
                                  f"the record says {claimed or 'none'}"))
    extra = sorted(set(printed) - {e.label for e in entries})
    if extra:
        out.append(LogFinding("speed.runs", f"the log holds runs the record does not: "
                              f"{', '.join(extra)}"))

    return out + _speed_headline(session, speed) + check_closed(session)


def _speed_headline(session: list[str], speed: SpeedSection) -> list[LogFinding]:
    median = speed.summary.decode_tps.median
    logs_sha = speed.logs_sha256
    heads = [h for h in map(SpeedHeadline.parse, session) if h]
    if heads:
        out = []
        profile, decode = heads[-1].profile, _one(heads[-1].decode_tps) or None
        if profile != speed.profile or (decode or "") != _one(median):
            out.append(LogFinding("speed.summary.decode_tps.median", f"the log printed "
                                  f"speed ({profile}) decode {decode} tok/s, the record claims "
                                  f"{speed.profile} {_one(median)} tok/s"))
        shas = [sha for sha in map(runlog.parse_logs_sha, session) if sha]
        if not shas:
            out.append(LogFinding("speed.logs_sha256", "run.log never printed the logs' sha256"))
        elif not logs_sha.startswith(shas[-1]):
            out.append(LogFinding("speed.logs_sha256", f"the log printed logs sha256 {shas[-1]},"
                                  f" the record says {logs_sha[:12]}"))
        return out
    printed = runlog.last_json_object(session, "summary")
    if printed is None:
        return [LogFinding("speed.summary", "run.log never printed the speed summary")]
    out = []
    printed_median = _printed_median(printed)
    if printed_median != median:
        out.append(LogFinding("speed.summary.decode_tps.median", f"the log printed decode "
                              f"{printed_median} tok/s, the record claims {median}"))
    if printed.get("logs_sha256") != speed.logs_sha256:
        out.append(LogFinding("speed.logs_sha256", f"the log printed logs sha256 "
                              f"{str(printed.get('logs_sha256'))[:12]}, the record says "
                              f"{logs_sha[:12]}"))
    return out


def _printed_median(printed: Mapping[str, Any]) -> Any:
    """summary.decode_tps.median of the speed section run.log printed as JSON (--json); None
    where the log's object lacks it."""
    summary = printed.get("summary")
    decode = summary.get("decode_tps") if isinstance(summary, Mapping) else None
    return decode.get("median") if isinstance(decode, Mapping) else None


# -- one run's own log ---------------------------------------------------------------------


def _close(a: Any, b: Any, tol: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    try:
        return math.isclose(float(a), float(b), rel_tol=0.0, abs_tol=tol)
    except (TypeError, ValueError):
        return False


def _raw_findings(name: str, facts: Mapping[str, str], raw: RawRun,
                  field: str) -> list[LogFinding]:
    """One request's section against the record's raw observations of it."""
    out: list[LogFinding] = []

    def differs(what: str, logged: Any, recorded: Any) -> None:
        out.append(LogFinding(f"{field}.{what}", f"its {name} request logged {what} "
                              f"{logged}, the record says {recorded}"))

    engine = speedlogs.parse_engine_timings(facts.get("engine_timings", ""))
    try:
        logged_engine = jsonio.loads(engine[1], "engine_timings") if engine else None
    except RlaError:
        logged_engine = "unreadable"
    if logged_engine != raw.engine or (engine[0] if engine else None) != raw.engine_format:
        differs("engine", logged_engine if engine else "nothing", raw.engine)
    try:
        arrivals = jsonio.loads(speedlogs.fact_value(facts.get("arrivals_ms", ""),
                                                     "arrivals_ms"), "arrivals_ms")
    except RlaError:
        arrivals = None
    if arrivals != list(raw.arrivals_ms):
        differs("arrivals_ms", "other token arrival times" if arrivals else "none",
                f"{len(raw.arrivals_ms)} others")
    total = speedlogs.fact_value(facts.get("total_ms", ""), "total_ms") or None
    if not _close(total, raw.total_ms, _THREE):
        differs("total_ms", total, raw.total_ms)
    usage = speedlogs.parse_usage(facts.get("usage", ""))
    counts = usage or (None, None)
    recorded = (str(raw.prompt_tokens), str(raw.completion_tokens))
    if counts != recorded:
        differs("completion_tokens", f"prompt/completion tokens {'/'.join(map(str, counts))}",
                "/".join(recorded))
    finish = speedlogs.fact_value(facts.get("finish_reason", ""), "finish_reason") or None
    if finish != str(raw.finish_reason):
        differs("finish_reason", finish, raw.finish_reason)
    return out


def check_run_log(text: str, entry: SpeedRun, field: str) -> list[LogFinding]:
    """runs/<label>.log against the record's entry for that run (`field` names the entry)."""
    lines = text.splitlines()
    label = entry.label
    title = speedlogs.parse_title(lines[0]) if lines else None
    if title is None:
        return [LogFinding(field, "the log has no `# rla <version> speed <label>` title line")]
    out: list[LogFinding] = []
    if title[1] != label:
        out.append(LogFinding(f"{field}.label", f"the log is of {title[1]}, the record's "
                              f"entry of {label}"))
    raw = entry.raw
    sections = speedlogs.request_sections(lines)
    prefill = raw.prefill
    expected = [("prefill", prefill)] if prefill is not None else []
    expected.append(("decode" if prefill is not None else "generation", raw))
    if [name for name, _ in sections] != [name for name, _ in expected]:
        out.append(LogFinding(f"{field}.raw", f"the log holds the requests "
                              f"{[n for n, _ in sections]}, the record "
                              f"{[n for n, _ in expected]}"))
        return out
    for (name, facts), (_, observed) in zip(sections, expected, strict=True):
        where = f"{field}.raw.prefill" if name == "prefill" else f"{field}.raw"
        out += _raw_findings(name, facts, observed, where)
    derived = [d for d in map(speedlogs.parse_derived_decode, lines) if d]
    decode = entry.metrics.decode_tps
    shown = derived[-1] if derived else None
    if not _close(None if shown in (None, "none") else shown, decode, _THREE):
        out.append(LogFinding(f"{field}.metrics.decode_tps", f"the log derived decode "
                              f"{shown or 'nothing'} tok/s, the record says {decode}"))
    return out
