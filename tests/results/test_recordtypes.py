"""The typed record (results/recordtypes.py) against the published schemas and real records."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from runlocalai_bench import schemas
from runlocalai_bench.errors import RecordError
from runlocalai_bench.results import rundir
from runlocalai_bench.results.command import requested
from runlocalai_bench.results.jsontypes import hints
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import (
    RECORD_VERSION,
    SCORED_V4_FIELDS,
    Batching,
    Record,
    Scored,
    ShardOf,
    ShardRun,
    Speed,
)
from tests.publish.conftest import bench

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runlog"


def written(record: Record) -> str:
    """The record as rundir.write_json_atomic writes it."""
    return json.dumps(record.to_json(), indent=2, ensure_ascii=False) + "\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> rundir.RunDir:
    return bench(tmp_path_factory.mktemp("typed"), "selfcheck")


def test_a_real_runs_record_round_trips_byte_for_byte(run):
    text = run.record.read_text(encoding="utf-8")
    record = Record.from_json(json.loads(text))
    assert isinstance(record.body, Scored) and not record.is_speed
    assert record.record_version == RECORD_VERSION
    assert sum(s.n for s in record.body.results.subtasks.values()) == record.body.results.n
    assert written(record) == text


def test_a_wrong_type_anywhere_names_its_path(run):
    data = json.loads(run.record.read_text(encoding="utf-8"))
    name = next(iter(data["results"]["subtasks"]))
    data["results"]["subtasks"][name]["n"] = "12"
    with pytest.raises(RecordError, match=rf"\$\.results\.subtasks\.{name}\.n: expected integer,"
                       r" got string"):
        Record.from_json(data)
    with pytest.raises(RecordError, match=r"\$: expected object, got array"):
        Record.from_json([])


def _unwrap(tp: Any) -> Any:
    """The dataclass or mapping a hint stands for (X | None, tuple[X, ...], Mapping[str, X])."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        (tp,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return _unwrap(tp)
    if origin is tuple:
        return _unwrap(typing.get_args(tp)[0])
    return tp


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        node = root["$defs"][node["$ref"].removeprefix("#/$defs/")]
    if "oneOf" in node:
        (node,) = [n for n in node["oneOf"] if n.get("type") != "null"]
        return _resolve(node, root)
    return node


def _mismatches(cls: type, node: Mapping[str, Any], root: Mapping[str, Any],
                path: str, seen: frozenset[tuple[type, int]] = frozenset()) -> list[str]:
    """Where the dataclass and the schema object name different fields, recursively (a type
    that holds itself, like a split run's prefill request, is walked once)."""
    node = _resolve(node, root)
    if (cls, id(node)) in seen:
        return []
    seen = seen | {(cls, id(node))}
    if node.get("type") == "array":
        node = _resolve(node.get("items", {}), root)
    declared = set(node.get("properties", {})) | set(node.get("required", ()))
    fields = {f.name for f in dataclasses.fields(cls)}
    out = [f"{path}.{name}: in the schema, not the type" for name in declared - fields]
    out += [f"{path}.{name}: in the type, not the schema" for name in fields - declared]
    for name in fields & declared:
        inner = _unwrap(hints(cls)[name])
        sub = node.get("properties", {}).get(name)
        if dataclasses.is_dataclass(inner) and sub is not None:
            out += _mismatches(inner, sub, root, f"{path}.{name}", seen)
        elif typing.get_origin(inner) is Mapping and sub is not None:
            values = _resolve(sub, root).get("additionalProperties")
            item = _unwrap(typing.get_args(inner)[1])
            if dataclasses.is_dataclass(item) and isinstance(values, Mapping):
                out += _mismatches(item, values, root, f"{path}.{name}.*", seen)
    return out


@pytest.mark.parametrize("name, section", [(schemas.RECORD, Scored),
                                           (schemas.SPEED_RECORD, Speed),
                                           ("record-v3", Scored), ("speed-record-v2", Speed),
                                           ("record-v2", Scored), ("speed-record-v1", Speed)])
def test_every_schema_property_is_a_field_and_every_field_a_property(name, section):
    """Version 2 schemas are the same but for `request`, version 3 for a scored run's `shard`
    and `shards` (None in the type, absent on disk)."""
    schema = schemas.load_schema(name)
    version = schema["properties"]["record_version"]["const"]
    envelope = {f.name for f in dataclasses.fields(Record)} - {"body"}
    if version < 3:
        envelope -= {"request"}
    body = [f for f in dataclasses.fields(section)
            if version >= 4 or f.name not in SCORED_V4_FIELDS]
    assert envelope | {f.name for f in body} == set(schema["required"])
    assert set(schema["properties"]) == set(schema["required"])
    problems = []
    for name in sorted(envelope):
        problems += _envelope_field(name, schema)
    for field in body:
        problems += _typed(hints(section)[field.name], schema["properties"][field.name],
                           schema, f"$.{field.name}")
    if section is Scored and version >= 4:  # inside `oneOf`s the walk above does not enter
        problems += _mismatches(ShardOf, schema["$defs"]["shard"], schema, "$.shard")
        problems += _mismatches(ShardRun, schema["$defs"]["shard_run"], schema, "$.shards[]")
        problems += _mismatches(Batching, schema["$defs"]["batching"], schema, "$.batching")
    assert problems == []


def _envelope_field(name: str, schema: Mapping[str, Any]) -> list[str]:
    return _typed(hints(Record)[name], schema["properties"][name], schema, f"$.{name}")


def _typed(tp: Any, node: Mapping[str, Any], root: Mapping[str, Any], path: str) -> list[str]:
    inner = _unwrap(tp)
    if dataclasses.is_dataclass(inner):
        return _mismatches(inner, node, root, path)
    return []


@pytest.mark.parametrize("kind", ["scored", "speed"])
def test_a_version_2_record_is_still_read_byte_for_byte_and_reproducible(kind):
    """Records rla wrote before `request` (tests/fixtures/runlog): typed, written back unchanged,
    valid under their own schema, and their reproduction command still gives the request."""
    path = FIXTURES / kind / "record.json"
    text = path.read_text(encoding="utf-8")
    record = load_record(path)
    assert record.record_version == 2 and record.request is None
    assert record.schema == ("speed-record-v1" if kind == "speed" else "record-v2")
    assert written(record) == text
    assert schemas.validate(record.to_json(), schemas.load_schema(record.schema)) == []
    slug, flags = requested(record)
    assert slug == record.benchmark.slug and flags["n_ctx"] is None  # an endpoint run
    # a speed command names no --concurrency (speed runs are batch 1)
    assert flags["concurrency"] == (None if kind == "speed" else record.runtime.concurrency)


def test_the_request_is_read_as_typed_values_not_from_the_command(run):
    record = load_record(run.record)
    assert record.request is not None
    tampered = dataclasses.replace(record, command=dataclasses.replace(
        record.command, reproduce="rla bench mmlu --limit 3"))
    assert requested(tampered) == ("selfcheck", {"limit": None, "limit_per_subtask": None,
                                                 "concurrency": 1, "n_ctx": None})
    old = dataclasses.replace(record, record_version=2, request=None)
    assert requested(old) == requested(record)
    assert "request" not in old.to_json() and old.schema == "record-v2"


def test_a_version_3_record_is_still_read_and_a_version_4_one_needs_shard_and_shards(run,
                                                                                     tmp_path):
    """Version 3 (before `shard`, `shards`, `endpoints` and `batching`) reads and writes back
    without them; a version 4 record without any one of them is refused, naming it."""
    data = json.loads(run.record.read_text(encoding="utf-8"))
    assert data["shard"] is None and data["shards"] is None
    assert data["endpoints"] == [data["runtime"]["endpoint"]]  # one endpoint, one slot
    assert data["batching"] == {"batched": False, "slots": 1, "concurrency": 1, "in_flight": 1}
    old = {k: v for k, v in data.items() if k not in SCORED_V4_FIELDS} | {"record_version": 3}
    (tmp_path / "v3").mkdir()
    text = json.dumps(old, indent=2, ensure_ascii=False) + "\n"
    (tmp_path / "v3" / "record.json").write_text(text, encoding="utf-8")
    record = load_record(tmp_path / "v3" / "record.json")
    assert record.schema == "record-v3" and written(record) == text
    assert schemas.validate(record.to_json(), schemas.load_schema("record-v3")) == []
    for name in SCORED_V4_FIELDS:
        edited = {k: v for k, v in data.items() if k != name}
        with pytest.raises(RecordError, match=f"missing required field '{name}'"):
            Record.from_json(edited)
