"""HumanEval+-style benchmarks: prompts, extraction, sandboxed execution and pass@1.

For each sample: extract the program (code_extraction.py); run it in the sandbox on the base
inputs and, if all pass, on the plus inputs; compare every return value here, in the harness,
with the canonical solution's (EvalPlus's rules, outputs.py), input by input as the frames
arrive (checker.py); pass means base and plus. Expected values come from running the canonical
solution in the same sandbox once per machine and are cached with each input's time, from which
the time limits derive (reference.py). The methodology's settings come from the task spec
(code_settings.py). The Eval holds the sandbox and the reference cache, and `score` is safe to
call from many threads at once.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runlocalai_bench.datasets import humanevalplus
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.evals import TaskSpec
from runlocalai_bench.scoring import metrics
from runlocalai_bench.scoring.checker import Checker, SetVerdict
from runlocalai_bench.scoring.code_extraction import extract_program
from runlocalai_bench.scoring.code_settings import CodeSettings
from runlocalai_bench.scoring.outputs import short_repr
from runlocalai_bench.scoring.reference import (
    ExpectedOutputs,
    Reference,
    ReferenceCache,
    inputs_of,
)
from runlocalai_bench.scoring.sandbox import Isolation, Job, Sandbox, default_workers
from runlocalai_bench.types import (
    CodeItem,
    Dataset,
    DataSource,
    Generation,
    Item,
    Message,
    Prompt,
    PromptStyle,
    Results,
    SampleResult,
    SubtaskScore,
)

# ---------------------------------------------------------------------------------------------
# The Eval


class CodeExecutionEval:
    """The `code_execution` kind (see runlocalai_bench/evals.py for the protocol)."""

    def __init__(self, spec: TaskSpec, *, sandbox: Sandbox | None = None,
                 cache_dir: Path | None = None, workers: int | None = None) -> None:
        self.spec = spec
        self.settings = CodeSettings.from_spec(spec)
        self.release = humanevalplus.Release.from_spec(spec.slug, spec.data.get("dataset", {}))
        self._cache_dir = cache_dir
        self._sandbox = sandbox
        self._own_sandbox = sandbox is None
        self._workers = workers
        self._lock = threading.Lock()
        self._references = None if cache_dir is None else ReferenceCache(
            cache_dir, self.settings, self.sandbox)

    # -- protocol ----------------------------------------------------------------------------

    def load(self, source: DataSource) -> Dataset:
        downloads = None if self._cache_dir is None else self._cache_dir / "datasets"
        return humanevalplus.load(self.release, source, downloads)

    def build_prompt(self, item: Item, dataset: Dataset, style: PromptStyle) -> Prompt:
        item = _code_item(item)
        s = self.settings
        if style == "chat":
            text = s.chat_template.format(instruction=s.chat_instruction,
                                          prompt=item.prompt.strip())
            return Prompt(messages=(Message("user", text),), max_tokens=s.max_tokens)
        return Prompt(text=s.completion_template.format(prompt=item.prompt), stop=s.stop,
                      max_tokens=s.max_tokens)

    def reference_generation(self, item: Item, prompt: Prompt) -> Generation:
        item = _code_item(item)
        if prompt.style == "chat":
            text = f"```python\n{item.prompt}{item.canonical_solution}\n```\n"
        else:
            text = item.canonical_solution
        return Generation(text=text, finish_reason="stop")

    def score(self, item: Item, prompt: Prompt, generation: Generation) -> SampleResult:
        item = _code_item(item)
        extraction = extract_program(
            generation.text, prompt=item.prompt, entry_point=item.entry_point,
            style=prompt.style, stops=self.settings.stop,
            keep_prompt_imports=self.settings.keep_prompt_imports)

        def sample(extracted: str | None, status: str, details: dict[str, Any]) -> SampleResult:
            return SampleResult(
                id=item.id, subtask=item.subtask, prompt=prompt.rendered(),
                response=generation.text, target=item.entry_point, extracted=extracted,
                score=1.0 if status == "pass" else 0.0, status=status, details=details,
                latency_ms=generation.latency_ms, server_timings=generation.server_timings)

        if extraction.code is None:
            return sample(None, "unparsed", {"base": None, "plus": None,
                                             "extraction": extraction.method,
                                             "reason": extraction.reason})
        verdicts = self.check(item, extraction.code)
        passed = len(verdicts) == 2 and all(v.status == "pass" for v in verdicts)
        details: dict[str, Any] = {
            "base": verdicts[0].status,
            "plus": verdicts[1].status if len(verdicts) == 2 else None,
            "extraction": extraction.method,
            "trimmed": extraction.trimmed,
            "isolation": self.isolation().level,
            "seconds": round(sum(v.seconds for v in verdicts), 4),
        }
        failed = next((v for v in verdicts if v.status != "pass"), None)
        if failed is not None:
            inputs = inputs_of(item, failed.name)
            index = failed.first_failure
            shown = index is not None and 0 <= index < len(inputs)
            details["first_failure"] = {
                "set": failed.name, "index": index, "reason": failed.reason,
                "input": short_repr(inputs[index]) if shown and index is not None else None,
                **{k: v for k, v in (("expected", failed.expected), ("got", failed.got))
                   if v is not None},
            }
        return sample(extraction.code, "pass" if passed else "fail", details)

    def score_workers(self) -> int:
        """The sandbox's hosts: that many programs run at once."""
        sandbox = self._sandbox
        return sandbox.workers if sandbox is not None else self._workers or default_workers()

    def aggregate(self, samples: Sequence[SampleResult], expected_n: int) -> Results:
        return aggregate_pass_at_1(samples, expected_n, slug=self.spec.slug,
                                   metric=str(self.spec.data.get("metric", "pass@1")))

    def describe(self) -> list[str]:
        """The sandbox the model's code runs in, and its time limit: the public log says how
        every verdict was reached (each sample also records its isolation level)."""
        return [f"scoring    execution, sandbox {self.isolation().summary()}; time limit"
                f" max({self.settings.time_limit_floor_s:g} s,"
                f" {self.settings.time_limit_factor:g} × the reference solution's time)"]

    def close(self) -> None:
        with self._lock:
            sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None and self._own_sandbox:
            sandbox.close()

    # -- beyond the protocol -----------------------------------------------------------------

    @property
    def cache_root(self) -> Path:
        """rla's cache, handed in by the caller (the edge resolves it): reference outputs and
        the downloaded release live under it."""
        if self._cache_dir is None:
            raise self._no_cache()
        return self._cache_dir

    @property
    def references(self) -> ReferenceCache:
        if self._references is None:
            raise self._no_cache()
        return self._references

    def _no_cache(self) -> ConfigError:
        return ConfigError(f"{self.spec.slug}: no cache directory for its reference outputs",
                           hint="rla's commands pass their cache ($RLA_CACHE_DIR); a caller of "
                           "load_eval must pass cache_dir")

    def sandbox(self) -> Sandbox:
        with self._lock:
            if self._sandbox is None:
                self._sandbox = Sandbox(workers=self._workers, limits=self.settings.limits)
            return self._sandbox

    def isolation(self) -> Isolation:
        return self.sandbox().isolation()

    def provenance(self) -> dict[str, Any]:
        """What a record should carry about how code was run on this machine."""
        isolation = self.isolation()
        seconds = self.references.seconds()
        return {
            "isolation": {"level": isolation.level, "mechanisms": list(isolation.mechanisms),
                          "notes": list(isolation.notes)},
            "reference_seconds": {key: round(value, 4) for key, value in sorted(seconds.items())},
            "time_limit_floor_s": self.settings.time_limit_floor_s,
            "time_limit_factor": self.settings.time_limit_factor,
        }

    def check(self, item: CodeItem, code: str) -> list[SetVerdict]:
        """Run `code` on the base inputs and, if they all pass, on the plus inputs."""
        verdicts = [self._check_set(item, code, "base")]
        if verdicts[0].status == "pass":
            verdicts.append(self._check_set(item, code, "plus"))
        return verdicts

    def reference(self, item: CodeItem, which: str) -> Reference:
        """The cached canonical results for one input set, computing them when missing."""
        return self.references.get(item, which)

    # -- internals ---------------------------------------------------------------------------

    def _check_set(self, item: CodeItem, code: str, which: str) -> SetVerdict:
        reference = self.reference(item, which)
        limits = self.settings.time_limits(reference.times)
        job = Job(code=code, entry_point=item.entry_point,
                  inputs_json=self.references.prepared(item, which)[0], n_inputs=reference.n,
                  time_limits=limits,
                  total_timeout=self.settings.total_timeout(limits),
                  send_args=item.id in self.settings.special_oracles)
        with ExpectedOutputs(reference) as expected:
            checker = Checker(item, reference, expected, self.settings)
            end = self.sandbox().run(job, checker.on_frame)
        return checker.verdict(which, end)


def _code_item(item: Item) -> CodeItem:
    if not isinstance(item, CodeItem):
        raise ConfigError(f"{item.id} is not a code task", hint="check the task spec's kind")
    return item


# ---------------------------------------------------------------------------------------------
# Aggregation


def aggregate_pass_at_1(samples: Sequence[SampleResult], expected_n: int, *, slug: str,
                        metric: str = "pass@1") -> Results:
    """pass@1 on plus (the headline: base and plus pass) and on base alone, as two subtask
    rows; counts of each status; error rows count as failures."""
    n = len(samples)
    base = sum(1 for s in samples if s.details.get("base") == "pass")
    plus = sum(1 for s in samples if s.status == "pass")
    rows = []
    for name, correct in (("base", base), ("plus", plus)):
        p = correct / n if n else 0.0
        rows.append(SubtaskScore(name=name, n=n, correct=float(correct), score=p,
                                 stderr=metrics.binomial_stderr(p, n)))
    score = rows[1].score
    low, high = metrics.wilson_interval(float(plus), n)
    counts = Counter(s.status for s in samples)
    return Results(
        slug=slug, metric=metric, score=score, stderr=rows[1].stderr, n=n, macro=score,
        subtasks=tuple(rows),
        counts={status: counts.get(status, 0)
                for status in ("pass", "fail", "unparsed", "error", *sorted(counts))},
        extra={"pass@1_base": rows[0].score, "pass@1_plus": score, "wilson_low": low,
               "wilson_high": high},
        partial=n < expected_n, expected_n=expected_n,
    )
