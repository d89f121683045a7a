"""Does run.log tell the same story as record.json? A pure reading of the log's own lines.

`rla bench` writes, per session (a resumed run appends a second one):

    # rla <version> run <run id> <started at>
    benchmark  <slug> (spec sha256 <12 hex>)
    rig        <runtime slug> <hardware slug>
    model      …
    data       <dataset> [<source>] sha256 <12 hex>
    command    <the invoked command>                  (when the log has one)
    samples    <N>[ (k done, resuming)]
    progress <done>/<N> … (final)
    <slug>  <metric> <score>% ± <se>  (n=<n>[, partial])   (or the results as JSON with --json)
    # run.log closed <time>

The last session decides; each fact present is compared with the record's field, and a fact the
log must hold but lacks is itself a finding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_TITLE = re.compile(r"^# rla (\S+) run (\S+) (\S+)$")
_FIELD = re.compile(r"^(benchmark|rig|model|data|command|samples|prompt)\s{2,}(.*)$")
_FINAL = re.compile(r"^progress (\d+)/(\d+) .*\(final\)$")
_HEADLINE = re.compile(r"^(\S+)\s+(\S+) (\d+\.\d+)% ± (\d+\.\d+)\s+\(n=(\d+)")
_BENCH = re.compile(r"^(\S+) \(spec sha256 ([0-9a-f]+)\)$")
_DATA = re.compile(r"sha256 ([0-9a-f]+)")
_SAMPLES = re.compile(r"^(\d+)")


@dataclass(frozen=True)
class LogFinding:
    field: str  # the record field the log disagrees with
    message: str


NO_TITLE = LogFinding("run_id", "run.log has no `# rla <version> run <id>` title line")
CUT_SHORT = LogFinding("files.run.log", "run.log does not end with its closing line (cut short?)")


def _last_session(lines: list[str]) -> list[str]:
    starts = [i for i, line in enumerate(lines) if _TITLE.match(line)]
    return lines[starts[-1]:] if starts else lines


def last_json_object(lines: list[str], key: str) -> Mapping[str, Any] | None:
    """The last top-level JSON object printed whole (`--json`), if it holds `key`."""
    ends = [i for i, line in enumerate(lines) if line == "}"]
    for end in reversed(ends):
        for start in range(end, -1, -1):
            if lines[start] == "{":
                try:
                    value = json.loads("\n".join(lines[start:end + 1]))
                except ValueError:
                    break
                if isinstance(value, Mapping) and key in value:
                    return value
                break
    return None


def field_of(record: Mapping[str, Any], *path: str) -> Any:
    """record["a"]["b"]… or None where a level is missing."""
    value: Any = record
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def check_title(lines: list[str], record: Mapping[str, Any]
                ) -> tuple[list[str], list[LogFinding]] | None:
    """The last session and what its title line (and any other session's) disagrees with;
    None when there is no title line at all. This, header_fields and check_closed are shared
    with the speed log check (speedlog.py)."""
    session = _last_session(lines)
    title = _TITLE.match(session[0]) if session else None
    if title is None:
        return None
    out: list[LogFinding] = []
    version, run_id, started = title.groups()
    if version != field_of(record, "rla", "version"):
        out.append(LogFinding("rla.version", f"the log was written by rla {version}, the "
                              f"record says {field_of(record, 'rla', 'version')}"))
    if run_id != record.get("run_id"):
        out.append(LogFinding("run_id", f"the log is of run {run_id}, the record of "
                              f"{record.get('run_id')}"))
    if started != field_of(record, "timings", "started_at"):
        out.append(LogFinding("timings.started_at", f"the log started at {started}, the "
                              f"record says {field_of(record, 'timings', 'started_at')}"))
    for other in lines:
        match = _TITLE.match(other)
        if match and match.group(2) != record.get("run_id"):
            out.append(LogFinding("run_id", f"the log holds a session of run {match.group(2)}"))
    return session, out


def header_fields(session: list[str], field: re.Pattern[str]) -> dict[str, str]:
    """The session's `<name>  <value>` header lines that `field` matches, the first of each."""
    fields: dict[str, str] = {}
    for line in session:
        match = field.match(line)
        if match and match.group(1) not in fields:
            fields[match.group(1)] = match.group(2).strip()
    return fields


def check_closed(session: list[str]) -> list[LogFinding]:
    """CUT_SHORT unless the session ends with run.log's closing line."""
    return [] if session and session[-1].startswith("# run.log closed") else [CUT_SHORT]


def check_log(text: str, record: Mapping[str, Any]) -> list[LogFinding]:
    titled = check_title(text.splitlines(), record)
    if titled is None:
        return [NO_TITLE]
    session, out = titled

    def get(*path: str) -> Any:
        return field_of(record, *path)

    fields = header_fields(session, _FIELD)
    for name in ("benchmark", "rig", "samples"):
        if name not in fields:
            out.append(LogFinding(name if name != "samples" else "results.expected_n",
                                  f"run.log has no `{name}` line"))
    bench = _BENCH.match(fields.get("benchmark", ""))
    if "benchmark" in fields and (
            bench is None or bench.group(1) != get("benchmark", "slug")
            or not str(get("benchmark", "spec_sha256") or "").startswith(bench.group(2))):
        out.append(LogFinding("benchmark.spec_sha256", f"the log ran `{fields['benchmark']}`, "
                              f"the record says {get('benchmark', 'slug')} (spec sha256 "
                              f"{str(get('benchmark', 'spec_sha256'))[:12]})"))
    if "rig" in fields and fields["rig"] != record.get("rig"):
        out.append(LogFinding("rig", f"the log's rig is `{fields['rig']}`, the record's "
                              f"`{record.get('rig')}`"))
    data = _DATA.search(fields.get("data", ""))
    if data and not str(get("dataset", "content_sha256") or "").startswith(data.group(1)):
        out.append(LogFinding("dataset.content_sha256", f"the log's data hashes to "
                              f"{data.group(1)}, the record's to "
                              f"{str(get('dataset', 'content_sha256'))[:12]}"))
    if "command" in fields and fields["command"] != get("command", "invoked"):
        out.append(LogFinding("command.invoked", f"the log ran `{fields['command']}`, the "
                              f"record says `{get('command', 'invoked')}`"))
    expected_n, n = get("results", "expected_n"), get("results", "n")
    samples = _SAMPLES.match(fields.get("samples", ""))
    if samples and int(samples.group(1)) != expected_n:
        out.append(LogFinding("results.expected_n", f"the log planned {samples.group(1)} "
                              f"samples, the record says {expected_n}"))

    finals = [m for m in map(_FINAL.match, session) if m]
    if not finals:
        out.append(LogFinding("results.n", "run.log has no final `progress` line"))
    elif (int(finals[-1].group(1)), int(finals[-1].group(2))) != (n, expected_n):
        out.append(LogFinding("results.n", f"the log finished {finals[-1].group(1)}/"
                              f"{finals[-1].group(2)} samples, the record says {n}/{expected_n}"))

    return out + _headline(session, record) + check_closed(session)


def _headline(session: list[str], record: Mapping[str, Any]) -> list[LogFinding]:
    results = record.get("results") or {}
    bench = record.get("benchmark") or {}
    heads = [m for m in map(_HEADLINE.match, session) if m and m.group(1) == bench.get("slug")]
    if heads:
        _, metric, score, _, n = heads[-1].groups()
        claimed = f"{float(results.get('score') or 0.0) * 100:.2f}"
        if score != claimed or int(n) != results.get("n") or metric != results.get("metric"):
            return [LogFinding("results.score", f"the log printed {metric} {score}% (n={n}), "
                               f"the record claims {results.get('metric')} {claimed}% "
                               f"(n={results.get('n')})")]
        return []
    printed = last_json_object(session, "score")
    if printed is None:
        return [LogFinding("results.score", "run.log never printed the results")]
    if printed.get("score") != results.get("score") or printed.get("n") != results.get("n"):
        return [LogFinding("results.score", f"the log printed score {printed.get('score')} "
                           f"(n={printed.get('n')}), the record claims {results.get('score')} "
                           f"(n={results.get('n')})")]
    return []
