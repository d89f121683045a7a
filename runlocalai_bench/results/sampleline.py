"""One samples.jsonl line as a type: the scored sample, and the generation it was scored from.

    SampleLine            id, subtask, prompt, response, target, extracted, score, status,
                          details, latency_ms, server_timings, error   (a SampleResult's fields)
      generation          text, top_logprobs and candidate_logprobs as [token, logprob] pairs,
                          finish_reason, prompt_tokens, completion_tokens; absent on an error row

The run writes `SampleLine.of(result, generation).to_json()`; everything that reads a line back
(the run's own aggregation and --resume, rla verify, rescore, reproduce) goes through
`SampleLine.from_json`, which checks each field's type and names the line and field otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from runlocalai_bench.results import rundir
from runlocalai_bench.results.jsontypes import decode, encode
from runlocalai_bench.types import Generation, SampleResult, TokenLogprob


@dataclass(frozen=True)
class RecordedGeneration:
    text: str
    top_logprobs: tuple[tuple[str, float], ...]
    candidate_logprobs: tuple[tuple[str, float], ...] | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None


@dataclass(frozen=True)
class SampleLine:
    id: str
    subtask: str
    prompt: str
    response: str
    target: str
    extracted: str | None
    score: float
    status: str
    details: Mapping[str, Any]
    latency_ms: float
    server_timings: Mapping[str, Any] | None
    error: str | None
    generation: RecordedGeneration | None = field(default=None,
                                                  metadata={"omit_if_none": True})

    @classmethod
    def of(cls, result: SampleResult, generation: Generation | None) -> SampleLine:
        recorded = None if generation is None else RecordedGeneration(
            text=generation.text,
            top_logprobs=tuple((t.token, t.logprob) for t in generation.top_logprobs),
            candidate_logprobs=None if generation.candidate_logprobs is None else
            tuple((t.token, t.logprob) for t in generation.candidate_logprobs),
            finish_reason=generation.finish_reason,
            prompt_tokens=generation.prompt_tokens,
            completion_tokens=generation.completion_tokens,
        )
        return cls(**{f.name: getattr(result, f.name) for f in fields(SampleResult)},
                   generation=recorded)

    @classmethod
    def from_json(cls, data: Any, what: str = "a samples.jsonl line") -> SampleLine:
        return decode(cls, data, what)

    def to_json(self) -> dict[str, Any]:
        return encode(self)  # type: ignore[no-any-return]

    def result(self) -> SampleResult:
        return SampleResult(**{f.name: getattr(self, f.name) for f in fields(SampleResult)})

    def replayed(self) -> Generation:
        """The generation as the backend returned it, for scoring it again (rla rescore)."""
        gen = self.generation
        if gen is None:
            return Generation(text=self.response, latency_ms=self.latency_ms,
                              server_timings=self.server_timings)
        return Generation(
            text=gen.text,
            top_logprobs=tuple(TokenLogprob(t, lp) for t, lp in gen.top_logprobs),
            candidate_logprobs=None if gen.candidate_logprobs is None else
            tuple(TokenLogprob(t, lp) for t, lp in gen.candidate_logprobs),
            finish_reason=gen.finish_reason, prompt_tokens=gen.prompt_tokens,
            completion_tokens=gen.completion_tokens, latency_ms=self.latency_ms,
            server_timings=self.server_timings)


def read_sample_lines(path: Path) -> list[SampleLine]:
    """samples.jsonl's complete lines, typed; a torn final line is left out (rundir), a line
    the bounded reader refuses with more lines after it is a RecordError naming it."""
    return list(iter_sample_lines(path))


def iter_sample_lines(path: Path, *, alternatives: bool = True) -> Iterator[SampleLine]:
    """`read_sample_lines` one line at a time. Without `alternatives`, each answer's top
    log-probabilities (20 a line, most of a multiple-choice line's bytes) are left unread and
    empty, for a reader that shows or gates the answers but never rescores them."""
    for number, line in enumerate(rundir.iter_samples(path, strict=True), 1):
        generation = line.get("generation")
        if not alternatives and isinstance(generation, dict):
            generation["top_logprobs"] = []
        yield SampleLine.from_json(line, f"{path.name} line {number}")
