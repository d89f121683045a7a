"""A job's return values, compared with the expected ones (pure functions).

Values cross the sandbox's pipe in a JSON wire form (encoded by the job: `_sandbox_child.encode`);
`decode_value` turns it back into Python values, and anything garbled or inexpressible into an
`Opaque` that equals nothing. The comparison is EvalPlus's: `==`, else
`allclose` with the task's tolerance for float-valued outputs, and for the tasks named in the
spec's `special_oracles` a check of its own (`poly_root_ok` for HumanEval/32).
"""

from __future__ import annotations

import array
import base64
import binascii
import json
import math
from typing import Any


class Opaque:
    """A value the job could not express (or sent garbled); equal to nothing, itself included."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<{self.what}>"


def _untag(obj: dict[str, Any]) -> Any:
    tag, value = obj.get("~"), obj.get("v")
    try:
        if tag == "t":
            return tuple(value)  # type: ignore[arg-type]
        if tag == "s":
            return set(value)  # type: ignore[arg-type]
        if tag == "f":
            return frozenset(value)  # type: ignore[arg-type]
        if tag == "d":
            return {k: v for k, v in value}  # type: ignore[union-attr]
        if tag == "i":
            return int(value, 16)  # type: ignore[arg-type]
        if tag == "c":
            return complex(*value)  # type: ignore[misc]
        if tag == "b":
            return value.encode("latin-1")  # type: ignore[union-attr]
        if tag == "n":
            return _unpack_numbers(*value)  # type: ignore[misc]
        if tag == "o":
            return Opaque(f"unsupported {str(value)[:80]}")
    except (TypeError, ValueError, AttributeError, OverflowError, binascii.Error):
        pass
    return Opaque("malformed value")


def _unpack_numbers(flags: str, data: str) -> list[Any]:
    doubles = array.array("d")
    doubles.frombytes(base64.b64decode(data, validate=True))
    values = doubles.tolist()
    if not flags:
        return values
    is_int = base64.b64decode(flags, validate=True)
    if len(is_int) != len(values):
        raise ValueError("flags and values differ in length")
    return [int(v) if i else v for v, i in zip(values, is_int, strict=True)]


def short_repr(value: Any, limit: int = 300) -> str:
    """A value as a sample's details show it: its repr, cut at `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


def decode_value(payload: bytes) -> Any:
    """A value from its wire form (see _sandbox_child.encode); garbage decodes to Opaque."""
    try:
        return json.loads(payload, object_hook=_untag)
    except (ValueError, RecursionError, MemoryError, TypeError):
        return Opaque("undecodable value")


def is_floats(value: Any) -> bool:
    """EvalPlus's test for a float-valued expected output: a float, or a non-empty list or
    tuple of floats."""
    if isinstance(value, float):
        return True
    return isinstance(value, list | tuple) and bool(value) and all(
        isinstance(v, float) for v in value)


def has_nan(value: Any) -> bool:
    """Whether `value` holds a NaN anywhere (then `==` can never hold for a fresh copy)."""
    if isinstance(value, float):
        return value != value
    if isinstance(value, complex):
        return value != value
    if isinstance(value, dict):
        return has_nan(list(value.items()))
    if isinstance(value, list | tuple | set | frozenset):
        return any(has_nan(v) for v in value)
    return False


def _close_scalars(a: Any, b: Any, atol: float, rtol: float) -> bool:
    numeric = (bool, int, float, complex)
    if not isinstance(a, numeric) or not isinstance(b, numeric):
        return False
    try:
        x = complex(a) if isinstance(a, complex) else float(a)
        y = complex(b) if isinstance(b, complex) else float(b)
    except OverflowError:
        return False
    finite = all(math.isfinite(v) for v in (x.real, x.imag, y.real, y.imag)
                 if isinstance(v, float))
    if not finite:
        return x == y  # equal infinities are close; NaN is close to nothing
    return abs(x - y) <= atol + rtol * abs(y)


def allclose(a: Any, b: Any, atol: float, rtol: float) -> bool:
    """numpy.allclose(a, b) for scalars and equally shaped nested lists/tuples of numbers;
    anything numpy would refuse (strings, None, ragged shapes) is not close."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(
            allclose(x, y, atol, rtol) for x, y in zip(a, b, strict=True))
    if isinstance(a, list | tuple) or isinstance(b, list | tuple):
        return False
    return _close_scalars(a, b, atol, rtol)


def outputs_match(out: Any, expected: Any, atol: float, rtol: float) -> bool:
    """EvalPlus's comparison of one output: `==`, else (atol != 0) same type, same length for
    sequences, and allclose."""
    try:
        if out == expected:
            return True
    except RecursionError:
        return False
    if atol == 0:
        return False
    if type(out) is not type(expected):
        return False
    if isinstance(expected, list | tuple) and len(out) != len(expected):
        return False
    return allclose(out, expected, atol, rtol)


def poly_root_ok(args: Any, out: Any, atol: float) -> bool:
    """HumanEval/32: `out` is a root of the polynomial with coefficients `args[0]`, as EvalPlus
    computes it (sum of coeff * math.pow(x, i)), within `atol`."""
    try:
        (coefficients,) = args
        value = sum([c * math.pow(out, i) for i, c in enumerate(coefficients)])
        return bool(abs(value) <= atol)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        return False


ORACLES = ("poly_root",)
