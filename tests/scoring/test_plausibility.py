"""Plausibility of a quality score: below chance, unreadable answers, prompts that reached the
context; each named in one line with its likely cause."""

from __future__ import annotations

import json
from pathlib import Path

from runlocalai_bench.scoring.plausibility import (
    ContextUse,
    chance_of,
    context_flags,
    context_of,
    context_use,
    quality_flags,
    score_flags,
)
from runlocalai_bench.specs import load_spec


def test_chance_is_one_over_the_specs_option_count() -> None:
    assert chance_of(load_spec("tasks", "turkish-mmlu-generative")) == 0.2
    assert chance_of(load_spec("tasks", "mmlu")) == 0.25
    assert chance_of(load_spec("tasks", "humaneval-plus")) is None


def test_the_leaderboards_own_11_4_percent_turkish_row_is_below_chance() -> None:
    (flag,) = score_flags(score=0.114, n=900, counts={"ok": 900}, chance=0.2)
    assert flag.startswith("the score 11.4% is below chance (20%, guessing among 5 options) by"
                           " more than 3 standard errors: a prompt style or chat template")
    assert "\n" not in flag


def test_a_score_at_chance_within_its_noise_is_not_flagged() -> None:
    # 17.0%: two and a quarter standard errors of a guesser under 20% on 900 questions.
    assert score_flags(score=0.17, n=900, counts={}, chance=0.2) == []
    assert score_flags(score=0.2449, n=14042, counts={}, chance=0.25) == []
    assert score_flags(score=0.05, n=100, counts={}, chance=None) == []  # code: no chance


def test_an_unparsed_share_above_the_bound_is_flagged() -> None:
    assert score_flags(score=0.5, n=900, counts={"unparsed": 90}, chance=0.2) == []
    (flag,) = score_flags(score=0.5, n=900, counts={"unparsed": 91}, chance=0.2)
    assert flag.startswith("91 of 900 answers (10%) could not be read, above the 10% bound")
    assert "--prompt-style chat" in flag


def test_prompts_that_reach_the_context_or_were_refused_for_it() -> None:
    use = context_use([100, 4096, 5000, None], [None, "HTTP 400 from /v1/completions: request"
                      " (612 tokens) exceeds the available context size (256 tokens)"], 4096)
    assert use == ContextUse(reached=2, refused=1, longest=5000)
    (flag,) = context_flags(use, 4096)
    assert flag.startswith("2 prompt(s) reached the context of 4096 tokens (longest 5000"
                           " tokens), so they were cut and 1 request(s) were refused for"
                           " exceeding it: restart the server with a larger context")
    assert context_flags(context_use([4095], [None], 4096), 4096) == []


def test_ollamas_context_is_the_num_ctx_rla_sent() -> None:
    assert context_of(2048, {"options": {"num_ctx": 8192}}) == 8192
    assert context_of(2048, {"temperature": 0.0}) == 2048


def test_flags_of_a_run_read_its_samples(tmp_path: Path) -> None:
    samples = tmp_path / "samples.jsonl"
    line = {"id": "q1", "subtask": "s", "prompt": "p", "response": " A", "target": "A",
            "extracted": "A", "score": 1.0, "status": "ok", "details": {}, "latency_ms": 1.0,
            "server_timings": None, "error": None,
            "generation": {"text": " A", "top_logprobs": [], "candidate_logprobs": None,
                           "finish_reason": "length", "prompt_tokens": 2048,
                           "completion_tokens": 1}}
    samples.write_text(json.dumps(line) + "\n")
    flags = quality_flags(load_spec("tasks", "mmlu"), score=1.0, n=1, counts={"ok": 1},
                          samples=samples, n_ctx=2048)
    assert len(flags) == 1 and flags[0].startswith("1 prompt(s) reached the context of 2048")
    assert quality_flags(load_spec("tasks", "mmlu"), score=1.0, n=1, counts={"ok": 1},
                         samples=None, n_ctx=2048) == []
