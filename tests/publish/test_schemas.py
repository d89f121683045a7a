"""The schema validator's messages on the keywords rla's schemas use, and the schema files
themselves."""

from __future__ import annotations

import copy
import json
from importlib import resources

import pytest

from runlocalai_bench import schemas
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.publish.payload import SUBMISSION_VERSION
from runlocalai_bench.results.recordtypes import (
    READABLE_VERSIONS,
    RECORD_VERSION,
    SCORED_V4_FIELDS,
)

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "n", "kind"],
    "properties": {
        "name": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
        "n": {"type": "integer", "minimum": 1, "maximum": 10},
        "ratio": {"$ref": "#/$defs/fraction"},
        "kind": {"enum": ["a", "b"]},
        "v": {"const": 2},
        "tags": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "maybe": {"type": ["string", "null"]},
        "map": {"type": "object", "additionalProperties": {"type": "integer"}},
        "shape": {"oneOf": [{"type": "null"}, {"type": "object", "required": ["x"]}]},
    },
    "$defs": {"fraction": {"type": "number", "minimum": 0, "maximum": 1}},
}


def test_a_valid_instance_has_no_errors():
    value = {"name": "abc", "n": 3, "kind": "a", "ratio": 0.5, "v": 2, "tags": ["x"],
             "maybe": None, "map": {"a": 1}, "shape": {"x": 1}}
    assert schemas.validate(value, SCHEMA) == []


@pytest.mark.parametrize(("value", "error"), [
    ({"n": 3, "kind": "a"}, "$: missing required field 'name'"),
    ({"name": "abc", "n": 3, "kind": "a", "extra": 1}, "$: unexpected field 'extra'"),
    ({"name": "a", "n": 3, "kind": "a"}, "$.name: shorter than 2 characters"),
    ({"name": "abcdef", "n": 3, "kind": "a"}, "$.name: longer than 5 characters"),
    ({"name": "ABC", "n": 3, "kind": "a"}, "$.name: 'ABC' does not match '^[a-z]+$'"),
    ({"name": "abc", "n": 0, "kind": "a"}, "$.n: 0 is below 1"),
    ({"name": "abc", "n": 11, "kind": "a"}, "$.n: 11 is above 10"),
    ({"name": "abc", "n": True, "kind": "a"}, "$.n: expected integer, got boolean"),
    ({"name": "abc", "n": 2.5, "kind": "a"}, "$.n: expected integer, got number"),
    ({"name": "abc", "n": 3, "kind": "c"}, "$.kind: 'c' is not one of ['a', 'b']"),
    ({"name": "abc", "n": 3, "kind": "a", "v": 3}, "$.v: must be 2"),
    ({"name": "abc", "n": 3, "kind": "a", "ratio": 1.5}, "$.ratio: 1.5 is above 1"),
    ({"name": "abc", "n": 3, "kind": "a", "tags": []}, "$.tags: fewer than 1 items"),
    ({"name": "abc", "n": 3, "kind": "a", "tags": [1]}, "$.tags[0]: expected string, got integer"),
    ({"name": "abc", "n": 3, "kind": "a", "maybe": 1},
     "$.maybe: expected string or null, got integer"),
    ({"name": "abc", "n": 3, "kind": "a", "map": {"k": "v"}},
     "$.map.k: expected integer, got string"),
    ({"name": "abc", "n": 3, "kind": "a", "shape": {}},
     "$.shape: matches 0 of the allowed shapes, not exactly 1"),
])
def test_each_violation_is_reported_with_its_path(value, error):
    assert error in schemas.validate(value, SCHEMA)


def test_a_schema_that_is_not_json_schema_is_refused():
    with pytest.raises(ConfigError, match=r"broken is not valid JSON Schema: #/properties/a/type:"
                       r" 'text' is not valid"):
        schemas.check_schema({"properties": {"a": {"type": "text"}}}, "broken")


def test_every_shipped_schema_is_valid_json_schema():
    for name in schemas.schema_names():
        schemas.check_schema(schemas.load_schema(name), name)


def test_the_shipped_schemas_load_and_match_the_code_versions():
    assert schemas.schema_names() == ["record-v2", "record-v3", "record-v4", "speed-record-v1",
                                      "speed-record-v2", "speed-record-v3",
                                      "speed-submission-v1",
                                      "speed-submission-v2", "submission-v1", "submission-v2"]
    for version, names in schemas.RECORD_SCHEMAS.items():
        for name in names:
            record = schemas.load_schema(name)
            assert record["properties"]["record_version"]["const"] == version
    assert schemas.RECORD_SCHEMAS[RECORD_VERSION] == (schemas.RECORD, schemas.SPEED_RECORD)
    assert sorted(schemas.RECORD_SCHEMAS) == list(READABLE_VERSIONS) == [2, 3, 4]
    # version 3 is version 2 with `request`, and nothing else
    for old, new in zip(schemas.RECORD_SCHEMAS[2], schemas.RECORD_SCHEMAS[3], strict=True):
        a, b = schemas.load_schema(old), schemas.load_schema(new)
        assert [k for k in b["required"] if k != "request"] == a["required"]
        assert {k: v for k, v in b["properties"].items()
                if k not in ("request", "record_version")} == \
            {k: v for k, v in a["properties"].items() if k != "record_version"}
    # version 4 is version 3 with `shard`, `shards`, `endpoints`, `batching` (scored runs) and
    # shard logs among the files
    v3, v4 = schemas.load_schema("record-v3"), schemas.load_schema(schemas.RECORD)
    assert {k: v for k, v in v4["$defs"].items()
            if k not in ("shard", "shard_run", "batching")} == v3["$defs"]
    assert [k for k in v4["required"] if k not in SCORED_V4_FIELDS] == v3["required"]
    files = copy.deepcopy(v4["properties"]["files"])
    assert files.pop("patternProperties") == {
        r"^shards/shard-[0-9]+\.log$": {"$ref": "#/$defs/sha256"}}
    files.pop("description")
    assert files == v3["properties"]["files"]
    assert {k: v for k, v in v4["properties"].items()
            if k not in (*SCORED_V4_FIELDS, "record_version", "files")} == \
        {k: v for k, v in v3["properties"].items() if k not in ("record_version", "files")}
    speed3, speed2 = (schemas.load_schema(n) for n in ("speed-record-v3", "speed-record-v2"))
    assert {k: v for k, v in speed3.items() if k not in ("$id", "title", "description",
                                                          "properties")} == \
        {k: v for k, v in speed2.items() if k not in ("$id", "title", "description",
                                                      "properties")}
    assert {k: v for k, v in speed3["properties"].items() if k != "record_version"} == \
        {k: v for k, v in speed2["properties"].items() if k != "record_version"}
    for name in (schemas.SUBMISSION, schemas.SPEED_SUBMISSION):
        submission = schemas.load_schema(name)
        assert submission["properties"]["schema_version"]["const"] == SUBMISSION_VERSION
    assert schemas.SUBMISSION_SCHEMAS[SUBMISSION_VERSION] == (schemas.SUBMISSION,
                                                              schemas.SPEED_SUBMISSION)
    # version 2 is version 1 with evidence.files and the optional reproduction.server_launch
    for old, new in zip(schemas.SUBMISSION_SCHEMAS[1], schemas.SUBMISSION_SCHEMAS[2],
                        strict=True):
        a, b = schemas.load_schema(old), copy.deepcopy(schemas.load_schema(new))
        assert a["properties"]["schema_version"] == {"const": 1}
        assert b["required"] == a["required"]
        launch = b["properties"]["reproduction"]["properties"].pop("server_launch")
        assert launch["type"] == "string"
        assert "server_launch" not in b["properties"]["reproduction"]["required"]
        assert {k: v for k, v in b["properties"].items()
                if k not in ("evidence", "schema_version")} == \
            {k: v for k, v in a["properties"].items() if k not in ("evidence", "schema_version")}
        ev_a, ev_b = a["properties"]["evidence"], b["properties"]["evidence"]
        assert ev_b["required"] == [*ev_a["required"], "files"]
        assert {k: v for k, v in ev_b["properties"].items() if k != "files"} == \
            ev_a["properties"]
    assert schemas.load_schema(schemas.SPEED_RECORD)["properties"]["benchmark"]["properties"][
        "kind"] == {"const": schemas.SPEED_KIND}
    assert schemas.load_schema(schemas.SPEED_SUBMISSION)["properties"]["kind"] == {
        "const": schemas.SPEED_KIND} | {"description": "A hardware row (decode and prefill"
                                                        " tok/s, TTFT)."}


@pytest.mark.parametrize("document, record_schema, submission_schema", [
    ({"benchmark": {"kind": "speed"}, "kind": "speed"}, "speed-record-v3", "speed-submission-v2"),
    ({"benchmark": {"kind": "multiple_choice"}, "kind": "quality"}, "record-v4", "submission-v2"),
    ({"record_version": 3, "benchmark": {"kind": "speed"}}, "speed-record-v2",
     "submission-v2"),
    ({"record_version": 2, "benchmark": {"kind": "speed"}}, "speed-record-v1",
     "submission-v2"),
    ({"record_version": 2, "benchmark": {"kind": "code_execution"}}, "record-v2",
     "submission-v2"),
    ({"record_version": 3}, "record-v3", "submission-v2"),
    ({"record_version": 4}, "record-v4", "submission-v2"),
    ({}, "record-v4", "submission-v2"),
    ("not a mapping", "record-v4", "submission-v2"),
    ({"schema_version": 1, "kind": "quality"}, "record-v4", "submission-v1"),
    ({"schema_version": 1, "kind": "speed"}, "record-v4", "speed-submission-v1"),
])
def test_a_document_is_checked_against_the_schema_of_its_kind(document, record_schema,
                                                               submission_schema):
    assert schemas.record_schema(document) == record_schema
    assert schemas.submission_schema(document) == submission_schema
    for name in schemas.schema_names():
        text = resources.files("runlocalai_bench.schemas").joinpath(f"{name}.json").read_text()
        assert json.loads(text)["$id"].endswith(name)


def test_unknown_schema_name():
    with pytest.raises(ConfigError, match="no schema named"):
        schemas.load_schema("record-v9")
