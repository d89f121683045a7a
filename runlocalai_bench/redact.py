"""Secrets never reach what rla writes: run.log, samples, records, Gists, error messages.

`redact` replaces tokens by shape (GitHub, Hugging Face, OpenAI-style keys, bearer and basic
credentials, `key=value` secrets in headers and text), the values of secret-looking environment
variables present in this process, and the user's home directory (→ `~`).

URLs follow one policy, `redact_url`, wherever they appear in the text: the userinfo goes whole
(`user:pass@`, a bare `TOKEN@`, `:pass@`), every query parameter keeps its name and loses its
value (a parameter with no `=` goes whole: it may be the token itself). Scheme, host, port, path
and fragment (never sent to a server) stay, so an endpoint still says where it points.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

MASK = "[REDACTED]"

_CREDENTIAL = r"(?=[A-Za-z0-9][a-z]*(?:[0-9A-Z]|[._~+/=\-][A-Za-z0-9]))"

_KEY_VALUE_TRIGGERS = ("apikey", "api_key", "api-key", "token", "secret", "passw")

# Each pattern with the (lowercased) substrings one of which it needs in the text to match.
# Plain substring tests gate them, because a case-insensitive regex crawls over non-ASCII text.
_PATTERNS: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    # GitHub: classic, OAuth, user-to-server, server-to-server, refresh, fine-grained
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
     ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    (re.compile(r"\bhf_[A-Za-z0-9]{20,}\b"), ("hf_",)),
    (re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}\b"), ("sk-",)),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}\b"), ("xox",)),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), ("akia",)),
    # Authorization: Bearer/Basic/token <value>
    # (a credential holds a digit, an inner capital or inner punctuation: "Bearer eyJhb…",
    # "Basic dXNlcjpw…"; prose such as "basic universal principles" or "bearer bonds." not)
    (re.compile(r"(?<=\b(?i:bearer) )" + _CREDENTIAL + r"[A-Za-z0-9._~+/=\-]{8,}"),
     ("bearer ",)),
    (re.compile(r"(?<=\b(?i:basic) )" + _CREDENTIAL + r"[A-Za-z0-9+/=]{8,}"), ("basic ",)),
    (re.compile(r"(?i)(?<=\bauthorization: token )[A-Za-z0-9._\-]{8,}"), ("authorization",)),
    # key=value / "key": "value" for secret-looking keys, also at the start of a line
    (re.compile(
        r"(?i)(?<![^?&;\s\"'{,])(?:api[_-]?key|access[_-]?token|token|secret|password|passwd)"
        r"(?:\"?\s*[:=]\s*\"?)([^\s\"'&,;}]{6,})"
    ), _KEY_VALUE_TRIGGERS),
]

# A URL from its "://" on: authority, path, then the query. Each part is one run of a character
# class, so a scan is linear in the text. A URL ends at whitespace, a quote, <> or a backquote.
_URL = re.compile(r"://(?P<authority>[^/?#\s'\"<>`]*)(?P<path>[^?#\s'\"<>`]*)"
                  r"(?:\?(?P<query>[^#\s'\"<>`]*))?")

# Text without any of these skips the patterns; then each pattern runs only where one of its
# own triggers is (most lines that trigger at all name one word, e.g. the method
# "first_token_logprob", or a history passage its "secret").
_TRIGGERS = (*dict.fromkeys(t for _, triggers in _PATTERNS for t in triggers), "://")
# The only characters a case-insensitive pattern matches for an ASCII letter, besides the
# letter's own cases, are İ, ı, ſ and the Kelvin sign; lowercased, two are not yet ASCII. In
# text that has them, they count as their letters when a pattern's triggers are looked for.
_LOOKALIKES = str.maketrans({"\u0131": "i", "\u017f": "s"})

_SECRET_ENV = re.compile(r"(?i)(token|secret|password|passwd|api_?key|credential|auth)")


@lru_cache(maxsize=1)
def _env_secrets() -> tuple[str, ...]:
    values = {
        v for k, v in os.environ.items() if _SECRET_ENV.search(k) and v and len(v) >= 8
    }
    return tuple(sorted(values, key=len, reverse=True))


def refresh() -> None:
    """Forget the cached environment secrets (after the environment changed)."""
    _env_secrets.cache_clear()


def _homes() -> tuple[str, ...]:
    return _home_spellings((os.environ.get("HOME") or str(Path.home())).rstrip("/"))


@lru_cache(maxsize=4)
def _home_spellings(home: str) -> tuple[str, ...]:
    """The home directory as $HOME spells it and, when a symlink leads there, as resolved."""
    if not home:
        return ()
    out = [home]
    try:
        resolved = str(Path(home).resolve()).rstrip("/")
    except OSError:
        resolved = home
    if resolved and resolved != home:
        out.append(resolved)
    return tuple(sorted(out, key=len, reverse=True))


def _masked_parameter(parameter: str) -> str:
    name, sep, value = parameter.partition("=")
    if not sep:
        return MASK if name else name
    return f"{name}={MASK}" if value else parameter


def _url_secrets_masked(match: re.Match[str]) -> str:
    authority = match["authority"]
    at = authority.rfind("@")
    out = "://" + (MASK + authority[at:] if at >= 0 else authority) + match["path"]
    if match["query"] is not None:
        out += "?" + "&".join(_masked_parameter(p) for p in match["query"].split("&"))
    return out


def redact_url(url: str) -> str:
    """An endpoint or any URL as rla may write or print it: see the module's URL policy.
    Applying it twice changes nothing more."""
    return _URL.sub(_url_secrets_masked, url)


# Short strings without a path separator (a token and its alternatives, a letter, a details key)
# come back thousands of times a run: their redacted form is kept while the environment's
# secrets stay the same. (Without a separator no home directory can be in them, so HOME, read
# afresh on each call, does not matter to what is kept.)
_SHORT = 256
_MEMO_SIZE = 8192
_memo: dict[str, str] = {}
_memo_for: tuple[str, ...] = ()


def redact(text: str, *, extra: tuple[str, ...] = ()) -> str:
    if not text:
        return text
    if extra or len(text) > _SHORT or "/" in text or "\\" in text:
        return _redact(text, extra)
    global _memo_for
    secrets = _env_secrets()
    if secrets is not _memo_for or len(_memo) >= _MEMO_SIZE:
        _memo.clear()
        _memo_for = secrets
    done = _memo.get(text)
    if done is None:
        done = _memo[text] = _redact(text, ())
    return done


def _redact(text: str, extra: tuple[str, ...]) -> str:
    for secret in (*extra, *_env_secrets()):
        if secret:
            text = text.replace(secret, MASK)
    lowered = text.lower()
    if "://" in text:
        text = redact_url(text)
    if any(trigger in lowered for trigger in _TRIGGERS):
        folded = lowered if lowered.isascii() else lowered.translate(_LOOKALIKES)
        for pattern, triggers in _PATTERNS:
            if not any(trigger in folded for trigger in triggers):
                continue
            if pattern.groups:
                text = pattern.sub(lambda m: m.group(0).replace(m.group(1), MASK), text)
            else:
                text = pattern.sub(MASK, text)
    for home in _homes():
        if home in text:
            text = re.sub(re.escape(home) + r"(?![\w-])", "~", text)  # not /home/al-x
    return text


def redact_tree(value: Any, *, extra: tuple[str, ...] = ()) -> Any:
    """`redact` applied to every string (keys included) of a JSON-shaped value."""
    if isinstance(value, str):
        return redact(value, extra=extra)
    if isinstance(value, Mapping):
        return {redact_tree(k, extra=extra): redact_tree(v, extra=extra)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_tree(v, extra=extra) for v in value]
    return value
