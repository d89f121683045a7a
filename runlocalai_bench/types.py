"""Small frozen values that cross every stage of a run.

config → rig and runtime → dataset (items) → prompts → backend (generations) → scoring
(sample results) → aggregation (results) → run directory and record.

Nothing here does I/O. `to_dict` gives the JSON shape written to disk; the raw server
response in `Generation.server_timings` is deliberately opaque.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

PromptStyle = Literal["completion", "chat"]


def to_dict(value: Any) -> Any:
    """The JSON-ready form of a dataclass tree (tuples become lists); a field marked
    `metadata={"omit_if_none": True}` is left out while None, as the record types do."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_dict(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not (f.metadata.get("omit_if_none") and getattr(value, f.name) is None)}
    if isinstance(value, Mapping):
        return {str(k): to_dict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_dict(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------
# Benchmark items


@dataclass(frozen=True)
class MCItem:
    """A multiple-choice question; `answer` is the gold letter."""

    id: str
    subtask: str
    question: str
    choices: tuple[str, ...]
    answer: str


@dataclass(frozen=True, eq=False)
class CodeItem:
    """A HumanEval+-style programming task. Inputs are JSON-decoded argument lists."""

    id: str
    subtask: str
    prompt: str
    entry_point: str
    canonical_solution: str
    base_input: tuple[Any, ...] = ()
    plus_input: tuple[Any, ...] = ()
    atol: float = 0.0
    contract: str = ""


Item = MCItem | CodeItem


# ---------------------------------------------------------------------------------------------
# Requests and what comes back


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class Prompt:
    """One request to a backend, built by a pure prompt builder.

    Completion style sets `text`; chat style sets `messages`. `top_logprobs` asks for that many
    alternatives of the first generated token; `candidates` names continuations (answer letters)
    whose log-probabilities a backend should return exactly where it can read the full
    distribution (in process).
    """

    text: str = ""
    messages: tuple[Message, ...] = ()
    stop: tuple[str, ...] = ()
    max_tokens: int = 1
    top_logprobs: int = 0
    candidates: tuple[str, ...] = ()

    @property
    def style(self) -> PromptStyle:
        return "chat" if self.messages else "completion"

    def rendered(self) -> str:
        """A readable single string of the prompt, for logs."""
        if not self.messages:
            return self.text
        return "\n\n".join(f"<|{m.role}|>\n{m.content}" for m in self.messages)


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float


@dataclass(frozen=True)
class Generation:
    """A backend's answer to one Prompt."""

    text: str
    top_logprobs: tuple[TokenLogprob, ...] = ()
    # Exact log-probabilities of Prompt.candidates, when the backend sees the whole distribution.
    candidate_logprobs: tuple[TokenLogprob, ...] | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float = 0.0
    # The engine's own timing object as it sent it (llama-server `timings`), untouched.
    server_timings: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class SamplingParams:
    """Greedy decoding, the only mode rla scores with. Every field is sent where supported."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 1
    n: int = 1
    seed: int = 1234
    cache_prompt: bool = False


# ---------------------------------------------------------------------------------------------
# Scoring


@dataclass(frozen=True)
class SampleResult:
    """One line of samples.jsonl: everything needed to rescore or audit a sample."""

    id: str
    subtask: str
    prompt: str
    response: str
    target: str
    extracted: str | None
    score: float
    # ok | unparsed | fallback | error | fail (code) ...; one word per outcome kind.
    status: str
    details: Mapping[str, Any] = field(default_factory=dict)
    latency_ms: float = 0.0
    server_timings: Mapping[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True)
class SubtaskScore:
    name: str
    n: int
    correct: float
    score: float
    stderr: float
    category: str | None = None


@dataclass(frozen=True)
class Results:
    """Aggregated scores of one run. `score` is the headline (micro average)."""

    slug: str
    metric: str
    score: float
    stderr: float
    n: int
    macro: float
    subtasks: tuple[SubtaskScore, ...]
    categories: tuple[SubtaskScore, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    extra: Mapping[str, float] = field(default_factory=dict)
    partial: bool = False
    expected_n: int = 0


# ---------------------------------------------------------------------------------------------
# The rig, the runtime and the model


@dataclass(frozen=True)
class OSInfo:
    system: str | None = None
    release: str | None = None
    version: str | None = None
    distro: str | None = None
    machine: str | None = None


@dataclass(frozen=True)
class CPUInfo:
    brand: str | None = None
    vendor: str | None = None
    family: str | None = None
    cores: int | None = None
    threads: int | None = None
    max_mhz: float | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class GPUInfo:
    vendor: str | None = None  # nvidia | amd | apple | intel
    name: str | None = None
    slug: str | None = None
    memory_bytes: int | None = None
    driver: str | None = None
    cuda: str | None = None
    rocm: str | None = None
    bus_width_bits: int | None = None
    mem_clock_mhz: int | None = None
    bandwidth_gbps: float | None = None  # peak memory bandwidth, GB/s
    bandwidth_source: str | None = None  # measured-nvml | catalog | ...
    pcie_gen: int | None = None
    pcie_width: int | None = None
    pci_bus_id: str | None = None
    unified_memory: bool = False


@dataclass(frozen=True)
class RigInfo:
    os: OSInfo
    cpu: CPUInfo
    memory_bytes: int | None
    gpus: tuple[GPUInfo, ...]
    hardware_slug: str
    hw_class: str  # DISCRETE_GPU | UNIFIED | CPU_ONLY
    accelerator: str  # cuda | rocm | metal | vulkan | cpu
    python: str | None = None
    # True when the serving machine is another one and --hardware declared it (rig/declared.py);
    # absent when rla detected the machine it ran on.
    declared: bool | None = field(default=None, metadata={"omit_if_none": True})


@dataclass(frozen=True)
class ModelInfo:
    id: str | None = None
    path: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    architecture: str | None = None
    name: str | None = None
    parameters: int | None = None
    quantization: str | None = None  # Q4_K_M, ...
    context_length: int | None = None
    chat_template_sha256: str | None = None


@dataclass(frozen=True)
class RuntimeInfo:
    engine: str  # llama.cpp | ollama | vllm | lmstudio | llama-cpp-python | openai-compatible | ...
    version: str | None
    slug: str  # <engine>-<version>, as the leaderboard renders it
    endpoint: str | None = None
    build: str | None = None
    commit: str | None = None
    model: ModelInfo = field(default_factory=ModelInfo)
    slots: int | None = None
    n_ctx: int | None = None
    sampler_defaults: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class DataSource:
    """Where a run takes its data from: the pinned hub revision, a local copy in the original
    layout (`--data-dir`), or the small sample bundled with rla (`--sample`)."""

    kind: Literal["hub", "dir", "bundled"] = "hub"
    path: str | None = None
    allow_unpinned: bool = False


@dataclass(frozen=True)
class DatasetPin:
    """What data a run used, for the record: a content hash computed after loading."""

    source: str  # hub | dir | bundled
    dataset: str  # e.g. cais/mmlu
    revision: str | None
    content_sha256: str
    expected_sha256: str | None
    pinned: bool  # content matched the spec's pin
    location: str | None = None  # the --data-dir or file actually read


@dataclass(frozen=True, eq=False)
class Dataset:
    items: tuple[Item, ...]
    fewshot: Mapping[str, tuple[Item, ...]]
    pin: DatasetPin
