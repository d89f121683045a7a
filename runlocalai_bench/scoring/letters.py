"""Reading the answer letter a model gave (pure functions): from the first token's
log-probabilities (`pick_letter`, the first_token_logprob method) or from the text it wrote
(`extract_answer`, the generative method and the fallback). See multiple_choice.py."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from runlocalai_bench.types import TokenLogprob


@dataclass(frozen=True)
class LetterPick:
    letter: str | None  # None: no letter among the alternatives
    logprobs: Mapping[str, float]  # the best log-probability seen per letter


_TOKEN_PREFIX = " \t\r\n▁Ġ"  # spaces, SentencePiece's "▁" and byte-level BPE's "Ġ"


def token_letter(token: str, letters: Sequence[str]) -> str | None:
    core = token.lstrip(_TOKEN_PREFIX)
    return core if core in letters else None


def pick_letter(alternatives: Sequence[TokenLogprob], letters: Sequence[str]) -> LetterPick:
    """The letter with the highest log-probability over its token variants; ties go to the
    earlier letter."""
    best: dict[str, float] = {}
    for alt in alternatives:
        letter = token_letter(alt.token, letters)
        if letter is not None and not math.isnan(alt.logprob):
            best[letter] = max(alt.logprob, best.get(letter, -math.inf))
    if not best:
        return LetterPick(None, {})
    ordered = {letter: best[letter] for letter in letters if letter in best}
    top = max(ordered.values())
    return LetterPick(next(k for k, v in ordered.items() if v == top), ordered)


_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_FILLER = (r"(?:\s|[:=\-–—\(\[]|\bis\b|\bwas\b|\bwould\b|\bshould\b|\bbe\b|\boption\b|"
           r"\bchoice\b|\bletter\b|\bşık\w*|\bseçenek\w*)*")


@cache
def _explicit_patterns(answer_words: tuple[str, ...],
                       suffixes: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    words = "|".join(r"\s+".join(map(re.escape, w.split())) for w in
                     sorted(answer_words, key=len, reverse=True))
    patterns = [
        re.compile(rf"(?i:\b(?:{words}))\w*{_FILLER}(?P<letter>[A-Za-z])(?![A-Za-z0-9])"),
        re.compile(r"\\boxed\{\s*(?:\\text\{)?\s*(?P<letter>[A-Za-z])\s*\}"),
    ]
    if suffixes:
        tails = "|".join(map(re.escape, suffixes))
        patterns.append(re.compile(rf"\b(?P<letter>[A-Za-z])[\)\.]?\s*(?i:{tails})"))
    return tuple(patterns)


_LEADING = re.compile(r"^\s*[\(\[]?(?P<letter>[A-Za-z])(?![A-Za-z0-9])")
_BARE_LINE = re.compile(r"(?m)^\s*[\(\[]?(?P<letter>[A-Z])[\)\]\.:]?\s*$")
_LOWERCASE_OK_AFTER = set(".):;,]}") | {"", "\n"}


def _accept(match: re.Match[str], text: str, letters: Sequence[str]) -> str | None:
    raw = match.group("letter")
    if raw.upper() not in letters:
        return None
    if raw.islower():
        # "answer is a ..." is an article, "answer: a." and "(b)" are letters.
        nxt = text[match.end("letter"): match.end("letter") + 1]
        before = text[match.start("letter") - 1: match.start("letter")]
        if nxt not in _LOWERCASE_OK_AFTER and before not in ("(", "["):
            return None
    return raw.upper()


def extract_answer(text: str, letters: Sequence[str], answer_words: Sequence[str] = ("answer",),
                   option_suffixes: Sequence[str] = ()) -> str | None:
    """The answer letter a model wrote, or None.

    In order: the last explicit answer ("Answer: B", "the answer is (b)", "\\boxed{B}",
    "Cevap: C", "doğru cevap C şıkkı"); else a letter opening the reply ("B", "B.", "B) 4",
    "(B)"); else the last line that is a letter alone. Markdown emphasis and <think> blocks are
    ignored, and text is read in Unicode NFC. A lowercase letter counts only where it cannot be
    the article "a".
    """
    cleaned = _THINK.sub(" ", unicodedata.normalize("NFC", text)).replace("*", "").replace("`", "")
    last: tuple[int, str] | None = None
    for pattern in _explicit_patterns(tuple(answer_words), tuple(option_suffixes)):
        for match in pattern.finditer(cleaned):
            letter = _accept(match, cleaned, letters)
            if letter and (last is None or match.start("letter") >= last[0]):
                last = (match.start("letter"), letter)
    if last:
        return last[1]
    leading = _LEADING.match(cleaned)
    if leading and (letter := _accept(leading, cleaned, letters)):
        return letter
    bare = [m.group("letter") for m in _BARE_LINE.finditer(cleaned) if m.group("letter") in letters]
    return bare[-1] if bare else None
