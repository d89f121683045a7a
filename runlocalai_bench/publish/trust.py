"""The trust gate: whether a finished run may be submitted, and every reason it may not.

The leaderboard shows a quality row only when its log is public and the run is comparable:
greedy and single-sample, the full pinned dataset, a methodology the leaderboard knows, and the
rig fields that make a row. A hardware row (`rla bench speed`) needs the same public log and rig
fields, and in place of the dataset the capture protocol: three counted runs under the 20%
spread, each with its own log in the Gist, the concatenated logs hashing as recorded, batch 1,
figures that follow from the raw observations, and decode under the memory-bandwidth ceiling
(`speed_gate`). `check_gate` runs locally before anything is sent and lists every failing item
at once, so a contributor fixes them in one go. It reads the record and the run directory's
files and nothing else; which benchmarks are publishable comes in as an argument
(`publishable_specs()` reads them from tasks/).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runlocalai_bench import schemas, specs
from runlocalai_bench.evals import KINDS
from runlocalai_bench.publish.gist import gist_name
from runlocalai_bench.results import rundir
from runlocalai_bench.results.runlog import is_speed_run_log


@dataclass(frozen=True)
class GateVerdict:
    reasons: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.reasons

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "reasons": list(self.reasons)}


def publishable_specs() -> dict[str, str]:
    """slug → sha256 of tasks/<slug>.toml, for every benchmark the leaderboard can show: a scored
    kind or speed, and not the bundled-only smoke test."""
    out = {}
    for slug in specs.spec_names("tasks"):
        spec = specs.load_spec("tasks", slug)
        kind = spec.get("kind")
        if (kind not in KINDS and kind != schemas.SPEED_KIND) or \
                spec.get("dataset", {}).get("bundled_only"):
            continue
        out[slug] = specs.spec_sha256(specs.spec_path("tasks", slug))
    return out


def check_gate(record: Mapping[str, Any], run_path: Path,
               publishable: Mapping[str, str]) -> GateVerdict:
    reasons: list[str] = []
    schema = schemas.record_schema(record)
    for error in schemas.validate(record, schemas.load_schema(schema)):
        reasons.append(f"record.json does not match schema {schema}: {error}")
    speed = schema == schemas.SPEED_RECORD
    reasons += _benchmark(record, publishable)
    reasons += _rig(record, speed=speed)
    reasons += _sampling(record)
    reasons += _speed(record, run_path) if speed else _coverage(record)
    reasons += _files(record, run_path, speed=speed)
    reasons += _gist(record, speed=speed)
    return GateVerdict(tuple(dict.fromkeys(reasons)))


def _get(record: Mapping[str, Any], *path: str) -> Any:
    node: Any = record
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _benchmark(record: Mapping[str, Any], publishable: Mapping[str, str]) -> list[str]:
    slug = _get(record, "benchmark", "slug")
    if not slug:
        return ["the benchmark slug is missing"]
    if slug not in publishable:
        known = ", ".join(sorted(publishable)) or "none"
        return [f"benchmark {slug!r} is not published on the leaderboard (publishable: {known})"]
    spec_sha = _get(record, "benchmark", "spec_sha256")
    if spec_sha != publishable[slug]:
        return [f"tasks/{slug}.toml changed since this run (spec sha256 {str(spec_sha)[:12]} ≠"
                f" {publishable[slug][:12]}): rerun with this version of rla"]
    return []


def _rig(record: Mapping[str, Any], *, speed: bool) -> list[str]:
    out = []
    required = {
        ("model", "slug"): "the model slug",
        ("model", "quantization"): "the model's quantization (e.g. Q4_K_M)",
        ("runtime", "engine"): "the runtime engine",
        ("runtime", "version"): "the runtime version",
        ("hardware", "hardware_slug"): "the hardware slug",
        ("command", "reproduce"): "the reproduction command",
    }
    if not speed:
        required["dataset", "content_sha256"] = "the dataset's content hash"
    for path, what in required.items():
        value = _get(record, *path)
        if value in (None, "") or (isinstance(value, str) and value.startswith("unknown")):
            out.append(f"{what} is missing ({'.'.join(path)})")
    return out


def _sampling(record: Mapping[str, Any]) -> list[str]:
    out = []
    settings = _get(record, "sampling", "settings") or {}
    sent = _get(record, "sampling", "sent") or {}
    temperature = settings.get("temperature")
    if temperature != 0:
        out.append(f"sampling is not greedy: temperature {temperature!r}, not 0")
    if "temperature" in sent and sent["temperature"] != 0:
        out.append(f"requests were sent with temperature {sent['temperature']!r}, not 0")
    if settings.get("n") != 1:
        out.append(f"more than one sample per question: n {settings.get('n')!r}, not 1")
    if "n" in sent and sent["n"] != 1:
        out.append(f"requests were sent with n {sent['n']!r}, not 1")
    return out


def _coverage(record: Mapping[str, Any]) -> list[str]:
    out = []
    source = _get(record, "dataset", "source")
    if source == "bundled":
        out.append("the run used rla's bundled sample (--sample), not the full dataset")
    if _get(record, "results", "partial") is not False:
        out.append("the results are partial: a slice (--limit, --limit-per-subtask) or"
                   " missing samples; run the full dataset")
    n, expected = _get(record, "results", "n"), _get(record, "results", "expected_n")
    if isinstance(n, int) and isinstance(expected, int) and n != expected:
        out.append(f"only {n} of {expected} samples were scored: finish the run with --resume")
    errors = _get(record, "results", "counts", "error")
    if isinstance(errors, int) and errors > 0:
        out.append(f"{errors} sample(s) are failed requests scored 0: rerun against a healthy"
                   " server")
    if _get(record, "dataset", "pinned") is not True:
        got = str(_get(record, "dataset", "content_sha256"))[:12]
        want = str(_get(record, "dataset", "expected_sha256"))[:12]
        out.append(f"the data is not pinned: its content sha256 {got} differs from the spec's"
                   f" {want} (--allow-unpinned)")
    return out


def _speed(record: Mapping[str, Any], run_path: Path) -> list[str]:
    """The capture protocol, re-derived from the record's raw observations (`speed_gate`), and
    the run logs on disk."""
    from runlocalai_bench.speed.plausibility import speed_gate

    out = list(speed_gate(record))
    speed = _get(record, "speed") or {}
    if speed.get("reproduced") is not True:
        out.append(f"the speed did not settle ({speed.get('verdict') or 'not reproduced'}):"
                   " rerun `rla bench speed` on a quiet machine")
    concurrency = _get(record, "runtime", "concurrency")
    if concurrency != 1:
        out.append(f"speed rows are batch 1: the run had concurrency {concurrency!r}")
    counted = [run.get("log") for run in speed.get("runs") or ()
               if isinstance(run, Mapping) and run.get("counted")]
    if list(speed.get("logs") or ()) != counted:
        out.append("speed.logs does not list the counted runs' logs in order")
    if counted and not all(is_speed_run_log(str(name)) for name in counted):
        out.append("speed.runs names a log outside the run directory's runs/")
        return out
    paths = [run_path / str(name) for name in counted]
    if all(path.is_file() for path in paths) and paths and \
            rundir.sha256_files(paths) != speed.get("logs_sha256"):
        out.append("the counted runs' logs, concatenated, do not hash to speed.logs_sha256")
    for run in [*(speed.get("warmup") or ()), *(speed.get("runs") or ())]:
        log = run.get("log") if isinstance(run, Mapping) else None
        if log and _get(record, "files", log) != run.get("log_sha256"):
            out.append(f"{log} is not listed in the record's files with its sha256")
    return out


def _files(record: Mapping[str, Any], run_path: Path, *, speed: bool) -> list[str]:
    out = []
    hashes = _get(record, "files") or {}
    names = [rundir.RUN_LOG, rundir.SAMPLES, rundir.RESULTS]
    if speed:
        names = [rundir.RUN_LOG, *(n for n in hashes if n != rundir.RUN_LOG)]
        strange = [n for n in names[1:] if not is_speed_run_log(str(n))]
        if strange:
            return [f"record.json lists files a speed run does not write: {', '.join(strange)}"]
    for name in names:
        path = run_path / name
        if not path.is_file():
            out.append(f"{name} is missing from {run_path.name}")
        elif hashes.get(name) != rundir.sha256_file(path):
            out.append(f"{name} changed after the record was written (sha256 differs)")
    return out


def _gist(record: Mapping[str, Any], *, speed: bool) -> list[str]:
    url = record.get("test_run_log_url")
    gist = record.get("gist")
    if not url:
        return ["test_run_log_url is not set: publish the run log first (rla publish RUN_DIR)"]
    if not isinstance(gist, Mapping) or gist.get("verified") is not True:
        return ["the Gist was not verified (its files were not fetched back and compared):"
                " rla publish RUN_DIR"]
    out = []
    if gist.get("html_url") != url:
        out.append("test_run_log_url is not the verified Gist's URL")
    log = _get(gist, "files", rundir.RUN_LOG) or {}
    if log.get("sha256") != _get(record, "files", rundir.RUN_LOG):
        out.append("the Gist's run.log is not this run's run.log (sha256 differs)")
    if speed:  # every run's own log is evidence, in the Gist beside run.log
        for name, sha in (_get(record, "files") or {}).items():
            copy = _get(gist, "files", gist_name(name)) or {}
            if name != rundir.RUN_LOG and copy.get("sha256") != sha:
                out.append(f"the Gist lacks {name} as {gist_name(name)} (or its sha256"
                           " differs): publish again")
    return out
