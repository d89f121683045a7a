"""jsonio's depth limit at its edges: texts with few brackets skip the closer look, which must
not change what is refused."""

from __future__ import annotations

import pytest

from runlocalai_bench import jsonio
from runlocalai_bench.errors import RecordError


def test_nesting_at_the_limit_is_read_one_past_it_refused():
    assert jsonio.loads("[" * 64 + "]" * 64, "x") is not None
    with pytest.raises(RecordError, match="nests 65 levels deep, over the 64 rla reads"):
        jsonio.loads("[" * 65 + "]" * 65, "x")


def test_many_brackets_nesting_shallowly_are_read():
    many = "[" + ",".join(["[1]"] * 200) + "]"  # 201 opening brackets, 2 levels
    assert len(jsonio.loads(many, "x")) == 200
    quoted = '{"a": "' + "[{" * 100 + '"}'  # brackets in a string do not nest
    assert jsonio.loads(quoted, "x") == {"a": "[{" * 100}


def test_depth_counts_objects_and_arrays_alike():
    deep = '{"a":' * 40 + "[" * 25 + "]" * 25 + "}" * 40
    with pytest.raises(RecordError, match="nests 65 levels deep"):
        jsonio.loads(deep, "x")
