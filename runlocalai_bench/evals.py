"""The seam between the pipeline and each kind of benchmark.

A task spec in tasks/ names its `kind`; the kind's module implements `Eval`:

    multiple_choice  →  runlocalai_bench.scoring.multiple_choice.MultipleChoiceEval
    code_execution   →  runlocalai_bench.scoring.code_execution.CodeExecutionEval

The pipeline only ever calls these methods, in this order: load → build_prompt → (backend) →
score → aggregate. `reference_generation` is what a model that knows the answers would return;
the oracle backend of `rla selftest` uses it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from runlocalai_bench import specs
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.types import (
    Dataset,
    DataSource,
    Generation,
    Item,
    Prompt,
    PromptStyle,
    Results,
    SampleResult,
)

KINDS = {
    "multiple_choice": "runlocalai_bench.scoring.multiple_choice:MultipleChoiceEval",
    "code_execution": "runlocalai_bench.scoring.code_execution:CodeExecutionEval",
}


@dataclass(frozen=True)
class TaskSpec:
    """A task spec as read from tasks/<slug>.toml, with its fingerprint."""

    slug: str
    kind: str
    path: Path
    sha256: str
    data: Mapping[str, Any]

    @property
    def default_style(self) -> PromptStyle:
        style = self.data.get("prompt", {}).get("default_style", "completion")
        return "chat" if style == "chat" else "completion"


class Eval(Protocol):
    spec: TaskSpec

    def load(self, source: DataSource) -> Dataset: ...

    def build_prompt(self, item: Item, dataset: Dataset, style: PromptStyle) -> Prompt: ...

    def score(self, item: Item, prompt: Prompt, generation: Generation) -> SampleResult: ...

    def score_workers(self) -> int:
        """How many `score` calls run side by side to advantage: the run scores up to that
        many samples, each in a worker thread, while it sends its next requests. 0: scoring
        is cheaper than handing it to a thread, and runs on the event loop as each answer
        lands."""
        ...

    def aggregate(self, samples: Sequence[SampleResult], expected_n: int) -> Results: ...

    def reference_generation(self, item: Item, prompt: Prompt) -> Generation: ...

    def describe(self) -> list[str]:
        """run.log's header lines on how this benchmark is scored on this machine."""
        ...

    def close(self) -> None: ...


def load_task_spec(slug: str) -> TaskSpec:
    data = specs.load_spec("tasks", slug)
    path = specs.spec_path("tasks", slug)
    if data.get("slug") != slug:
        raise ConfigError(f"{path} declares slug {data.get('slug')!r}, not {slug!r}",
                          hint="a spec's file name and its slug field must agree")
    kind = data.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{path}: unknown kind {kind!r}", hint=f"known: {', '.join(KINDS)}")
    return TaskSpec(slug=slug, kind=kind, path=path, sha256=specs.spec_sha256(path), data=data)


def load_eval(slug: str, *, cache_dir: Path | None = None) -> Eval:
    """The Eval of a benchmark; `cache_dir` (rla's cache, resolved at the edge) is where a kind
    keeps what it downloads or computes once per machine; a kind that needs it refuses None."""
    spec = load_task_spec(slug)
    module_name, _, class_name = KINDS[spec.kind].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(spec, cache_dir=cache_dir)  # type: ignore[no-any-return]


def task_slugs() -> list[str]:
    """Slugs of the scored benchmarks (kinds with an Eval); `speed` has its own runner."""
    return [slug for slug in specs.spec_names("tasks")
            if specs.load_spec("tasks", slug).get("kind") in KINDS]
