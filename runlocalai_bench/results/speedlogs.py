"""A speed run's own logs, runs/<label>.log: their layout, written and read back here.

Each holds what the record's raw observations of one run come from:

    # rla <version> speed <label> <stamp>
    ## <prefill|decode|generation> request {…}             one section per request
    --- output --- … --- end of output ---
    finish_reason <reason>
    engine_timings (<format>) {…}                          the engine's timing object as sent
    usage prompt_tokens=<n> completion_tokens=<n>
    arrivals_ms [<ms>, …]
    total_ms <ms>
    decode_tps <x.xxx> (<source>); prefill_tps …           the figures derived from them

`rla verify` compares each fact with the record (review/logcheck.py); run.log's own lines are
results/runlog.py's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runlocalai_bench.redact import redact

_RUN_TITLE = re.compile(r"^# rla (\S+) speed (\S+) (\S+)$")
_SECTION = re.compile(r"^## (\S+) request ")
_ENGINE = re.compile(r"^engine_timings \(([^)]*)\) (.*)$")
_USAGE = re.compile(r"^usage prompt_tokens=(\S+) completion_tokens=(\S+)$")
_DERIVED = re.compile(r"^decode_tps (\S+) \(")

FACTS = ("finish_reason", "engine_timings", "usage", "arrivals_ms", "total_ms")


def title(version: str, label: str, stamp: str) -> str:
    return f"# rla {version} speed {label} {stamp}"


def parse_title(line: str) -> tuple[str, str, str] | None:
    """(version, label, stamp) of a run log's first line."""
    match = _RUN_TITLE.match(line)
    return None if match is None else (match.group(1), match.group(2), match.group(3))


def _g(value: float | None) -> str:
    return "none" if value is None else f"{value:.3f}"


@dataclass(frozen=True)
class RequestSection:
    """One request of a run as observed: what was asked, the output, the engine's timings as
    sent, the token counts and the arrival times."""

    name: str
    request: Mapping[str, Any]
    output: str
    finish_reason: str | None
    engine_format: str | None
    engine: Any
    prompt_tokens: int | None
    completion_tokens: int | None
    arrivals_ms: Sequence[float]
    total_ms: float

    def lines(self) -> list[str]:
        return [
            f"## {self.name} request"
            f" {json.dumps(dict(self.request), ensure_ascii=False, sort_keys=True)}",
            "--- output ---",
            self.output,
            "--- end of output ---",
            f"finish_reason {self.finish_reason}",
            f"engine_timings ({self.engine_format}) "
            + json.dumps(self.engine, sort_keys=True, default=str),
            f"usage prompt_tokens={self.prompt_tokens}"
            f" completion_tokens={self.completion_tokens}",
            f"arrivals_ms {json.dumps([round(t, 3) for t in self.arrivals_ms])}",
            f"total_ms {self.total_ms:.3f}",
        ]


@dataclass(frozen=True)
class DerivedFigures:
    """The figures a run's log derives from its requests (three decimals)."""

    decode_tps: float | None
    decode_source: str | None
    prefill_tps: float | None
    prefill_source: str | None
    ttft_ms: float | None
    prompt_tokens: int | None
    generated_tokens: int | None
    engine_decode_tps: float | None
    stream_decode_tps: float | None

    def lines(self) -> list[str]:
        return [
            f"decode_tps {_g(self.decode_tps)} ({self.decode_source}); prefill_tps"
            f" {_g(self.prefill_tps)} ({self.prefill_source}); ttft_ms {_g(self.ttft_ms)};"
            f" prompt_tokens {self.prompt_tokens}; generated_tokens {self.generated_tokens}",
            f"engine_decode_tps {_g(self.engine_decode_tps)};"
            f" stream_decode_tps {_g(self.stream_decode_tps)}",
        ]


def text(first_line: str, sections: Sequence[RequestSection], derived: DerivedFigures) -> str:
    """A run's own log, redacted; `first_line` is its `title`."""
    lines = [first_line, *(line for section in sections for line in section.lines()),
             *derived.lines()]
    return redact("\n".join(lines)) + "\n"


def request_sections(lines: Sequence[str]) -> list[tuple[str, dict[str, str]]]:
    """(request name, {fact: its line}) per `## <name> request` section, in order; the first
    line of each fact counts."""
    out: list[tuple[str, dict[str, str]]] = []
    for line in lines:
        match = _SECTION.match(line)
        if match:
            out.append((match.group(1), {}))
        elif out:
            key = line.split(" ", 1)[0]
            if key in FACTS and key not in out[-1][1]:
                out[-1][1][key] = line
    return out


def fact_value(line: str, key: str) -> str:
    """A fact line's text after its key ('' for a missing fact)."""
    return line.removeprefix(f"{key} ")


def parse_engine_timings(line: str) -> tuple[str, str] | None:
    """(format, the timing object's JSON text) of an `engine_timings` fact."""
    match = _ENGINE.match(line)
    return None if match is None else (match.group(1), match.group(2))


def parse_usage(line: str) -> tuple[str, str] | None:
    """(prompt tokens, completion tokens) as written in a `usage` fact."""
    match = _USAGE.match(line)
    return None if match is None else (match.group(1), match.group(2))


def parse_derived_decode(line: str) -> str | None:
    """The decode figure of a run log's derived line, as written ('none' when there was none)."""
    match = _DERIVED.match(line)
    return None if match is None else match.group(1)
