"""Free text for the leaderboard as plain text: what a submitter writes, minus anything a page
could run.

The leaderboard rejects "hostile content in notes (scripts in markdown)"; rla strips it before
anything is sent, whatever the text's source (a flag, record.json, a GGUF's metadata, a server's
model list). Both cleaners are pure and run in time linear in their input:

1. Only the first `MAX_INPUT` characters are looked at.
2. The text is normalised first (NFKC, so a full-width `ｊａｖａｓｃｒｉｐｔ：` is `javascript:`;
   control, zero-width, bidi and other format characters removed; newlines unified), so that
   nothing invisible can split a word the stripping below looks for.
3. Markup is stripped, in rounds until a round changes nothing: entities decoded (and the result
   normalised again), scripts and styles with their content, HTML tags and comments (their text
   stays), markdown images, markdown links (their text stays, their target goes), reference
   definitions, any `](` left (as `] (`, which opens no link), `javascript:`/`vbscript:`/
   `data:`/`livescript:` schemes and `on…=` handlers.
4. The result is re-checked: text that a further round would still change after `_ROUNDS`
   rounds loses every `<>[]&` and scheme, and is dropped if even that leaves markup.
5. Secrets are redacted, spaces tidied, and the result capped (`MAX_NOTES` for notes,
   `MAX_FIELD` for one-line fields such as a model's name), ending in "…" when cut.
"""

from __future__ import annotations

import html
import re
import unicodedata

from runlocalai_bench.redact import redact

MAX_NOTES = 2000
MAX_FIELD = 200
MAX_INPUT = 64 * 1024
_ROUNDS = 5

# Every pattern below is linear: a bracketed run stops at the next bracket, a line's pattern at
# the line's end, so no starting position rescans the rest of the text.
_BLOCKS = re.compile(
    r"(?is)<\s*(script|style|iframe|object|embed|template)\b.*?(?:<\s*/\s*\1\s*>|$)")
_COMMENTS = re.compile(r"(?s)<!--.*?(?:-->|$)")
# A tag, or an unterminated one running to the end (`<script src=…` with no `>`); a `<` before
# a space or digit ("a < b", "<5%") is text, as in HTML.
_TAGS = re.compile(r"(?s)</?[A-Za-z!?][^<>]*>?")
_TEXT = r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\]"  # [text], one level of nested brackets
_TARGET = r"\((?:[^()]|\([^()]*\))*\)"  # (url), one level of nested parentheses
_MD_IMAGE = re.compile(r"!" + _TEXT + _TARGET)
_MD_LINK = re.compile(_TEXT + _TARGET)
# A definition's target may be on the next line: the label's line goes, the rest is plain text.
_MD_REF_DEF = re.compile(r"(?m)^[ \t]*\[[^\]\n]+\]:.*$")
# What is left of a link deeper than the patterns reach: "](" opens no link once it is "] (".
_LINK_JOIN = re.compile(r"\]\(")
# Replaced by a space, with every colon or '=' that follows, so removing one cannot join its
# neighbours into another ("javajavascript:script:" → "java script:" → "java  ").
_SCHEMES = re.compile(r"(?i)\b(?:javascript|vbscript|data|livescript)(?:\s*:)+")
_HANDLERS = re.compile(r"(?i)\bon[a-z]+(?:\s*=)+")
_DEFANG = re.compile(r"[<>\[\]&]")
# Characters that never reach the leaderboard: controls (but newline and tab), format characters
# (zero-width, bidi, soft hyphen, BOM), surrogates, private use and unassigned code points.
_INVISIBLE = frozenset(("Cc", "Cf", "Cs", "Co", "Cn"))


def _normalised(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    text = text.replace("\u2029", "\n")
    return "".join(ch for ch in text
                   if ch in "\n\t" or unicodedata.category(ch) not in _INVISIBLE)


def _strip_round(text: str) -> str:
    out = _normalised(html.unescape(text))
    out = _BLOCKS.sub("", out)
    out = _COMMENTS.sub("", out)
    out = _TAGS.sub("", out)
    out = _MD_IMAGE.sub("", out)
    out = _MD_LINK.sub(r"\1", out)
    out = _MD_REF_DEF.sub("", out)
    out = _LINK_JOIN.sub("] (", out)
    out = _SCHEMES.sub(" ", out)
    return _HANDLERS.sub(" ", out)


def _plain(text: str) -> str:
    """`text` with its markup stripped until a further round would change nothing."""
    out = _normalised(text)
    for _ in range(_ROUNDS):
        before, out = out, _strip_round(out)
        if out == before:
            return out
    out = _HANDLERS.sub(" ", _SCHEMES.sub(" ", _DEFANG.sub("", out)))
    return out if _strip_round(out) == out else ""


def _capped(text: str, limit: int, cut: bool) -> str:
    if not cut and len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def _clean(text: str, limit: int, *, one_line: bool) -> str:
    cut = len(text) > MAX_INPUT
    out = _plain(text[:MAX_INPUT])
    # the mask is bracketed: "TOKEN(x)" redacted reads "[REDACTED](x)", a link to strip again
    out = _plain(redact(out))
    if one_line:
        out = re.sub(r"\s+", " ", out)
    out = re.sub(r"[ \t]{2,}", " ", out)
    out = re.sub(r"[ \t]+\n", "\n", out)
    out = re.sub(r"\n[ \t]+", "\n", out)
    out = re.sub(r"\n{3,}", "\n\n", out).strip()
    return _capped(out, limit, cut)


def clean_notes(text: str | None, *, limit: int = MAX_NOTES) -> str:
    """Submission notes as plain text, paragraphs kept (see the module's steps)."""
    return _clean(text, limit, one_line=False) if text else ""


def clean_field(text: str | None, *, limit: int = MAX_FIELD) -> str | None:
    """A one-line free-text field (a model's name or id) as plain text; None stays None, and so
    does a text with nothing left."""
    if text is None:
        return None
    return _clean(text, limit, one_line=True) or None


# What the leaderboard asks a submitter for: "GitHub or email". A GitHub login (letters, digits,
# '-', at most 39; '_' and '.' tolerated as before), or an address of the common characters only.
_GITHUB = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,38}"
_EMAIL = r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?" \
         r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
HANDLE = re.compile(rf"^(?:{_GITHUB}|{_EMAIL})$")
MAX_HANDLE = 254


def clean_handle(text: str | None) -> str | None:
    """A submitter handle normalised (NFKC, invisible characters removed, outer spaces
    trimmed), or None (anonymous) when nothing is left. Whether it is a valid handle is
    `HANDLE`'s to say: this never makes an invalid one valid by cutting it."""
    if text is None:
        return None
    return _normalised(text[: MAX_HANDLE + 1]).strip() or None
