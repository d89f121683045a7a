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
from collections.abc import Mapping
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


def encode(value: Any) -> Any:
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
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        (inner,) = [o for o in options if o is not type(None)]
        return _decode(inner, value, path)
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            raise Mismatch(path, f"{value!r} is not one of {list(typing.get_args(tp))!r}")
        return value
    if origin is tuple:
        args, items = typing.get_args(tp), _expect(value, list, "array", path)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v, f"{path}[{i}]") for i, v in enumerate(items))
        if len(items) != len(args):
            raise Mismatch(path, f"expected {len(args)} items, got {len(items)}")
        pairs = enumerate(zip(args, items, strict=True))
        return tuple(_decode(a, v, f"{path}[{i}]") for i, (a, v) in pairs)
    if origin in (Mapping, dict):
        item = typing.get_args(tp)[1]
        return {k: _decode(item, v, f"{path}.{k}")
                for k, v in _expect(value, dict, "object", path).items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(tp, _expect(value, dict, "object", path), path)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Mismatch(path, f"expected number, got {_describe(value)}")
        return value
    if tp is int and isinstance(value, float) and value.is_integer():
        return value
    names = {str: "string", int: "integer", bool: "boolean"}
    if tp not in names:
        raise TypeError(f"{tp!r} is not a JSON type rla decodes")
    if type(value) is not tp:
        raise Mismatch(path, f"expected {names[tp]}, got {_describe(value)}")
    return value


def _dataclass(cls: type, value: dict[str, Any], path: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in value if k not in fields]
    if unknown:
        raise Mismatch(path, f"unexpected field {unknown[0]!r}")
    kinds = hints(cls)
    decoded = {name: _decode(kinds[name], item, f"{path}.{name}") for name, item in value.items()}
    missing = [n for n, f in fields.items() if n not in value
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise Mismatch(path, f"missing required field {missing[0]!r}")
    return cls(**decoded)


def _expect(value: Any, kind: type, name: str, path: str) -> Any:
    if not isinstance(value, kind):
        raise Mismatch(path, f"expected {name}, got {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)
