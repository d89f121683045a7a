"""Submission notes as plain text: what a submitter writes, minus anything a page could run.

The leaderboard rejects "hostile content in notes (scripts in markdown)"; rla strips it before
anything is sent. `clean_notes` is pure: scripts and styles go with their content, HTML tags
and comments go (their text stays), markdown images go, markdown links keep their text and lose
their target, `javascript:`/`data:`/`vbscript:` schemes go, entities are decoded first so an
escaped tag cannot survive, control characters go, secrets are redacted, and the result is
capped at `MAX_NOTES` characters.
"""

from __future__ import annotations

import html
import re
import unicodedata

from runlocalai_bench.redact import redact

MAX_NOTES = 2000

_BLOCKS = re.compile(
    r"(?is)<\s*(script|style|iframe|object|embed|template)\b.*?(?:<\s*/\s*\1\s*>|$)")
_COMMENTS = re.compile(r"(?s)<!--.*?(?:-->|$)")
# A tag, or an unterminated one running to the end (`<script src=…` with no `>`); a `<` before
# a space or digit ("a < b", "<5%") is text, as in HTML.
_TAGS = re.compile(r"(?s)</?[A-Za-z!?][^<>]*>?")
_TARGET = r"\((?:[^()]|\([^()]*\))*\)"  # (url), one level of nested parentheses
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]" + _TARGET)
_MD_LINK = re.compile(r"\[([^\]]*)\]" + _TARGET)
_MD_REF_DEF = re.compile(r"(?m)^\s*\[[^\]]+\]:\s*\S+.*$")
_SCHEMES = re.compile(r"(?i)\b(?:javascript|vbscript|data|livescript)\s*:")
_HANDLERS = re.compile(r"(?i)\bon[a-z]+\s*=")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean_notes(text: str | None, *, limit: int = MAX_NOTES) -> str:
    if not text:
        return ""
    out = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    for _ in range(5):  # entities may hide markup one level deep per round
        before = out
        out = html.unescape(out)
        out = _BLOCKS.sub("", out)
        out = _COMMENTS.sub("", out)
        out = _TAGS.sub("", out)
        out = _MD_IMAGE.sub("", out)
        out = _MD_LINK.sub(r"\1", out)
        out = _MD_REF_DEF.sub("", out)
        out = _SCHEMES.sub("", out)
        out = _HANDLERS.sub("", out)
        if out == before:
            break
    out = _CONTROL.sub("", out)
    out = re.sub(r"[ \t]{2,}", " ", out)
    out = re.sub(r"[ \t]+\n", "\n", out)
    out = re.sub(r"\n{3,}", "\n\n", out).strip()
    out = redact(out)
    if len(out) > limit:
        out = out[: limit - 1].rstrip() + "…"
    return out
