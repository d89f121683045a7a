"""Does run.log tell the same story as record.json? A pure reading of the log's own lines.

`rla bench` writes, per session (a resumed run appends a second one), the lines
results/runlog.py lays out and reads back: the title, the header fields (benchmark, rig, model,
data, command, samples), the final progress line, the results' headline (or the results as
JSON with --json) and the closing line.

The last session decides; each fact present is compared with the record's field, and a fact the
log must hold but lacks is itself a finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runlocalai_bench.results import runlog
from runlocalai_bench.results.runlog import ProgressLine, ScoredHeadline, Title

_FIELDS = ("benchmark", "rig", "model", "data", "command", "samples", "prompt")


@dataclass(frozen=True)
class LogFinding:
    field: str  # the record field the log disagrees with
    message: str


NO_TITLE = LogFinding("run_id", "run.log has no `# rla <version> run <id>` title line")
CUT_SHORT = LogFinding("files.run.log", "run.log does not end with its closing line (cut short?)")


def field_of(record: Mapping[str, Any], *path: str) -> Any:
    """record["a"]["b"]… or None where a level is missing."""
    value: Any = record
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def check_title(lines: list[str], record: Mapping[str, Any]
                ) -> tuple[list[str], list[LogFinding]] | None:
    """The last session and what its title line (and any other session's) disagrees with;
    None when there is no title line at all. This and check_closed are shared
    with the speed log check (speedlog.py)."""
    session = runlog.last_session(lines)
    title = Title.parse(session[0]) if session else None
    if title is None:
        return None
    out: list[LogFinding] = []
    version, run_id, started = title.version, title.run_id, title.started_at
    if version != field_of(record, "rla", "version"):
        out.append(LogFinding("rla.version", f"the log was written by rla {version}, the "
                              f"record says {field_of(record, 'rla', 'version')}"))
    if run_id != record.get("run_id"):
        out.append(LogFinding("run_id", f"the log is of run {run_id}, the record of "
                              f"{record.get('run_id')}"))
    if started != field_of(record, "timings", "started_at"):
        out.append(LogFinding("timings.started_at", f"the log started at {started}, the "
                              f"record says {field_of(record, 'timings', 'started_at')}"))
    for other in runlog.titles(lines):
        if other.run_id != record.get("run_id"):
            out.append(LogFinding("run_id", f"the log holds a session of run {other.run_id}"))
    return session, out


def check_closed(session: list[str]) -> list[LogFinding]:
    """CUT_SHORT unless the session ends with run.log's closing line."""
    return [] if runlog.is_closed(session) else [CUT_SHORT]


def check_log(text: str, record: Mapping[str, Any]) -> list[LogFinding]:
    titled = check_title(text.splitlines(), record)
    if titled is None:
        return [NO_TITLE]
    session, out = titled

    def get(*path: str) -> Any:
        return field_of(record, *path)

    fields = runlog.fields(session, _FIELDS)
    for name in ("benchmark", "rig", "samples"):
        if name not in fields:
            out.append(LogFinding(name if name != "samples" else "results.expected_n",
                                  f"run.log has no `{name}` line"))
    bench = runlog.parse_benchmark(fields.get("benchmark", ""))
    if "benchmark" in fields and (
            bench is None or bench[0] != get("benchmark", "slug")
            or not str(get("benchmark", "spec_sha256") or "").startswith(bench[1])):
        out.append(LogFinding("benchmark.spec_sha256", f"the log ran `{fields['benchmark']}`, "
                              f"the record says {get('benchmark', 'slug')} (spec sha256 "
                              f"{str(get('benchmark', 'spec_sha256'))[:12]})"))
    if "rig" in fields and fields["rig"] != record.get("rig"):
        out.append(LogFinding("rig", f"the log's rig is `{fields['rig']}`, the record's "
                              f"`{record.get('rig')}`"))
    data = runlog.parse_data_sha256(fields.get("data", ""))
    if data and not str(get("dataset", "content_sha256") or "").startswith(data):
        out.append(LogFinding("dataset.content_sha256", f"the log's data hashes to "
                              f"{data}, the record's to "
                              f"{str(get('dataset', 'content_sha256'))[:12]}"))
    if "command" in fields and fields["command"] != get("command", "invoked"):
        out.append(LogFinding("command.invoked", f"the log ran `{fields['command']}`, the "
                              f"record says `{get('command', 'invoked')}`"))
    expected_n, n = get("results", "expected_n"), get("results", "n")
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

    return out + _headline(session, record) + check_closed(session)


def _headline(session: list[str], record: Mapping[str, Any]) -> list[LogFinding]:
    results = record.get("results") or {}
    bench = record.get("benchmark") or {}
    heads = [h for h in map(ScoredHeadline.parse, session) if h and h.slug == bench.get("slug")]
    if heads:
        metric, score, n = heads[-1].metric, f"{heads[-1].score_pct:.2f}", heads[-1].n
        claimed = f"{float(results.get('score') or 0.0) * 100:.2f}"
        if score != claimed or n != results.get("n") or metric != results.get("metric"):
            return [LogFinding("results.score", f"the log printed {metric} {score}% (n={n}), "
                               f"the record claims {results.get('metric')} {claimed}% "
                               f"(n={results.get('n')})")]
        return []
    printed = runlog.last_json_object(session, "score")
    if printed is None:
        return [LogFinding("results.score", "run.log never printed the results")]
    if printed.get("score") != results.get("score") or printed.get("n") != results.get("n"):
        return [LogFinding("results.score", f"the log printed score {printed.get('score')} "
                           f"(n={printed.get('n')}), the record claims {results.get('score')} "
                           f"(n={results.get('n')})")]
    return []
