"""run.log's format: the one place its lines are written and read back.

run.log holds everything a run printed (captured by results/capture.py). Its facts are a
contract with `rla verify` and the trust gate, so each fact line has one writer and one parser
here, side by side. A session (a resumed run appends a second one):

    # rla <version> run <run id> <started at>              Title
    command    <the invoked command>                        field lines: `<name>  <value>`
    benchmark  <slug> (spec sha256 <12 hex>)                (speed: `speed, profile <p> (…)`)
    rig        <runtime slug> <hardware slug>
    model      …
    data       <dataset> [<source>] sha256 <12 hex>
    prompt     …
    scoring    …
    samples    <N>[ (k done, resuming)]
    progress <done>/<N> … (final)                           ProgressLine
    <slug>  <metric> <score>% ± <se>  (n=<n>[, partial])    ScoredHeadline (or --json output)
    <label>  decode <x.x> tok/s (<source>)  prefill …       SpeedRunLine, one per speed run
    speed (<profile>)  decode <x.x> tok/s  spread …         SpeedHeadline
    logs sha256 <12 hex> (<counted logs>)                   LogsSha
    # run.log closed <time>                                 closing_line

A speed run's own logs (`runs/<label>.log`, the paths RUN_LOG_PATH matches) are laid out and
read back by results/speedlogs.py.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runlocalai_bench import jsonio
from runlocalai_bench.errors import RlaError
from runlocalai_bench.types import Results

_TITLE = re.compile(r"^# rla (\S+) run (\S+) (\S+)$")
_FIELD = re.compile(r"^([a-z]+)\s{2,}(.*)$")
_CLOSED = "# run.log closed"
_BENCH = re.compile(r"^(\S+) \(spec sha256 ([0-9a-f]+)\)$")
_SPEED_BENCH = re.compile(r"^(\S+), profile (\S+) \(spec sha256 ([0-9a-f]+)\)$")
_DATA = re.compile(r"sha256 ([0-9a-f]+)")
_SAMPLES = re.compile(r"^(\d+)")
_FINAL = re.compile(r"^progress (\d+)/(\d+) .*\(final\)$")
_HEADLINE = re.compile(r"^(\S+)\s+(\S+) (\d+\.\d+)% ± (\d+\.\d+)\s+\(n=(\d+)(, partial)?")
_RUN_LINE = re.compile(r"^(\S+)\s+decode\s+(\d+\.\d+)?\s*tok/s \(([^)]*)\)")
_SPEED_HEADLINE = re.compile(r"^speed \((\S+)\)\s+decode (\d+\.\d+)? ?tok/s")
_LOGS = re.compile(r"^logs sha256 ([0-9a-f]+)\b")
# A speed run's own logs: the only files besides run.log its record may name.
RUN_LOG_PATH = re.compile(r"runs/[a-z0-9][a-z0-9-]*\.log")
# A merged run's copy of each shard's run.log (results/merge.py): the only other files its record
# may name.
SHARD_LOG_PATH = re.compile(r"shards/shard-[0-9]+\.log")


@dataclass(frozen=True)
class Title:
    """A session's first line, `# rla <version> run <run id> <started at>`. A resumed run
    appends a session of its own to the same run.log."""

    version: str
    run_id: str
    started_at: str

    def line(self) -> str:
        return f"# rla {self.version} run {self.run_id} {self.started_at}"

    @classmethod
    def parse(cls, line: str) -> Title | None:
        match = _TITLE.match(line)
        return None if match is None else cls(*match.groups())


def field_line(name: str, value: str) -> str:
    """A header line, `<name>` padded to ten characters then its value."""
    return f"{name:<10} {value}"


def fields(session: Sequence[str], names: Collection[str]) -> dict[str, str]:
    """The session's header lines named in `names`: the first of each, value stripped."""
    found: dict[str, str] = {}
    for line in session:
        match = _FIELD.match(line)
        if match and match.group(1) in names and match.group(1) not in found:
            found[match.group(1)] = match.group(2).strip()
    return found


def last_session(lines: Sequence[str]) -> list[str]:
    """The lines from the last title on (all of them when there is no title)."""
    starts = [i for i, line in enumerate(lines) if _TITLE.match(line)]
    return list(lines[starts[-1]:] if starts else lines)


def titles(lines: Sequence[str]) -> list[Title]:
    return [t for t in map(Title.parse, lines) if t is not None]


def closing_line(stamp: str) -> str:
    return f"{_CLOSED} {stamp}"


def is_closed(session: Sequence[str]) -> bool:
    """Whether the session ends with run.log's closing line (not cut short)."""
    return bool(session) and session[-1].startswith(_CLOSED)


def last_json_object(lines: Sequence[str], key: str) -> Mapping[str, Any] | None:
    """The last top-level JSON object printed whole (`--json`), if it holds `key`."""
    ends = [i for i, line in enumerate(lines) if line == "}"]
    for end in reversed(ends):
        for start in range(end, -1, -1):
            if lines[start] == "{":
                try:
                    value = jsonio.loads("\n".join(lines[start:end + 1]), "a JSON object")
                except RlaError:
                    break
                if isinstance(value, Mapping) and key in value:
                    return value
                break
    return None


# -- a scored run's lines ------------------------------------------------------------------


def benchmark_value(slug: str, spec_sha256: str) -> str:
    return f"{slug} (spec sha256 {spec_sha256[:12]})"


def parse_benchmark(value: str) -> tuple[str, str] | None:
    """(slug, spec sha256 prefix) of a scored run's `benchmark` value."""
    match = _BENCH.match(value)
    return None if match is None else (match.group(1), match.group(2))


def data_value(dataset: str, source: str, content_sha256: str, *, pinned: bool) -> str:
    return (f"{dataset} [{source}] sha256 {content_sha256[:12]}"
            + ("" if pinned else " UNPINNED"))


def parse_data_sha256(value: str) -> str | None:
    match = _DATA.search(value)
    return None if match is None else match.group(1)


def samples_value(total: int, done: int) -> str:
    return f"{total}" + (f" ({done} done, resuming)" if done else "")


def parse_samples(value: str) -> int | None:
    match = _SAMPLES.match(value)
    return None if match is None else int(match.group(1))


@dataclass(frozen=True)
class ProgressLine:
    """A progress milestone; the session's last one is marked final."""

    done: int
    total: int
    elapsed_s: float
    rate: float
    errors: int
    final: bool = False

    @staticmethod
    def start(done: int, total: int) -> str:
        return f"progress {done}/{total}"

    def line(self) -> str:
        pct = 100.0 * self.done / max(self.total, 1)
        return (f"progress {self.done}/{self.total} ({pct:.0f}%) elapsed {self.elapsed_s:.1f}s"
                f" rate {self.rate:.2f}/s errors {self.errors}"
                + (" (final)" if self.final else ""))

    @staticmethod
    def parse_final(line: str) -> tuple[int, int] | None:
        """(done, total) of a final progress line."""
        match = _FINAL.match(line)
        return None if match is None else (int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class ScoredHeadline:
    """The results' one-line summary (the results table's title); scores in percent."""

    slug: str
    metric: str
    score_pct: float
    stderr_pct: float
    n: int
    partial: bool

    @classmethod
    def of(cls, results: Results) -> ScoredHeadline:
        return cls(results.slug, results.metric, results.score * 100, results.stderr * 100,
                   results.n, results.partial)

    def line(self) -> str:
        return (f"{self.slug}  {self.metric} {self.score_pct:.2f}% ± {self.stderr_pct:.2f}"
                f"  (n={self.n}" + (", partial" if self.partial else "") + ")")

    @classmethod
    def parse(cls, line: str) -> ScoredHeadline | None:
        match = _HEADLINE.match(line)
        if match is None:
            return None
        slug, metric, score, stderr, n, partial = match.groups()
        return cls(slug, metric, float(score), float(stderr), int(n), partial is not None)


# -- a speed run's lines -------------------------------------------------------------------


def speed_benchmark_value(slug: str, profile: str, spec_sha256: str) -> str:
    return f"{slug}, profile {profile} (spec sha256 {spec_sha256[:12]})"


def parse_speed_benchmark(value: str) -> tuple[str, str, str] | None:
    """(slug, profile, spec sha256 prefix) of a speed run's `benchmark` value."""
    match = _SPEED_BENCH.match(value)
    return None if match is None else (match.group(1), match.group(2), match.group(3))


def _f(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


@dataclass(frozen=True)
class SpeedRunLine:
    """One run as it lands, warm-ups included."""

    label: str
    decode_tps: float | None
    decode_source: str | None
    prefill_tps: float | None = None
    ttft_ms: float | None = None
    generated_tokens: int | None = None
    counted: bool = True

    def line(self) -> str:
        tag = "" if self.counted else "  (warm-up, discarded)"
        return (f"{self.label:10} decode {_f(self.decode_tps):>8} tok/s"
                f" ({self.decode_source or '-'})  prefill {_f(self.prefill_tps):>8} tok/s"
                f"  TTFT {_f(self.ttft_ms, 0):>6} ms  {self.generated_tokens or 0} tokens{tag}")

    @classmethod
    def parse(cls, line: str) -> SpeedRunLine | None:
        """The label, decode figure and source (the figures verify compares)."""
        match = _RUN_LINE.match(line)
        if match is None:
            return None
        label, decode, source = match.groups()
        return cls(label, None if decode is None else float(decode), source)


@dataclass(frozen=True)
class SpeedHeadline:
    """The speed summary's one line (the runs table's title)."""

    profile: str
    decode_tps: float | None
    spread: float | None = None
    reproduced: bool = False
    confidence: str = ""

    def line(self) -> str:
        return (f"speed ({self.profile})  decode {_f(self.decode_tps)} tok/s"
                f"  spread {_f((self.spread or 0) * 100)}%  reproduced"
                f" {str(self.reproduced).lower()}, confidence {self.confidence}")

    @classmethod
    def parse(cls, line: str) -> SpeedHeadline | None:
        match = _SPEED_HEADLINE.match(line)
        if match is None:
            return None
        profile, decode = match.groups()
        return cls(profile, None if decode is None else float(decode))


def logs_sha_line(prefix: str, logs: Sequence[str]) -> str:
    return f"logs sha256 {prefix} ({', '.join(logs)})"


def parse_logs_sha(line: str) -> str | None:
    match = _LOGS.match(line)
    return None if match is None else match.group(1)


def is_speed_run_log(name: str) -> bool:
    """`runs/<label>.log`: a path a speed run's record may list besides run.log."""
    return RUN_LOG_PATH.fullmatch(name) is not None


def is_shard_log(name: str) -> bool:
    return SHARD_LOG_PATH.fullmatch(name) is not None
