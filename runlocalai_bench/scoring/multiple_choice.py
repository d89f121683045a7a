"""Multiple-choice benchmarks (MMLU, TurkishMMLU, selfcheck): prompts and scoring; letter picking
and answer extraction are in letters.py. Everything but `MultipleChoiceEval.load` is a pure
function of values.

Two scoring methods, named by the spec's `[scoring] method`:

first_token_logprob
    One request per question with `max_tokens = 1` and the top-k alternatives of the first
    token. The pick is the letter whose best variant ("B", " B", "▁B", "ĠB") has the highest
    log-probability. Because the top-k is a prefix of the sorted distribution, the best letter
    variant is in it whenever any letter variant is, so the pick equals the argmax over the full
    distribution. A backend that sees the whole distribution (in process) returns the exact
    log-probabilities of `Prompt.candidates` instead, and those are used as they are. With no
    letter among the alternatives, the greedy text is read as a generative answer (status
    "fallback"), and if that fails too the sample is wrong (status "unparsed").
generative
    The model writes; `extract_answer` reads the final explicit answer. Unreadable answers are
    scored wrong with status "unparsed".
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from runlocalai_bench.datasets._common import DatasetConfig
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.evals import TaskSpec
from runlocalai_bench.scoring import metrics
from runlocalai_bench.scoring.letters import extract_answer, pick_letter
from runlocalai_bench.types import (
    Dataset,
    DataSource,
    Generation,
    Item,
    MCItem,
    Message,
    Prompt,
    PromptStyle,
    Results,
    SampleResult,
    TokenLogprob,
)

Method = Literal["first_token_logprob", "generative"]
METHODS: tuple[Method, ...] = ("first_token_logprob", "generative")

LOADERS = {
    "mmlu": "runlocalai_bench.datasets.mmlu",
    "turkishmmlu": "runlocalai_bench.datasets.turkishmmlu",
}


# ---------------------------------------------------------------------------------------------
# The methodology, as read from a task spec


@dataclass(frozen=True)
class PromptFormat:
    """The [prompt] table: how a question, its options and a few-shot answer are written.

    Templates use `{subject}` (the subtask with "_" as spaces), `{question}` (stripped),
    `{choices}` (the option lines joined), `{letter}` and `{text}` (one option).
    """

    letters: tuple[str, ...]
    shots: int
    header: str
    question: str
    choice: str
    choice_separator: str = "\n"
    target: str = " {letter}"
    fewshot_separator: str = "\n\n"
    chat_instruction: str = ""
    default_style: PromptStyle = "completion"
    # "NFC" composes text stored decomposed ("u" + U+0308 → "ü") before it reaches the model.
    unicode_normalization: str = ""


@dataclass(frozen=True)
class ScoringConfig:
    """The [scoring] table."""

    method: Method
    top_logprobs: int = 20
    max_tokens: int = 1
    stop: tuple[str, ...] = ()  # completion style only; chat answers end at end-of-turn
    answer_words: tuple[str, ...] = ("answer",)  # "Answer: B", "the answer is B"
    option_suffixes: tuple[str, ...] = ()  # "C şıkkı"


@dataclass(frozen=True)
class MCConfig:
    slug: str
    metric: str
    dataset: DatasetConfig
    prompt: PromptFormat
    scoring: ScoringConfig
    categories: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, slug: str, data: Mapping[str, Any]) -> MCConfig:
        try:
            prompt = dict(data["prompt"])
            scoring = dict(data["scoring"])
            if prompt.get("unicode_normalization", "") not in ("", "NFC"):
                raise ConfigError(f"task spec {slug!r}: unicode_normalization must be \"NFC\" "
                                  "or empty", hint="compare it with tasks/turkish-mmlu.toml")
            fmt = PromptFormat(
                letters=tuple(prompt.pop("letters")),
                shots=int(prompt.pop("shots")),
                header=prompt.pop("header"),
                question=prompt.pop("question"),
                choice=prompt.pop("choice"),
                **prompt,
            )
            method = scoring["method"]
            if method not in METHODS:
                raise ConfigError(f"task spec {slug!r}: unknown scoring method {method!r}",
                                  hint=f"known: {', '.join(METHODS)}")
            score_cfg = ScoringConfig(
                method=method,
                top_logprobs=int(scoring.get("top_logprobs", 20)),
                max_tokens=int(scoring.get("max_tokens", 1)),
                stop=tuple(scoring.get("stop", ())),
                answer_words=tuple(scoring.get("answer_words", ("answer",))),
                option_suffixes=tuple(scoring.get("option_suffixes", ())),
            )
            return cls(slug=slug, metric=str(data.get("metric", "accuracy")),
                       dataset=DatasetConfig.from_spec(slug, data["dataset"]), prompt=fmt,
                       scoring=score_cfg, categories=dict(data.get("categories", {})))
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"task spec {slug!r} is incomplete or malformed: {exc}",
                              hint="compare it with tasks/mmlu.toml") from exc


# ---------------------------------------------------------------------------------------------
# Prompts


def subject_name(subtask: str) -> str:
    return subtask.replace("_", " ")


def format_question(item: MCItem, fmt: PromptFormat) -> str:
    """One question with its lettered options, ending in the answer cue ("Answer:")."""
    pairs = zip(fmt.letters, item.choices, strict=True)
    lines = fmt.choice_separator.join(fmt.choice.format(letter=k, text=t) for k, t in pairs)
    text = fmt.question.format(question=item.question.strip(), choices=lines)
    return unicodedata.normalize("NFC", text) if fmt.unicode_normalization == "NFC" else text


def completion_prompt(item: MCItem, shots: Sequence[MCItem], fmt: PromptFormat) -> str:
    """lm-eval's layout: header, then each shot followed by its answer, then the question."""
    return fewshot_context(item.subtask, tuple(shots), fmt) + format_question(item, fmt)


@lru_cache(maxsize=256)
def fewshot_context(subtask: str, shots: tuple[MCItem, ...], fmt: PromptFormat) -> str:
    """The header and each shot with its answer: every question of a subject starts with it,
    so it is written once per subject, not once per question."""
    parts = [fmt.header.format(subject=subject_name(subtask))]
    for shot in shots:
        parts.append(format_question(shot, fmt) + fmt.target.format(letter=shot.answer)
                     + fmt.fewshot_separator)
    return "".join(parts)


def chat_messages(item: MCItem, shots: Sequence[MCItem], fmt: PromptFormat) -> tuple[Message, ...]:
    """Few-shot as turns: each shot a user question and an assistant letter. The header and the
    instruction open the first user turn."""
    intro = fmt.header.format(subject=subject_name(item.subtask)) + fmt.chat_instruction
    messages: list[Message] = []
    for shot in (*shots, item):
        content = format_question(shot, fmt)
        if not messages:
            content = intro + content
        messages.append(Message("user", content))
        if shot is not item:
            messages.append(Message("assistant", shot.answer))
    return tuple(messages)


def letter_candidates(letters: Sequence[str]) -> tuple[str, ...]:
    """The continuations whose log-probabilities decide a first-token pick: each letter with and
    without a leading space (tokenizers differ on which one follows "Answer:")."""
    return tuple(variant for letter in letters for variant in (f" {letter}", letter))


def build_prompt(item: MCItem, shots: Sequence[MCItem], fmt: PromptFormat,
                 scoring: ScoringConfig, style: PromptStyle) -> Prompt:
    if scoring.method == "first_token_logprob":
        limits: dict[str, Any] = {"max_tokens": 1, "top_logprobs": scoring.top_logprobs,
                                  "candidates": letter_candidates(fmt.letters)}
    else:
        stop = scoring.stop if style == "completion" else ()
        limits = {"max_tokens": scoring.max_tokens, "stop": stop}
    if style == "chat":
        return Prompt(messages=chat_messages(item, shots, fmt), **limits)
    return Prompt(text=completion_prompt(item, shots, fmt), **limits)


# ---------------------------------------------------------------------------------------------
# Scoring


def score_generation(item: MCItem, prompt: Prompt, generation: Generation,
                     cfg: MCConfig) -> SampleResult:
    letters = cfg.prompt.letters
    details: dict[str, Any] = {"method": cfg.scoring.method}
    extracted: str | None
    if cfg.scoring.method == "first_token_logprob":
        if generation.candidate_logprobs is not None:
            pick, source = pick_letter(generation.candidate_logprobs, letters), "candidates"
        else:
            pick, source = pick_letter(generation.top_logprobs, letters), "top_logprobs"
        details["letter_logprobs"] = dict(pick.logprobs)
        if pick.letter is not None:
            extracted, status = pick.letter, "ok"
        else:
            source = "text"
            extracted = extract_answer(generation.text, letters, cfg.scoring.answer_words,
                                       cfg.scoring.option_suffixes)
            status = "fallback" if extracted else "unparsed"
        details["source"] = source
    else:
        extracted = extract_answer(generation.text, letters, cfg.scoring.answer_words,
                                   cfg.scoring.option_suffixes)
        status = "ok" if extracted else "unparsed"
    return SampleResult(
        id=item.id,
        subtask=item.subtask,
        prompt=prompt.rendered(),
        response=generation.text,
        target=item.answer,
        extracted=extracted,
        score=1.0 if extracted == item.answer else 0.0,
        status=status,
        details=details,
        latency_ms=generation.latency_ms,
        server_timings=generation.server_timings,
    )


def reference_generation(item: MCItem, prompt: Prompt, letters: Sequence[str]) -> Generation:
    """What a model that knows the answer returns: the gold letter as text, ranked first among
    the top alternatives and, when the prompt names candidates, among those too."""
    space = "" if prompt.style == "chat" else " "
    gold, other = math.log(0.9), math.log(0.1 / max(1, len(letters) - 1))

    def logprob(token: str) -> float:
        # The variant the prompt style expects carries the mass; the other one trails it.
        base = gold if token.strip() == item.answer else other
        return base if token == f"{space}{token.strip()}" else base - 2.0

    ranked = sorted(letters, key=lambda letter: letter != item.answer)
    top = tuple(TokenLogprob(f"{space}{letter}", logprob(f"{space}{letter}")) for letter in ranked)
    candidates = tuple(TokenLogprob(c, logprob(c)) for c in prompt.candidates)
    return Generation(
        text=f"{space}{item.answer}",
        top_logprobs=top[: prompt.top_logprobs],
        candidate_logprobs=candidates if prompt.candidates else None,
        finish_reason="stop",
    )


# ---------------------------------------------------------------------------------------------
# The Eval


class MultipleChoiceEval:
    """The `multiple_choice` kind of tasks/: see runlocalai_bench.evals.Eval."""

    def __init__(self, spec: TaskSpec, *, cache_dir: Path | None = None) -> None:
        self.spec = spec  # the hub's own cache holds the data; rla's (`cache_dir`) is unused
        self.config = MCConfig.from_spec(spec.slug, spec.data)

    def load(self, source: DataSource) -> Dataset:
        import importlib

        module_name = LOADERS.get(self.config.dataset.loader)
        if module_name is None:
            raise ConfigError(f"task spec {self.spec.slug!r}: unknown loader "
                              f"{self.config.dataset.loader!r}",
                              hint=f"known: {', '.join(LOADERS)}")
        loader = importlib.import_module(module_name)
        return loader.load(self.config.dataset, source)  # type: ignore[no-any-return]

    def shots(self, item: MCItem, dataset: Dataset) -> tuple[MCItem, ...]:
        pool = dataset.fewshot.get(item.subtask, ())
        return tuple(s for s in pool if isinstance(s, MCItem))[: self.config.prompt.shots]

    def build_prompt(self, item: Item, dataset: Dataset, style: PromptStyle) -> Prompt:
        mc = _mc(item)
        return build_prompt(mc, self.shots(mc, dataset), self.config.prompt,
                            self.config.scoring, style)

    def score(self, item: Item, prompt: Prompt, generation: Generation) -> SampleResult:
        return score_generation(_mc(item), prompt, generation, self.config)

    def score_workers(self) -> int:
        """None: reading a letter takes microseconds, less than a thread hand-off."""
        return 0

    def aggregate(self, samples: Sequence[SampleResult], expected_n: int) -> Results:
        return metrics.aggregate(samples, slug=self.spec.slug, metric=self.config.metric,
                                 expected_n=expected_n, categories=self.config.categories)

    def reference_generation(self, item: Item, prompt: Prompt) -> Generation:
        return reference_generation(_mc(item), prompt, self.config.prompt.letters)

    def describe(self) -> list[str]:
        return [f"scoring    {self.config.scoring.method}"]

    def close(self) -> None:
        """Nothing to release: multiple-choice scoring holds no resources."""


def _mc(item: Item) -> MCItem:
    if not isinstance(item, MCItem):
        raise ConfigError(f"item {item.id!r} is not a multiple-choice question",
                          hint="this task spec's kind does not match its data")
    return item
