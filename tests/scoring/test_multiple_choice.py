"""Multiple-choice prompts, letter picking, answer extraction and scoring, on real-looking model
outputs. The full-set oracle and constant-letter checks live in tests/datasets/."""

from __future__ import annotations

import math
import random
import unicodedata
from pathlib import Path

import pytest

from runlocalai_bench.errors import ConfigError
from runlocalai_bench.evals import TaskSpec, load_eval
from runlocalai_bench.scoring.letters import extract_answer, pick_letter
from runlocalai_bench.scoring.multiple_choice import MultipleChoiceEval, letter_candidates
from runlocalai_bench.types import DataSource, Generation, MCItem, Prompt, TokenLogprob

EN = ("A", "B", "C", "D")
TR = ("A", "B", "C", "D", "E")
EN_WORDS = ("answer", "correct option", "correct choice")
TR_WORDS = ("cevap", "cevabı", "yanıt", "yanıtı", "answer")
TR_SUFFIXES = ("şıkkı", "seçeneği", "şık", "seçenek")


# ---------------------------------------------------------------------------------------------
# extract_answer: what models actually write

ENGLISH_GOLDEN = [
    ("B", "B"),
    (" B", "B"),
    ("B.", "B"),
    ("B) 4", "B"),
    ("B. 4", "B"),
    ("(B)", "B"),
    ("(B) 4\n\nExplanation: the degree is 4.", "B"),
    ("The answer is B", "B"),
    ("The answer is B.", "B"),
    ("Answer: B", "B"),
    ("answer: b", "B"),
    ("b)", "B"),
    ("c.", "C"),
    ("**B**", "B"),
    ("**Answer: C**", "C"),
    ("The correct answer is **(D) 6**.", "D"),
    ("The answer is: (A) 0", "A"),
    ("A is tempting, but the answer is C.", "C"),
    ("Answer: A\n\nWait, let me reconsider. The answer is D.", "D"),
    ("Let's look at each option.\nA. wrong\nB. right\nC. wrong\n\nSo the answer is B", "B"),
    ("<think>Maybe the answer is A? No.</think>\nB", "B"),
    ("The final answer is $\\boxed{C}$", "C"),
    ("Correct option: D", "D"),
    ("The correct choice is (a)", "A"),
    ("Step 1: compute the degree.\nStep 2: multiply.\n\nC", "C"),
    ("  D  ", "D"),
    ("`A`", "A"),
    ("Answer:\n\nB", "B"),
    # unparsed
    ("", None),
    ("I don't know.", None),
    ("I think the answer is a bit unclear", None),
    ("Answer: E", None),  # not an MMLU letter
    ("Based on the passage, none of these.", None),
    ("a cell divides by mitosis", None),  # an article, not option A
]

TURKISH_GOLDEN = [
    ("Cevap: C", "C"),
    ("Doğru cevap C şıkkı.", "C"),
    ("doğru cevap C şıkkı", "C"),
    ("C şıkkı doğrudur.", "C"),
    ("Doğru cevap: **E**", "E"),
    ("cevap e", "E"),
    ("Bu sorunun cevabı B seçeneğidir.", "B"),
    ("Cevabım D'dir.", "D"),
    ("E) I, II ve III", "E"),
    ("A şıkkı yanlış, çünkü ... Doğru yanıt: D", "D"),
    (unicodedata.normalize("NFD", "doğru cevap C şıkkı"), "C"),  # decomposed, as the data
    ("Bilmiyorum.", None),
]


@pytest.mark.parametrize(("text", "expected"), ENGLISH_GOLDEN)
def test_extract_answer_english(text: str, expected: str | None) -> None:
    assert extract_answer(text, EN, EN_WORDS) == expected


@pytest.mark.parametrize(("text", "expected"), TURKISH_GOLDEN)
def test_extract_answer_turkish(text: str, expected: str | None) -> None:
    assert extract_answer(text, TR, TR_WORDS, TR_SUFFIXES) == expected


def test_first_line_comparison_would_fail_where_extraction_succeeds() -> None:
    # The leaderboard's known failure: comparing the whole first line to the letter.
    assert "B. 4".splitlines()[0] != "B"
    assert extract_answer("B. 4", EN, EN_WORDS) == "B"


# ---------------------------------------------------------------------------------------------
# pick_letter


def lp(*pairs: tuple[str, float]) -> tuple[TokenLogprob, ...]:
    return tuple(TokenLogprob(t, v) for t, v in pairs)


def test_pick_letter_accepts_tokenizer_variants_and_takes_the_best() -> None:
    # llama-server often ranks a bare " " token first; letters come as "A", " B", "▁C", "ĠD".
    alts = lp((" ", -0.2), (" B", -1.5), ("A", -1.9), ("▁C", -1.2), ("ĠD", -3.0), ("B", -0.9),
              ("Answer", -0.1), ("AB", -0.05), ("\n", -2.0))
    pick = pick_letter(alts, EN)
    assert pick.letter == "B"
    assert pick.logprobs == {"A": -1.9, "B": -0.9, "C": -1.2, "D": -3.0}


def test_pick_letter_without_letters_and_ties() -> None:
    assert pick_letter(lp((" ", -0.1), ("The", -0.5)), EN).letter is None
    assert pick_letter((), EN).letter is None
    assert pick_letter(lp(("C", -1.0), ("A", -1.0)), EN).letter == "A"
    assert pick_letter(lp(("A", math.nan), ("D", -4.0)), EN).letter == "D"


def test_top_k_pick_equals_full_distribution_argmax() -> None:
    """The reason one max_tokens=1 request suffices: if any letter variant is in the top-k,
    the best one is, so the pick equals the argmax over the whole distribution."""
    rng = random.Random(7)
    vocab = [" ", "The", "\n", "A", " A", "B", " B", "C", " C", "D", " D", "▁A", "x", "1", "."]
    checked = 0
    for _ in range(2000):
        logits = [rng.gauss(0, 2) for _ in vocab]
        norm = math.log(sum(math.exp(v) for v in logits))
        dist = sorted((TokenLogprob(t, v - norm) for t, v in zip(vocab, logits, strict=True)),
                      key=lambda t: -t.logprob)
        full = pick_letter(dist, EN)
        top = pick_letter(dist[: rng.randint(1, 6)], EN)
        if top.letter is not None:
            checked += 1
            assert top.letter == full.letter
    assert checked > 500


# ---------------------------------------------------------------------------------------------
# Prompts

ITEM = MCItem(id="abstract_algebra/test/0", subtask="abstract_algebra",
              question="  Find the degree of Q(sqrt(2)) over Q.\n", choices=("0", "4", "2", "6"),
              answer="C")
SHOTS = (
    MCItem(id="abstract_algebra/dev/0", subtask="abstract_algebra", question="1+1?",
           choices=("1", "2", "3", "4"), answer="B"),
    MCItem(id="abstract_algebra/dev/1", subtask="abstract_algebra", question="2+2?",
           choices=("4", "2", "3", "1"), answer="A"),
)


@pytest.fixture(scope="module")
def mmlu_eval() -> MultipleChoiceEval:
    ev = load_eval("mmlu")
    assert isinstance(ev, MultipleChoiceEval)
    return ev


def test_completion_prompt_is_lm_eval_default(mmlu_eval: MultipleChoiceEval) -> None:
    from runlocalai_bench.scoring.multiple_choice import build_prompt

    cfg = mmlu_eval.config
    prompt = build_prompt(ITEM, SHOTS, cfg.prompt, cfg.scoring, "completion")
    assert prompt.text == (
        "The following are multiple choice questions (with answers) about abstract algebra.\n\n"
        "1+1?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer: B\n\n"
        "2+2?\nA. 4\nB. 2\nC. 3\nD. 1\nAnswer: A\n\n"
        "Find the degree of Q(sqrt(2)) over Q.\nA. 0\nB. 4\nC. 2\nD. 6\nAnswer:"
    )
    assert prompt.max_tokens == 1
    assert prompt.top_logprobs >= 20
    assert set(prompt.candidates) == {" A", "A", " B", "B", " C", "C", " D", "D"}
    assert prompt.messages == ()


def test_chat_prompt_puts_shots_in_turns(mmlu_eval: MultipleChoiceEval) -> None:
    from runlocalai_bench.scoring.multiple_choice import build_prompt

    cfg = mmlu_eval.config
    prompt = build_prompt(ITEM, SHOTS, cfg.prompt, cfg.scoring, "chat")
    roles = [m.role for m in prompt.messages]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    assert prompt.messages[0].content.startswith(
        "The following are multiple choice questions (with answers) about abstract algebra.\n\n"
        "Answer with the letter of the correct option only.\n\n1+1?\nA. 1")
    assert [m.content for m in prompt.messages if m.role == "assistant"] == ["B", "A"]
    assert prompt.messages[-1].content.endswith("D. 6\nAnswer:")
    assert prompt.text == ""


def test_generative_prompt_stops_only_in_completion_style() -> None:
    ev = load_eval("mmlu-generative")
    assert isinstance(ev, MultipleChoiceEval)
    from runlocalai_bench.scoring.multiple_choice import build_prompt

    completion = build_prompt(ITEM, SHOTS, ev.config.prompt, ev.config.scoring, "completion")
    chat = build_prompt(ITEM, SHOTS, ev.config.prompt, ev.config.scoring, "chat")
    assert completion.stop == ("\n\n",) and chat.stop == ()
    assert completion.max_tokens == chat.max_tokens >= 32
    assert completion.top_logprobs == 0 and completion.candidates == ()


def test_turkish_prompt_words() -> None:
    ev = load_eval("turkish-mmlu")
    assert isinstance(ev, MultipleChoiceEval)
    from runlocalai_bench.scoring.multiple_choice import build_prompt

    item = MCItem(id="history/test/0", subtask="history", question="Soru metni?",
                  choices=("a", "b", "c", "d", "e"), answer="E")
    text = build_prompt(item, (), ev.config.prompt, ev.config.scoring, "completion").text
    assert text == "Soru: Soru metni?\nA. a\nB. b\nC. c\nD. d\nE. e\nCevap:"


def test_letter_candidates() -> None:
    assert letter_candidates(("A", "B")) == (" A", "A", " B", "B")


# ---------------------------------------------------------------------------------------------
# Scoring


def prompt_for(ev: MultipleChoiceEval, style: str = "completion") -> Prompt:
    from runlocalai_bench.scoring.multiple_choice import build_prompt

    return build_prompt(ITEM, SHOTS, ev.config.prompt, ev.config.scoring, style)  # type: ignore[arg-type]


def test_score_uses_top_logprobs(mmlu_eval: MultipleChoiceEval) -> None:
    prompt = prompt_for(mmlu_eval)
    gen = Generation(text=" ", top_logprobs=lp((" ", -0.3), (" C", -1.1), (" A", -1.4)))
    result = mmlu_eval.score(ITEM, prompt, gen)
    assert (result.extracted, result.score, result.status) == ("C", 1.0, "ok")
    assert result.details["source"] == "top_logprobs"
    assert result.details["letter_logprobs"] == {"A": -1.4, "C": -1.1}
    assert result.target == "C" and result.prompt == prompt.text


def test_score_uses_candidate_logprobs_exactly(mmlu_eval: MultipleChoiceEval) -> None:
    prompt = prompt_for(mmlu_eval)
    # The top-k says C, but the exact candidate log-probabilities say D: those win.
    gen = Generation(text=" C", top_logprobs=lp((" C", -0.5)),
                     candidate_logprobs=lp((" A", -3.0), ("A", -5.0), (" B", -2.0), ("B", -6.0),
                                           (" C", -0.9), ("C", -4.0), (" D", -2.5), ("D", -0.8)))
    result = mmlu_eval.score(ITEM, prompt, gen)
    assert (result.extracted, result.score, result.details["source"]) == ("D", 0.0, "candidates")


def test_score_falls_back_to_greedy_text_and_counts_it(mmlu_eval: MultipleChoiceEval) -> None:
    prompt = prompt_for(mmlu_eval)
    fallback = mmlu_eval.score(ITEM, prompt, Generation(text=" C",
                                                        top_logprobs=lp((" ", -0.1))))
    assert (fallback.extracted, fallback.score, fallback.status) == ("C", 1.0, "fallback")
    assert fallback.details["source"] == "text"
    unparsed = mmlu_eval.score(ITEM, prompt, Generation(text=" The", top_logprobs=()))
    assert (unparsed.extracted, unparsed.score, unparsed.status) == (None, 0.0, "unparsed")


def test_generative_scoring_and_unparsed() -> None:
    ev = load_eval("mmlu-generative")
    assert isinstance(ev, MultipleChoiceEval)
    prompt = prompt_for(ev, "chat")
    right = ev.score(ITEM, prompt, Generation(text="The correct answer is **C) 2**."))
    wrong = ev.score(ITEM, prompt, Generation(text="B) 4"))
    lost = ev.score(ITEM, prompt, Generation(text="It depends on the field."))
    assert (right.score, right.status) == (1.0, "ok")
    assert (wrong.score, wrong.status, wrong.extracted) == (0.0, "ok", "B")
    assert (lost.score, lost.status, lost.extracted) == (0.0, "unparsed", None)


@pytest.mark.parametrize("slug", ["mmlu", "mmlu-generative", "turkish-mmlu",
                                  "turkish-mmlu-generative", "selfcheck"])
@pytest.mark.parametrize("style", ["completion", "chat"])
def test_reference_generation_scores_right(slug: str, style: str) -> None:
    ev = load_eval(slug)
    dataset = ev.load(DataSource(kind="bundled"))
    for item in dataset.items:
        prompt = ev.build_prompt(item, dataset, style)  # type: ignore[arg-type]
        gen = ev.reference_generation(item, prompt)
        result = ev.score(item, prompt, gen)
        assert (result.score, result.status) == (1.0, "ok"), (item.id, gen)
        # Ranked first among alternatives, not just the greedy text.
        if prompt.top_logprobs:
            assert gen.top_logprobs[0].token.strip() == item.answer
        if prompt.candidates:
            assert gen.candidate_logprobs is not None
            best = max(gen.candidate_logprobs, key=lambda t: t.logprob)
            assert best.token.strip() == item.answer


def test_selfcheck_is_tiny_balanced_and_bundled() -> None:
    ev = load_eval("selfcheck")
    dataset = ev.load(DataSource(kind="dir", path="/nonexistent"))  # always the bundled file
    assert dataset.pin.source == "bundled" and dataset.pin.pinned
    assert len(dataset.items) == 12
    assert len({i.subtask for i in dataset.items}) == 12
    assert sorted(i.answer for i in dataset.items) == sorted("ABCD" * 3)
    assert all(len(dataset.fewshot[i.subtask]) == 5 for i in dataset.items)


# ---------------------------------------------------------------------------------------------
# The spec


def spec_from(data: dict) -> TaskSpec:
    return TaskSpec(slug="x", kind="multiple_choice", path=Path("x.toml"), sha256="0", data=data)


def test_incomplete_spec_is_a_config_error(mmlu_eval: MultipleChoiceEval) -> None:
    data = dict(mmlu_eval.spec.data)
    with pytest.raises(ConfigError):
        MultipleChoiceEval(spec_from({k: v for k, v in data.items() if k != "prompt"}))
    with pytest.raises(ConfigError, match="unknown scoring method"):
        MultipleChoiceEval(spec_from({**data, "scoring": {"method": "vibes"}}))
    with pytest.raises(ConfigError):  # a typo in a prompt field is caught, not ignored
        MultipleChoiceEval(spec_from({**data, "prompt": {**data["prompt"], "heder": ""}}))


def test_every_subject_has_a_category(mmlu_eval: MultipleChoiceEval) -> None:
    cats = mmlu_eval.config.categories
    assert len(cats) == 57
    assert set(cats.values()) == {"stem", "humanities", "social_sciences", "other"}
    assert cats["professional_law"] == "humanities" and cats["econometrics"] == "social_sciences"
