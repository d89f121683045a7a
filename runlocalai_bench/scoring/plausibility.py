"""Plausibility of a quality score: results no working setup produces, each named with its
likely cause. The results table shows them at the end of a run; the trust gate refuses them.

    below chance     the headline is below the chance of guessing (one over the spec's option
                     count) by more than three standard errors of a guesser's score: the
                     leaderboard's own 11.4% TurkishMMLU row (chance 20%) is a context overflow
                     or a template mismatch
    unparsed         more than UNPARSED_BOUND of the answers could not be read as an answer: the
                     model is not answering in the form the prompt asks for
    context          a prompt whose token count reached the server's context (Ollama cuts such
                     prompts silently at num_ctx), or a request refused for its size

Pure functions over values; `sample_flags` reads samples.jsonl, the only I/O here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runlocalai_bench.results.sampleline import SampleLine, read_sample_lines

UNPARSED_BOUND = 0.10  # share of answers rla could not read before a run is implausible
CHANCE_SE = 3.0  # how many of a guesser's standard errors below chance is implausible
# How an error row reads when the server (or llama.cpp in process) refused a prompt for its
# size: llama-server "exceeds the available context size", "larger than the max context size";
# in process "exceeds the context of".
_CONTEXT_ERROR = re.compile(r"(?i)context")


def chance_of(spec: Mapping[str, Any]) -> float | None:
    """The score of guessing, for a multiple-choice spec: one over its option count."""
    if spec.get("kind") != "multiple_choice":
        return None
    letters = (spec.get("prompt") or {}).get("letters") or ()
    return 1.0 / len(letters) if letters else None


def context_of(n_ctx: int | None, sent: Mapping[str, Any]) -> int | None:
    """The context a request ran in: the num_ctx rla sent (Ollama), else the server's."""
    options = sent.get("options")
    if isinstance(options, Mapping) and isinstance(options.get("num_ctx"), int):
        return int(options["num_ctx"])
    return n_ctx


def score_flags(*, score: float, n: int, counts: Mapping[str, int],
                chance: float | None) -> list[str]:
    """Below chance and the unparsed share, from the headline and the outcome counts."""
    out = []
    if chance is not None and n > 0:
        se = math.sqrt(chance * (1.0 - chance) / n)
        if score < chance - CHANCE_SE * se:
            out.append(f"the score {score:.1%} is below chance ({chance:.0%}, guessing among"
                       f" {round(1 / chance)} options) by more than {CHANCE_SE:g} standard"
                       " errors: a prompt style or chat template that does not fit the model,"
                       " or prompts cut by the context; check --prompt-style and the template")
    unparsed = counts.get("unparsed", 0)
    if n > 0 and unparsed / n > UNPARSED_BOUND:
        out.append(f"{unparsed} of {n} answers ({unparsed / n:.0%}) could not be read, above"
                   f" the {UNPARSED_BOUND:.0%} bound: the model does not answer in the form the"
                   " prompt asks for; an instruct model wants --prompt-style chat")
    return out


@dataclass(frozen=True)
class ContextUse:
    """How the run's prompts met the context: those that reached it, those refused for it."""

    reached: int = 0
    refused: int = 0
    longest: int | None = None


def context_use(prompt_tokens: Iterable[int | None], errors: Iterable[str | None],
                n_ctx: int | None) -> ContextUse:
    lengths = [t for t in prompt_tokens if isinstance(t, int)]
    reached = sum(1 for t in lengths if n_ctx is not None and t >= n_ctx)
    refused = sum(1 for e in errors if e and _CONTEXT_ERROR.search(e))
    return ContextUse(reached, refused, max(lengths, default=None))


def context_flags(use: ContextUse, n_ctx: int | None) -> list[str]:
    if not (use.reached or use.refused):
        return []
    where = f"the context of {n_ctx} tokens" if n_ctx else "the server's context"
    parts = []
    if use.reached:
        parts.append(f"{use.reached} prompt(s) reached {where} (longest {use.longest}"
                     " tokens), so they were cut")
    if use.refused:
        parts.append(f"{use.refused} request(s) were refused for exceeding"
                     f" {'it' if use.reached else where}")
    what = " and ".join(parts)
    return [f"{what}: restart the server with a larger context (llama-server -c; for Ollama"
            " rla's --n-ctx sets num_ctx)"]


def sample_flags(samples: Path | Sequence[SampleLine] | None, n_ctx: int | None) -> list[str]:
    """The context flags of a run directory's samples.jsonl, or of its lines already read
    (none without them)."""
    if isinstance(samples, Path):
        lines: Sequence[SampleLine] = read_sample_lines(samples) if samples.is_file() else []
    else:
        lines = samples or []
    use = context_use((line.generation.prompt_tokens if line.generation else None
                       for line in lines), (line.error for line in lines), n_ctx)
    return context_flags(use, n_ctx)


def quality_flags(spec: Mapping[str, Any], *, score: float, n: int, counts: Mapping[str, int],
                  samples: Path | Sequence[SampleLine] | None, n_ctx: int | None) -> list[str]:
    """Every implausibility of a finished scored run, one line each naming its likely cause."""
    return [*score_flags(score=score, n=n, counts=counts, chance=chance_of(spec)),
            *sample_flags(samples, n_ctx)]
