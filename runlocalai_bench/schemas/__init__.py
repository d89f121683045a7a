"""rla's versioned JSON Schemas and a small validator for the part of JSON Schema they use.

    record-v2.json             record.json of a scored run (multiple choice, code execution)
    speed-record-v1.json       record.json of a `rla bench speed` run (benchmark.kind "speed")
    submission-v1.json         the payload `rla submit` sends for a scored run
    speed-submission-v1.json   the payload `rla submit` sends for a speed run (a hardware row)

A record or payload names its own schema: `record_schema(record)` and `submission_schema(payload)`
read the kind it carries.
`rla schema NAME` prints one. The validator covers exactly the keywords these files use (type,
enum, const, properties, required, additionalProperties, items, minItems, minimum, maximum,
minLength, maxLength, pattern, $ref to "#/$defs/…", oneOf, $defs); a schema using any other
keyword is refused rather than silently half-checked, so the files cannot drift into
keywords nobody enforces.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from runlocalai_bench.errors import ConfigError

RECORD = "record-v2"
SUBMISSION = "submission-v1"
SPEED_RECORD = "speed-record-v1"
SPEED_SUBMISSION = "speed-submission-v1"
SPEED_KIND = "speed"

_ANNOTATIONS = {"$schema", "$id", "title", "description", "$comment", "examples", "default",
                "format", "deprecated"}
_KEYWORDS = {"type", "enum", "const", "properties", "required", "additionalProperties", "items",
             "minItems", "minimum", "maximum", "minLength", "maxLength", "pattern", "$ref",
             "oneOf", "$defs"}
_TYPES: Mapping[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float), "null": (type(None),),
}


def record_schema(record: Any) -> str:
    """The schema a record.json is checked against: by its benchmark's kind."""
    bench = record.get("benchmark") if isinstance(record, Mapping) else None
    kind = bench.get("kind") if isinstance(bench, Mapping) else None
    return SPEED_RECORD if kind == SPEED_KIND else RECORD


def submission_schema(payload: Any) -> str:
    """The schema a submission payload is checked against: by its `kind`."""
    kind = payload.get("kind") if isinstance(payload, Mapping) else None
    return SPEED_SUBMISSION if kind == SPEED_KIND else SUBMISSION


def schema_names() -> list[str]:
    files = resources.files(__package__)
    return sorted(p.name.removesuffix(".json") for p in files.iterdir()
                  if p.name.endswith(".json"))


@cache
def load_schema(name: str) -> dict[str, Any]:
    if name not in schema_names():
        raise ConfigError(f"no schema named {name!r}", hint=f"known: {', '.join(schema_names())}")
    text = resources.files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    _check_keywords(schema, "#")
    return schema


def schema_text(name: str) -> str:
    load_schema(name)  # refuse unknown names and unsupported keywords
    return resources.files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8")


def validate(instance: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every violation as `path: problem`; an empty list means the instance is valid."""
    errors: list[str] = []
    _validate(instance, schema, schema, "$", errors)
    return errors


def _check_keywords(node: Any, where: str) -> None:
    if not isinstance(node, Mapping):
        return
    unknown = set(node) - _KEYWORDS - _ANNOTATIONS
    if unknown:
        raise ConfigError(f"schema keyword(s) {sorted(unknown)} at {where} are not supported",
                          hint="extend runlocalai_bench/schemas/__init__.py with a test first")
    for key in ("properties", "$defs"):
        for name, sub in (node.get(key) or {}).items():
            _check_keywords(sub, f"{where}/{key}/{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), Mapping):
            _check_keywords(node[key], f"{where}/{key}")
    for i, sub in enumerate(node.get("oneOf") or ()):
        _check_keywords(sub, f"{where}/oneOf/{i}")


def _is_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[name])


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if not ref.startswith("#/"):
        raise ConfigError(f"schema $ref {ref!r} is not local", hint="use #/$defs/NAME")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node  # type: ignore[no-any-return]


def _validate(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any], path: str,
              errors: list[str]) -> None:
    if "$ref" in schema:
        _validate(value, _resolve(schema["$ref"], root), root, path, errors)
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, n) for n in names):
            errors.append(f"{path}: expected {' or '.join(names)}, got {_describe(value)}")
            return
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']!r}")
    if "oneOf" in schema:
        matches = [s for s in schema["oneOf"] if not _validate_sub(value, s, root, path)]
        if len(matches) != 1:
            errors.append(f"{path}: matches {len(matches)} of the allowed shapes, not exactly 1")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{path}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: longer than {schema['maxLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {schema['pattern']!r}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value} is below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value} is above {schema['maximum']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path}: fewer than {schema['minItems']} items")
        if isinstance(schema.get("items"), Mapping):
            for i, item in enumerate(value):
                _validate(item, schema["items"], root, f"{path}[{i}]", errors)
    if isinstance(value, dict):
        props: Mapping[str, Any] = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in value:
                errors.append(f"{path}: missing required field {key!r}")
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                _validate(item, props[key], root, f"{path}.{key}", errors)
            elif extra is False:
                errors.append(f"{path}: unexpected field {key!r}")
            elif isinstance(extra, Mapping):
                _validate(item, extra, root, f"{path}.{key}", errors)


def _validate_sub(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any],
                 path: str) -> list[str]:
    errors: list[str] = []
    _validate(value, schema, root, path, errors)
    return errors


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)
