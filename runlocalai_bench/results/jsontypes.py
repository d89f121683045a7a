"""Frozen dataclasses to and from JSON, by their type hints: the one conversion behind every
typed document rla reads back (record.json and its sections, a samples.jsonl line).

`decode(cls, value)` builds `cls` from parsed JSON and checks every field against its hint as it
goes: dataclasses (every field present unless it has a default, no unknown keys), `X | None`,
`Literal[...]`, `tuple[X, ...]` and `tuple[X, Y]`, `Mapping[str, X]`, `str`, `int`, `float` (an
int is kept as the int it was, so a document round-trips byte for byte), `bool` and `Any`. A
mismatch is a RecordError naming the JSON path (`$.results.subtasks.abstract_algebra.n`).
`encode(value)` is the inverse: dataclasses become objects in field order, tuples lists; a field
marked `metadata={"omit_if_none": True}` is left out while None (a key only some documents have).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, TypeVar

from runlocalai_bench.errors import RecordError

T = TypeVar("T")


class Mismatch(Exception):
    """Where and how a document departs from its type (turned into a RecordError by `decode`)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.field = path.removeprefix("$").lstrip(".") or None


def decode(cls: type[T], value: Any, what: str) -> T:
    """`value` (parsed JSON, called `what` in errors) as a `cls`."""
    try:
        return _decode(cls, value, "$")  # type: ignore[no-any-return]
    except Mismatch as exc:
        raise RecordError(f"{what} cannot be read: {exc}",
                          hint="the file was edited: rla writes every field with the type"
                          " its schema states (`rla schema`)", field=exc.field) from None


_SCALARS = frozenset({str, int, float, bool, type(None)})


def encode(value: Any) -> Any:
    if type(value) in _SCALARS:  # most values: no dataclass, list or mapping to look into
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not (f.metadata.get("omit_if_none") and getattr(value, f.name) is None)}
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {k: encode(v) for k, v in value.items()}
    return value


@cache
def hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(tp: Any, value: Any, path: str) -> Any:
    return _decoder(tp)(value, path)


Decoder = Callable[[Any, str], Any]


@cache
def _decoder(tp: Any) -> Decoder:
    """`tp`'s checks, worked out once per type: a full MMLU run reads 14,042 lines back
    (twice), and asking `typing` about each value's hint was most of that time."""
    if tp is Any:
        return _as_is
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _union(typing.get_args(tp))
    if origin is typing.Literal:
        allowed = typing.get_args(tp)

        def literal(value: Any, path: str) -> Any:
            if value not in allowed:
                raise Mismatch(path, f"{value!r} is not one of {list(allowed)!r}")
            return value
        return literal
    if origin is tuple:
        return _tuple(typing.get_args(tp))
    if origin in (Mapping, dict):
        item = _lazy(typing.get_args(tp)[1])

        def mapping(value: Any, path: str) -> Any:
            return {k: item()(v, f"{path}.{k}")
                    for k, v in _expect(value, dict, "object", path).items()}
        return mapping
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(tp)
    if tp is float:
        return _number
    return _scalar(tp)


def _as_is(value: Any, path: str) -> Any:
    return value


def _lazy(tp: Any) -> Callable[[], Decoder]:
    """`tp`'s decoder, looked up on first use (a dataclass may name itself in its fields)."""
    found: list[Decoder] = []

    def get() -> Decoder:
        if not found:
            found.append(_decoder(tp))
        return found[0]
    return get


def _union(options: tuple[Any, ...]) -> Decoder:
    nullable = type(None) in options
    rest = [o for o in options if o is not type(None)]
    inner = _lazy(rest[0]) if len(rest) == 1 else None

    def union(value: Any, path: str) -> Any:
        if value is None and nullable:
            return None
        if inner is None:
            (only,) = rest  # a union of several types is not one rla decodes
            return _decoder(only)(value, path)
        return inner()(value, path)
    return union


def _tuple(args: tuple[Any, ...]) -> Decoder:
    if len(args) == 2 and args[1] is Ellipsis:
        item = _lazy(args[0])
        pair = _plain_pair(args[0])

        def repeated(value: Any, path: str) -> Any:
            items = _expect(value, list, "array", path)
            if pair is not None and all(
                    type(v) is list and len(v) == 2 and type(v[0]) is pair[0]
                    and (type(v[1]) is pair[1] or (pair[1] is float and type(v[1]) is int))
                    for v in items):
                return tuple(map(tuple, items))  # pairs that are what they say
            decode_item = item()
            try:  # each item's path is spelled out only to name the one that fails
                return tuple([decode_item(v, path) for v in items])
            except Mismatch:
                return tuple(decode_item(v, f"{path}[{i}]") for i, v in enumerate(items))
        return repeated
    parts = [_lazy(a) for a in args]

    def fixed(value: Any, path: str) -> Any:
        items = _expect(value, list, "array", path)
        if len(items) != len(args):
            raise Mismatch(path, f"expected {len(args)} items, got {len(items)}")
        pairs = enumerate(zip(parts, items, strict=True))
        return tuple(part()(v, f"{path}[{i}]") for i, (part, v) in pairs)
    return fixed


# Plain JSON types a repeated pair's parts are checked against directly (a token and its
# log-probability: 20 pairs an answer on every line of a full MMLU run read back).
_PLAIN: dict[Any, type] = {str: str, float: float}


def _plain_pair(tp: Any) -> tuple[type, type] | None:
    """(first, second) when `tp` is a pair of plain types, such as tuple[str, float]."""
    args = typing.get_args(tp) if typing.get_origin(tp) is tuple else ()
    if len(args) == 2 and args[0] in _PLAIN and args[1] in _PLAIN:
        return _PLAIN[args[0]], _PLAIN[args[1]]
    return None


def _dataclass(cls: type) -> Decoder:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    required = [n for n, f in fields.items() if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING]
    kinds: dict[str, Decoder] = {}

    def dataclass(value: Any, path: str) -> Any:
        value = _expect(value, dict, "object", path)
        unknown = [k for k in value if k not in fields]
        if unknown:
            raise Mismatch(path, f"unexpected field {unknown[0]!r}")
        if not kinds:
            kinds.update({name: _decoder(hint) for name, hint in hints(cls).items()
                          if name in fields})
        decoded = {name: kinds[name](item, f"{path}.{name}") for name, item in value.items()}
        missing = [n for n in required if n not in value]
        if missing:
            raise Mismatch(path, f"missing required field {missing[0]!r}")
        return cls(**decoded)
    return dataclass


def _number(value: Any, path: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Mismatch(path, f"expected number, got {_describe(value)}")
    return value


_NAMES = {str: "string", int: "integer", bool: "boolean"}


def _scalar(tp: Any) -> Decoder:
    def scalar(value: Any, path: str) -> Any:
        if tp is int and isinstance(value, float) and value.is_integer():
            return value
        if tp not in _NAMES:
            raise TypeError(f"{tp!r} is not a JSON type rla decodes")
        if type(value) is not tp:
            raise Mismatch(path, f"expected {_NAMES[tp]}, got {_describe(value)}")
        return value
    return scalar


def _expect(value: Any, kind: type, name: str, path: str) -> Any:
    if not isinstance(value, kind):
        raise Mismatch(path, f"expected {name}, got {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)
