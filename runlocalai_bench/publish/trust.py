"""The trust gate: whether a finished run may be submitted, and every reason it may not.

The leaderboard shows a quality row only when its log is public and the run is comparable:
greedy and single-sample for real (no server sampler default left non-neutral, one request in
flight, no prompt cache, one server slot, no batching stated in the record: runtime/greedy.py),
the full pinned dataset (the samples' ids exactly its item ids: datasets/coverage.py), a
methodology the leaderboard knows, and the rig fields that make a row. A hardware row (`rla
bench speed`) needs the same public log and rig fields, and in place of the dataset the capture
protocol: three counted runs under the 20% spread, each with its own log in the Gist, the
concatenated logs hashing as recorded, batch 1, figures that follow from the raw observations,
and decode under the memory-bandwidth ceiling (`speed_gate`). `check_gate` runs locally before
anything is sent and lists every failing item at once, so a contributor fixes them in one go. It
reads the record and the run directory's files and nothing else; which benchmarks are
publishable comes in as an argument (`publishable_specs()` reads them from tasks/).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runlocalai_bench import schemas, specs
from runlocalai_bench.datasets import coverage
from runlocalai_bench.errors import RecordError
from runlocalai_bench.evals import KINDS
from runlocalai_bench.publish.gist import gist_name
from runlocalai_bench.results import rundir
from runlocalai_bench.results.recordtypes import Record, Scored, Speed
from runlocalai_bench.results.runlog import is_speed_run_log
from runlocalai_bench.results.sampleline import SampleLine, iter_sample_lines
from runlocalai_bench.runtime import greedy, identity
from runlocalai_bench.scoring import plausibility


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


def check_gate(record: Record, run_path: Path, publishable: Mapping[str, str],
               lines: Sequence[SampleLine] | None = None) -> GateVerdict:
    """`lines`: the run's samples.jsonl as a caller already read it (rla report), so a full
    run's samples are not held twice; read here otherwise."""
    reasons: list[str] = []
    data = record.to_json()
    for error in schemas.validate(data, schemas.load_schema(record.schema)):
        reasons.append(f"record.json does not match schema {record.schema}: {error}")
    reasons += _benchmark(record, publishable)
    reasons += _rig(record)
    reasons += _identity(record)
    reasons += _provenance(record)
    reasons += _sampling(record)
    if isinstance(record.body, Speed):
        reasons += _speed(record, record.body, data, run_path)
    else:
        read = _sample_lines(run_path) if lines is None else lines  # for items and context
        reasons += _coverage(record.body)
        reasons += _items(record, record.body, read, publishable)
        reasons += _greedy(record)
        reasons += _plausible(record, record.body, run_path, read)
    reasons += _files(record, run_path)
    reasons += _gist(record)
    return GateVerdict(tuple(dict.fromkeys(reasons)))


def _benchmark(record: Record, publishable: Mapping[str, str]) -> list[str]:
    slug = record.benchmark.slug
    if not slug:
        return ["the benchmark slug is missing"]
    if slug not in publishable:
        known = ", ".join(sorted(publishable)) or "none"
        return [f"benchmark {slug!r} is not published on the leaderboard (publishable: {known})"]
    spec_sha = record.benchmark.spec_sha256
    if spec_sha != publishable[slug]:
        return [f"tasks/{slug}.toml changed since this run (spec sha256 {spec_sha[:12]} ≠"
                f" {publishable[slug][:12]}): rerun with this version of rla"]
    return _methodology(record, specs.load_spec("tasks", slug))


def _methodology(record: Record, spec: Mapping[str, Any]) -> list[str]:
    """What a row's score means is the spec's, with its defaults: the record states the spec's
    title, kind, metric and scoring method, and the run used its default prompt style (a
    variant is its own benchmark slug)."""
    bench, slug = record.benchmark, record.benchmark.slug
    stated = {"title": bench.title, "kind": bench.kind, "metric": bench.metric,
              "scoring method": bench.scoring_method}
    pinned = {"title": spec.get("title"), "kind": spec.get("kind"),
              "metric": spec.get("metric"),
              "scoring method": spec.get("scoring", {}).get("method")}
    out = [f"the record states {name} {stated[name]!r}, tasks/{slug}.toml says"
           f" {pinned[name]!r}" for name in stated
           if pinned[name] is not None and stated[name] != pinned[name]]
    default = spec.get("prompt", {}).get("default_style")
    if bench.kind != "speed" and default and bench.prompt_style != default:
        out.append(f"the run used the {bench.prompt_style} prompt style, not tasks/{slug}.toml's"
                   f" default {default}: a leaderboard row uses the spec's methodology as it is"
                   " (a variant is its own benchmark slug)")
    return out


def _rig(record: Record) -> list[str]:
    required: dict[str, tuple[str, Any]] = {
        "model.slug": ("the model slug", record.model.slug),
        "model.quantization": ("the model's quantization (e.g. Q4_K_M)",
                               record.model.quantization),
        "runtime.engine": ("the runtime engine", record.runtime.engine),
        "runtime.version": ("the runtime version", record.runtime.version),
        "hardware.hardware_slug": ("the hardware slug", record.hardware.hardware_slug),
        "command.reproduce": ("the reproduction command", record.command.reproduce),
    }
    if isinstance(record.body, Scored):
        required["dataset.content_sha256"] = ("the dataset's content hash",
                                              record.body.dataset.content_sha256)
    return [f"{what} is missing ({path})" for path, (what, value) in required.items()
            if value in (None, "") or (isinstance(value, str) and value.startswith("unknown"))]


def _identity(record: Record) -> list[str]:
    """The model is what the row says: a quantization from the weights or the server, never a
    name, and a file whose bits per weight fit it (runtime/identity.py)."""
    model = record.model
    out = []
    if model.quantization_source == "file-name":
        out.append(f"the quantization {model.quantization} was read from a file or model name,"
                   " not from the weights or the server: rerun with this rla, which asks the"
                   " server")
    return out + identity.bits_reasons(model.quantization, model.size_bytes, model.parameters)


def _provenance(record: Record) -> list[str]:
    """The runner is one a third party can install: a release, or a commit of the public
    repository as it was committed (a checkout with uncommitted changes ran code nobody can get)."""
    rla = record.rla
    out = []
    if not rla.version or rla.version.startswith("unknown"):
        out.append("rla's own version is unknown: install a release of rla and rerun")
    if rla.git_commit and rla.git_commit.endswith("-dirty"):
        out.append(f"rla ran from a checkout with uncommitted changes (commit {rla.git_commit}):"
                   " commit them, or install a release, and rerun")
    return out


def _sampling(record: Record) -> list[str]:
    out = []
    settings, sent = record.sampling.settings, record.sampling.sent
    if settings.temperature != 0:
        out.append(f"sampling is not greedy: temperature {settings.temperature!r}, not 0")
    if "temperature" in sent and sent["temperature"] != 0:
        out.append(f"requests were sent with temperature {sent['temperature']!r}, not 0")
    if settings.n != 1:
        out.append(f"more than one sample per question: n {settings.n!r}, not 1")
    if "n" in sent and sent["n"] != 1:
        out.append(f"requests were sent with n {sent['n']!r}, not 1")
    return out


def _greedy(record: Record) -> list[str]:
    """A quality row is greedy for real: no server default left to change the output, one
    request in flight, no prompt cache, one server slot (runtime/greedy.py)."""
    runtime = record.runtime
    return [*greedy.sampler_reasons(runtime.engine, runtime.sampler_defaults,
                                    record.sampling.sent),
            *greedy.request_reasons(concurrency=runtime.concurrency,
                                    cache_prompt=record.sampling.settings.cache_prompt),
            *greedy.server_reasons(engine=runtime.engine, slots=runtime.slots),
            *batched_reasons(record)]


def batched_reasons(record: Record) -> list[str]:
    """What the record itself says about batching (version 4): a batched run is never a row,
    whatever its other fields say."""
    batching = record.body.batching if isinstance(record.body, Scored) else None
    if batching is None:
        return []
    return greedy.batching_reasons(batched=batching.batched, slots=batching.slots,
                                   concurrency=batching.concurrency)


def _sample_lines(run_path: Path) -> list[SampleLine] | str | None:
    """samples.jsonl's lines; why they cannot be read; None without the file."""
    path = run_path / rundir.SAMPLES
    if not path.is_file():
        return None
    try:
        return list(iter_sample_lines(path, alternatives=False))  # the gate never rescores
    except RecordError as exc:
        return f"{rundir.SAMPLES} cannot be read: {exc.message}"


def _plausible(record: Record, body: Scored, run_path: Path,
               lines: Sequence[SampleLine] | str | None) -> list[str]:
    """Results no working setup produces (scoring/plausibility.py): below chance, too many
    unreadable answers, prompts that reached the context. The samples count only when they
    are the run's own (else _files names them)."""
    path = run_path / rundir.SAMPLES
    own = lines is not None and record.files.get(rundir.SAMPLES) == rundir.sha256_file(path)
    if own and isinstance(lines, str):
        return []  # _items names the unreadable line
    slug = record.benchmark.slug
    spec = specs.load_spec("tasks", slug) if slug in specs.spec_names("tasks") else {}
    results = body.results
    return plausibility.quality_flags(
        spec, score=results.score, n=results.n, counts=results.counts,
        samples=lines if own and not isinstance(lines, str) else None,
        n_ctx=plausibility.context_of(record.runtime.n_ctx, record.sampling.sent))


def _coverage(body: Scored) -> list[str]:
    out = []
    results, dataset = body.results, body.dataset
    if dataset.source == "bundled":
        out.append("the run used rla's bundled sample (--sample), not the full dataset")
    if results.partial:
        out.append("the results are partial: a slice (--limit, --limit-per-subtask) or"
                   " missing samples; run the full dataset")
    if results.n != results.expected_n:
        out.append(f"only {results.n} of {results.expected_n} samples were scored: finish the"
                   " run with --resume")
    errors = results.counts.get("error")
    if errors is not None and errors > 0:
        out.append(f"{errors} sample(s) are failed requests scored 0: rerun against a healthy"
                   " server")
    if not dataset.pinned:
        out.append(f"the data is not pinned: its content sha256 {dataset.content_sha256[:12]}"
                   f" differs from the spec's {str(dataset.expected_sha256)[:12]}"
                   " (--allow-unpinned)")
    return out


def _items(record: Record, body: Scored, lines: Sequence[SampleLine] | str | None,
           publishable: Mapping[str, str]) -> list[str]:
    """The samples' ids are exactly the pinned dataset's item ids, each once: derived from the
    spec and the pinned data (datasets/coverage.py), not from the record's counters."""
    slug = record.benchmark.slug
    if slug not in publishable:
        return []
    expected = coverage.pinned_item_set(specs.load_spec("tasks", slug),
                                        body.dataset.content_sha256)
    if isinstance(expected, str):
        return [expected]
    if lines is None:
        return []  # _files names it
    if isinstance(lines, str):
        return [lines]
    return coverage.coverage_reasons([coverage.Sampled(s.id, s.subtask) for s in lines],
                                     expected)


def _speed(record: Record, body: Speed, data: Mapping[str, Any], run_path: Path) -> list[str]:
    """The capture protocol, re-derived from the record's raw observations (`speed_gate`), and
    the run logs on disk."""
    from runlocalai_bench.speed.plausibility import speed_gate

    out = list(speed_gate(data))
    speed = body.speed
    if not speed.reproduced:
        out.append(f"the speed did not settle ({speed.verdict or 'not reproduced'}):"
                   " rerun `rla bench speed` on a quiet machine")
    if record.runtime.concurrency != 1:
        out.append(f"speed rows are batch 1: the run had concurrency"
                   f" {record.runtime.concurrency!r}")
    counted = [run.log for run in speed.runs if run.counted]
    if list(speed.logs) != counted:
        out.append("speed.logs does not list the counted runs' logs in order")
    if counted and not all(is_speed_run_log(name) for name in counted):
        out.append("speed.runs names a log outside the run directory's runs/")
        return out
    paths = [run_path / name for name in counted]
    if all(path.is_file() for path in paths) and paths and \
            rundir.sha256_files(paths) != speed.logs_sha256:
        out.append("the counted runs' logs, concatenated, do not hash to speed.logs_sha256")
    for run in [*speed.warmup, *speed.runs]:
        if run.log and record.files.get(run.log) != run.log_sha256:
            out.append(f"{run.log} is not listed in the record's files with its sha256")
    return out


def _files(record: Record, run_path: Path) -> list[str]:
    out = []
    hashes = record.files
    names = [rundir.RUN_LOG, rundir.SAMPLES, rundir.RESULTS]
    if isinstance(record.body, Scored):  # a merged run's shard logs (record.shards)
        logs = {s.log for s in record.body.shards or ()}
        strange = [n for n in hashes if n not in names and n not in logs]
        if strange or logs - set(hashes):
            return [f"record.json's files are not its run's: {', '.join(strange)}" if strange
                    else "record.json lists no sha256 of a shard's log it names in shards"]
        names += sorted(logs)
    if record.is_speed:
        names = [rundir.RUN_LOG, *(n for n in hashes if n != rundir.RUN_LOG)]
        strange = [n for n in names[1:] if not is_speed_run_log(n)]
        if strange:
            return [f"record.json lists files a speed run does not write: {', '.join(strange)}"]
    for name in names:
        path = run_path / name
        if not path.is_file():
            out.append(f"{name} is missing from {run_path.name}")
        elif hashes.get(name) != rundir.sha256_file(path):
            out.append(f"{name} changed after the record was written (sha256 differs)")
    return out


def _gist(record: Record) -> list[str]:
    url, gist = record.test_run_log_url, record.gist
    if not url:
        return ["test_run_log_url is not set: publish the run log first (rla publish RUN_DIR)"]
    if gist is None or not gist.verified:
        return ["the Gist was not verified (its files were not fetched back and compared):"
                " rla publish RUN_DIR"]
    out = []
    if gist.html_url != url:
        out.append("test_run_log_url is not the verified Gist's URL")
    log = gist.files.get(rundir.RUN_LOG)
    if (log.sha256 if log else None) != record.files.get(rundir.RUN_LOG):
        out.append("the Gist's run.log is not this run's run.log (sha256 differs)")
    if record.is_speed or (isinstance(record.body, Scored) and record.body.shards):
        # every run's or shard's own log is evidence, in the Gist beside run.log
        for name, sha in record.files.items():
            if not record.is_speed and name in (rundir.SAMPLES, rundir.RESULTS):
                continue
            copy = gist.files.get(gist_name(name))
            if name != rundir.RUN_LOG and (copy.sha256 if copy else None) != sha:
                out.append(f"the Gist lacks {name} as {gist_name(name)} (or its sha256"
                           " differs): publish again")
    return out
