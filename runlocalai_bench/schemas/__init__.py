"""rla's versioned JSON Schemas, checked with `jsonschema` (Draft 2020-12).

    record-v4.json             record.json of a scored run (multiple choice, code execution)
    speed-record-v3.json       record.json of a `rla bench speed` run (benchmark.kind "speed")
    record-v3.json, speed-record-v2.json   the same before `shard`, `shards`, `endpoints` and
                               `batching` (record_version 3): still read, verified and
                               reproduced
    record-v2.json, speed-record-v1.json   the same before `request` (record_version 2): still
                               read, verified and reproduced
    submission-v2.json         the payload `rla submit` sends for a scored run, built from the
                               run's Gist (evidence.files: the sha256 of every file in it)
    speed-submission-v2.json   the payload `rla submit` sends for a speed run (a hardware row)
    submission-v1.json, speed-submission-v1.json   the same before evidence.files, built from
                               the local record: still read

A record or payload names its own schema: `record_schema(record)` reads the kind and the
record_version it carries, `submission_schema(payload)` the kind and the schema_version.
`rla schema NAME` prints one. `validate` reports each violation as `<JSON path>: <reason>`
(`$.model: missing required field 'quantization'`), in rla's words rather than jsonschema's
reprs, so a finding in `rla verify` or a refused submission reads the same as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import SchemaError

from runlocalai_bench.errors import ConfigError

RECORD = "record-v4"
SUBMISSION = "submission-v2"
SPEED_RECORD = "speed-record-v3"
SPEED_SUBMISSION = "speed-submission-v2"
SPEED_KIND = "speed"
# record_version → (scored schema, speed schema); the newest is what rla writes.
RECORD_SCHEMAS = {2: ("record-v2", "speed-record-v1"), 3: ("record-v3", "speed-record-v2"),
                  4: (RECORD, SPEED_RECORD)}
# schema_version → (scored schema, speed schema); the newest is what rla sends.
SUBMISSION_SCHEMAS = {1: ("submission-v1", "speed-submission-v1"),
                      2: (SUBMISSION, SPEED_SUBMISSION)}


def record_schema(record: Any) -> str:
    """The schema a record.json is checked against: by its benchmark's kind and its version
    (the newest when it names none this rla knows)."""
    version = record.get("record_version") if isinstance(record, Mapping) else None
    scored, speed = RECORD_SCHEMAS.get(version if isinstance(version, int) else 0,
                                       RECORD_SCHEMAS[max(RECORD_SCHEMAS)])
    return speed if is_speed_record(record) else scored


def is_speed_record(record: Any) -> bool:
    bench = record.get("benchmark") if isinstance(record, Mapping) else None
    return isinstance(bench, Mapping) and bench.get("kind") == SPEED_KIND


def submission_schema(payload: Any) -> str:
    """The schema a submission payload is checked against: by its `kind` and its
    schema_version (the newest when it names none this rla knows)."""
    kind = payload.get("kind") if isinstance(payload, Mapping) else None
    version = payload.get("schema_version") if isinstance(payload, Mapping) else None
    scored, speed = SUBMISSION_SCHEMAS.get(version if isinstance(version, int) else 0,
                                           SUBMISSION_SCHEMAS[max(SUBMISSION_SCHEMAS)])
    return speed if kind == SPEED_KIND else scored


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
    check_schema(schema, name)
    return schema


def schema_text(name: str) -> str:
    load_schema(name)  # refuse unknown names and schemas that are not valid JSON Schema
    return resources.files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8")


def check_schema(schema: Mapping[str, Any], name: str = "schema") -> None:
    """Refuse a schema that is not valid Draft 2020-12 JSON Schema (a typo'd keyword's value)."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "#/" + "/".join(map(str, exc.absolute_path))
        raise ConfigError(f"{name} is not valid JSON Schema: {where}: {exc.message}",
                          hint="fix the schema file; `rla schema NAME` prints it") from exc


def validate(instance: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every violation as `path: problem`; an empty list means the instance is valid."""
    validator = Draft202012Validator(schema)
    return [f"{_path(error.absolute_path)}: {problem}"
            for error in validator.iter_errors(instance)
            for problem in _problems(error, validator)]


def _path(parts: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _problems(error: ValidationError, validator: Draft202012Validator) -> Iterator[str]:
    """rla's wording of one jsonschema error (additionalProperties names each field)."""
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "required":
        missing = [k for k in expected if isinstance(value, Mapping) and k not in value]
        yield from (f"missing required field {k!r}" for k in missing)
    elif kind == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        yield from (f"unexpected field {k!r}" for k in value if k not in known)
    elif kind == "type":
        names = expected if isinstance(expected, list) else [expected]
        yield f"expected {' or '.join(names)}, got {_describe(value)}"
    elif kind == "const":
        yield f"must be {expected!r}"
    elif kind == "enum":
        yield f"{value!r} is not one of {expected!r}"
    elif kind == "oneOf":
        matches = sum(validator.evolve(schema=sub).is_valid(value) for sub in expected)
        yield f"matches {matches} of the allowed shapes, not exactly 1"
    else:
        yield _WORDING.get(kind, "{message}").format(expected=expected, value=value,
                                                     message=error.message)


_WORDING = {
    "minLength": "shorter than {expected} characters",
    "maxLength": "longer than {expected} characters",
    "pattern": "{value!r} does not match {expected!r}",
    "minimum": "{value} is below {expected}",
    "maximum": "{value} is above {expected}",
    "minItems": "fewer than {expected} items",
}


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)
