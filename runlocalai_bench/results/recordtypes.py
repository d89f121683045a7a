"""record.json as types: the envelope every run has, and the section of its kind.

    Record                  record_version … notes, as in both schemas
      body: Scored          results, dataset, timings (with engine_s),    record-v4
                            shard, shards, endpoints, batching (version 4)
          | Speed           speed, timings                                 speed-record-v3

`Record.from_json` checks every field's type while it builds (a RecordError naming the JSON path
otherwise), `Record.to_json` gives back the same JSON, keys in the order the schema's `required`
lists them, so a record rla wrote round-trips byte for byte. `tests/results/test_recordtypes.py`
holds the types and the schema files to each other.
Sections that are rla's own values elsewhere are those values (RigInfo, SamplingParams,
DatasetPin, Measurement, Summary, Consistency, Check); server objects rla only passes on
(sampler defaults, the engine's timing object, the prompt) stay opaque mappings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from runlocalai_bench import schemas
from runlocalai_bench.errors import RecordError
from runlocalai_bench.results.jsontypes import decode, encode
from runlocalai_bench.speed.measure import Measurement
from runlocalai_bench.speed.plausibility import Check
from runlocalai_bench.speed.protocol import Summary
from runlocalai_bench.speed.spec import Consistency
from runlocalai_bench.types import DatasetPin, DataSource, RigInfo, SamplingParams

RECORD_VERSION = 4  # record-v4 and speed-record-v3 share the envelope's version
# Version 2 has no `request`, version 3 no `shard` and `shards`; both are still read and
# reproduced.
READABLE_VERSIONS = (2, 3, 4)


@dataclass(frozen=True)
class Benchmark:
    slug: str
    title: str | None
    kind: str  # multiple_choice | code_execution | speed
    metric: str
    scoring_method: str | None
    spec_sha256: str
    prompt_style: Literal["completion", "chat"]


@dataclass(frozen=True)
class Runner:
    task_spec: str
    runtime_spec: str | None


@dataclass(frozen=True)
class Model:
    slug: str | None
    family: str | None
    parameters: int | None
    tuning: Literal["base", "instruct"] | None
    quantization: str | None
    quantization_source: Literal["runtime", "file-name"] | None
    file_sha256: str | None
    name: str | None
    id: str | None
    path: str | None
    size_bytes: int | None
    context_length: int | None
    chat_template_sha256: str | None


@dataclass(frozen=True)
class Runtime:
    engine: str
    version: str | None
    slug: str
    endpoint: str | None
    build: str | None
    commit: str | None
    slots: int | None
    n_ctx: int | None
    sampler_defaults: Mapping[str, Any]
    settings: Mapping[str, Any]
    concurrency: int


@dataclass(frozen=True)
class Sampling:
    sent: Mapping[str, Any]  # the sampling fields as put on the wire (first request)
    settings: SamplingParams


@dataclass(frozen=True)
class Rla:
    version: str
    git_commit: str | None


@dataclass(frozen=True)
class Command:
    reproduce: str
    invoked: str | None


@dataclass(frozen=True)
class SpeedRequest:
    profile: str
    n_predict: int
    prompt: str | None  # only when it is not the profile's own


@dataclass(frozen=True)
class Request:
    """The run as asked for: what `rla reproduce` runs again (record version 3)."""

    benchmark: str
    endpoint: str | None
    model: str | None
    model_path: str | None
    data: DataSource | None  # None for a speed run
    sampling: SamplingParams
    prompt_style: Literal["completion", "chat"] | None
    limit: int | None
    limit_per_subtask: int | None
    concurrency: int
    n_ctx: int | None  # the context rla chose (in process; Ollama's num_ctx), else None
    n_threads: int | None
    speed: SpeedRequest | None  # a speed run's profile, n_predict and prompt


@dataclass(frozen=True)
class GistFile:
    raw_url: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Gist:
    id: str
    html_url: str
    files: Mapping[str, GistFile]
    verified: bool
    verified_at: str


# -- a scored run (record-v2) ---------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """One subtask's or category's row."""

    score: float
    n: int
    correct: float
    stderr: float
    category: str | None


@dataclass(frozen=True)
class Results:
    metric: str
    score: float
    stderr: float
    macro: float
    n: int
    expected_n: int
    partial: bool
    subtasks: Mapping[str, Score]
    categories: Mapping[str, Score]
    counts: Mapping[str, int]


@dataclass(frozen=True)
class ScoredTimings:
    started_at: str
    finished_at: str
    wall_s: float
    engine_s: float | None


@dataclass(frozen=True)
class ShardOf:
    """The part of a sharded run this run is (shards.py, docs/sharding.md)."""

    index: int
    count: int
    partition: str
    source: Literal["flag", "slurm", "kubernetes", "rla"]


@dataclass(frozen=True)
class ShardRun:
    """One shard a merged run joins (cli/merge.py): its run, rig and the hashes of its files."""

    index: int
    count: int
    partition: str
    run_id: str
    rig: str
    log: str  # its run.log in the merged run directory, shards/shard-<index>.log
    log_sha256: str
    samples_sha256: str
    record_sha256: str
    n: int
    started_at: str
    finished_at: str


@dataclass(frozen=True)
class Batching:
    """Whether the run's requests could share a server's batches (runtime/greedy.batching)."""

    batched: bool
    slots: int | None  # the server's (llama-server /props total_slots); null where unreported
    concurrency: int  # requests in flight per endpoint
    in_flight: int  # requests in flight across every endpoint


@dataclass(frozen=True)
class Scored:
    results: Results
    dataset: DatasetPin
    timings: ScoredTimings
    # version 4; absent (None) in older records, null in a version 4 record that is neither
    shard: ShardOf | None = None
    shards: tuple[ShardRun, ...] | None = None
    # version 4: every endpoint the run sent requests to (redacted; empty in process), and
    # whether they batched; absent (None) in older records
    endpoints: tuple[str, ...] | None = None
    batching: Batching | None = None


# The fields version 4 added to a scored record: each required there, absent before.
SCORED_V4_FIELDS = ("shard", "shards", "endpoints", "batching")


# -- a speed run (speed-record-v1) ----------------------------------------------------------


@dataclass(frozen=True)
class RawRun:
    """What was observed of one run; `prefill` only for a split run's prefill request."""

    engine: Mapping[str, Any] | None
    engine_format: str | None
    arrivals_ms: tuple[float, ...]
    total_ms: float
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str | None
    prefill: RawRun | None = field(default=None, metadata={"omit_if_none": True})


@dataclass(frozen=True)
class SpeedRun:
    label: str
    attempt: int
    counted: bool
    log: str
    log_sha256: str
    raw: RawRun
    metrics: Measurement


@dataclass(frozen=True)
class Protocol:
    warmup_runs: int
    measured_runs: int
    spread_threshold: float
    max_reruns: int
    ceiling_factor: float


@dataclass(frozen=True)
class Experts:
    count: int | None
    used: int | None


@dataclass(frozen=True)
class Plausibility:
    bandwidth_gbps: float | None
    bandwidth_source: str | None
    model_bytes: int | None
    bytes_per_token: float | None
    factor: float
    tps: float | None
    limit_tps: float | None
    basis: str
    experts: Experts
    checks: tuple[Check, ...]


@dataclass(frozen=True)
class Environment:
    runtime: str | None
    runtime_build: str | None
    driver: str | None
    cuda: str | None
    os: str | None
    distro: str | None
    backend: str | None


@dataclass(frozen=True)
class SpeedSection:
    schema: int
    profile: str
    prompt: Mapping[str, Any]  # the prompt sent: its text, tokens and sha256
    n_predict: int
    ignore_eos: bool
    split: bool
    protocol: Protocol
    consistency: Consistency
    runs: tuple[SpeedRun, ...]
    warmup: tuple[SpeedRun, ...]
    attempts: int
    summary: Summary
    reproduced: bool
    confidence: Literal["high", "low"]
    verdict: str
    logs: tuple[str, ...]
    logs_sha256: str
    logs_sha256_prefix: str
    plausibility: Plausibility
    environment: Environment
    refusals: tuple[str, ...]


@dataclass(frozen=True)
class SpeedTimings:
    started_at: str
    finished_at: str
    wall_s: float


@dataclass(frozen=True)
class Speed:
    speed: SpeedSection
    timings: SpeedTimings


# -- the envelope ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    """The fields every record has, whatever its kind."""

    record_version: int
    run_id: str
    benchmark: Benchmark
    runner: Runner
    model: Model
    runtime: Runtime
    hardware: RigInfo
    rig: str
    sampling: Sampling
    rla: Rla
    packages: Mapping[str, str | None]
    command: Command
    files: Mapping[str, str]  # sha256 of run.log, samples.jsonl, results.json / each run's log
    test_run_log_url: str | None
    gist: Gist | None
    submitter: str | None
    notes: str
    request: Request | None = field(default=None, kw_only=True,
                                    metadata={"omit_if_none": True})  # None: record version 2


@dataclass(frozen=True)
class Record(Envelope):
    body: Scored | Speed

    @property
    def is_speed(self) -> bool:
        return isinstance(self.body, Speed)

    @property
    def schema(self) -> str:
        newest = schemas.RECORD_SCHEMAS[RECORD_VERSION]
        scored, speed = schemas.RECORD_SCHEMAS.get(self.record_version, newest)
        return speed if self.is_speed else scored

    @classmethod
    def from_json(cls, data: Any, what: str = "record.json") -> Record:
        """A parsed record.json; its kind (benchmark.kind) picks the section type."""
        section: type[Scored | Speed] = Speed if schemas.is_speed_record(data) else Scored
        if not isinstance(data, dict):
            decode(Envelope, data, what)  # names the wrong type
        names = set(section.__dataclass_fields__)
        head = decode(Envelope, {k: v for k, v in data.items() if k not in names}, what)
        body = decode(section, {k: v for k, v in data.items() if k in names}, what)
        if head.record_version >= 3 and head.request is None:
            raise RecordError(f"{what} cannot be read: $: missing required field 'request'",
                              hint="a version 3 record states the run's request; the file was"
                              " edited", field="request")
        missing = [k for k in SCORED_V4_FIELDS if k not in data]
        if head.record_version >= 4 and section is Scored and missing:
            raise RecordError(f"{what} cannot be read: $: missing required field"
                              f" {missing[0]!r}", hint="a version 4 record states whether it is"
                              " a shard or a merged run, its endpoints and their batching; the"
                              " file was edited", field=missing[0])
        return cls(**vars(head), body=body)

    def to_json(self) -> dict[str, Any]:
        """The record as record.json holds it, keys in the order the schema requires them."""
        flat = {k: v for k, v in encode(self).items() if k != "body"} | encode(self.body)
        return {key: flat[key] for key in schemas.load_schema(self.schema)["required"]}
