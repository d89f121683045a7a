"""The one bounded JSON reader for what rla did not write itself in this process: record.json,
results.json, run config, samples.jsonl lines; and from the network, the engines' answers and
streamed events, the probe's replies, GitHub's and the leaderboard's answers.

A file under review may come from anyone (a Gist, a copied run directory), and a server may
answer anything, so `loads` refuses, as a RecordError with a hint (or the caller's error class
and hint: a server's answer is not a file), what Python's json module would otherwise turn into
a crash or a silent oddity:

    size       over MAX_BYTES (a document) — checked before anything is parsed
    depth      arrays and objects nested deeper than MAX_DEPTH (json would raise RecursionError)
    constants  NaN, Infinity, -Infinity, and numbers that overflow to infinity (1e400)
    integers   more than MAX_INT_DIGITS digits (no valid field comes near; Python would spend
               quadratic time on 100,000-digit ones or raise ValueError past 4,300)
    syntax     anything json.loads refuses, and text that is not UTF-8
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from pathlib import Path
from typing import Any

from runlocalai_bench.errors import RecordError, RlaError

MAX_BYTES = 256 * 1024 * 1024
MAX_DEPTH = 64
MAX_INT_DIGITS = 20  # 2**64 has 20 digits: every count, size and seed rla writes fits

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def loads(data: str | bytes, what: str, *, max_bytes: int = MAX_BYTES,
          error: type[RlaError] = RecordError, hint: str | None = None) -> Any:
    """Parse `data` (named `what` in errors) within the limits above. Refusals are `error`s,
    with `hint` when given (a server's answer), else a hint about a file."""
    size = len(data)
    if size > max_bytes:
        raise error(f"{what} is {size:,} bytes, over the {max_bytes:,} rla reads",
                    hint or "this is not a file rla wrote; check where it came from")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise error(f"{what} is not UTF-8 text", hint or "the file was edited or torn") from exc
    # No deeper than its opening brackets, strings' included: most texts need no closer look.
    depth = nesting(text) if text.count("[") + text.count("{") > MAX_DEPTH else 0
    if depth > MAX_DEPTH:
        raise error(f"{what} nests {depth:,} levels deep, over the {MAX_DEPTH} rla reads",
                    hint or "this is not a file rla wrote; check where it came from")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_int=_bounded_int,
                          parse_float=_finite_float)
    except _Refused as exc:
        raise error(f"{what} holds {exc}", hint or "rla writes only finite numbers of"
                    f" at most {MAX_INT_DIGITS} digits; the file was edited") from None
    except ValueError as exc:
        raise error(f"{what} is not valid JSON ({exc})",
                    hint or "the file was edited or torn") from None


def read(path: Path, *, max_bytes: int = MAX_BYTES) -> Any:
    """A JSON file on disk, size checked before it is read."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise RecordError(f"{path} is {size:,} bytes, over the {max_bytes:,} rla reads",
                              hint="this is not a file rla wrote; check where it came from")
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise RecordError(f"{path} does not exist", hint="is this a run directory?") from exc
    except OSError as exc:
        raise RecordError(f"cannot read {path}: {exc.strerror}",
                          hint="check the file's permissions") from exc
    return loads(data, str(path), max_bytes=max_bytes)


def nesting(text: str) -> int:
    """How deep arrays and objects nest in JSON text (brackets inside strings do not count)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(1 if c in "[{" else -1 for c in brackets), default=0)


class _Refused(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name}, which is not a JSON number")


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {len(digits.lstrip('-')):,} digits")
    return int(digits)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:40]}, which overflows to infinity")
    return value
