"""Comparing a job's return values with the expected ones: the wire form survives the trip,
garbage equals nothing, EvalPlus's comparison rules and the HumanEval/32 oracle."""

from __future__ import annotations

from typing import Any

import pytest

from runlocalai_bench.scoring._sandbox_child import encode
from runlocalai_bench.scoring.outputs import (
    Opaque,
    allclose,
    decode_value,
    has_nan,
    is_floats,
    outputs_match,
    poly_root_ok,
)
from runlocalai_bench.scoring.reference import payload_traits


@pytest.mark.parametrize("value", [
    0, -7, 2**63, -(2**200), pytest.param(10**5000, id="10**5000"), 1.5, -0.0, float("inf"),
    "text", "ü\ud800", "", None, True, [1, [2, (3,)]], (1, 2.5), {"a": 1, 2: [3]},
    {(1, 2): "k"}, {1, 2}, frozenset({3}), 1 + 2j, b"\x00\xff", bytearray(b"ab"), [1.5] * 100,
    list(range(100)), [1, 2.5] * 50, [2**60 + 1] + [1.0] * 99, [], (), {},
])
def test_values_survive_the_wire(value: Any) -> None:
    decoded = decode_value(encode(value))
    assert decoded == value
    assert type(decoded) is (bytes if isinstance(value, bytearray) else type(value))


def test_subclasses_travel_as_their_builtin_value_and_others_as_opaque() -> None:
    class LyingInt(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    class Liar:
        def __eq__(self, other: object) -> bool:
            return True

    assert decode_value(encode(LyingInt(3))) == 3
    assert decode_value(encode(LyingInt(3))) != 4
    opaque = decode_value(encode(Liar()))
    assert isinstance(opaque, Opaque) and opaque != opaque and not outputs_match(opaque, 1, 0,
                                                                                1e-7)


@pytest.mark.parametrize("payload", [
    b"", b"[", b'{"~":"d","v":[[[1],2]]}', b'{"~":"i","v":"zz"}', b'{"~":"n","v":["",":"]}',
    b'{"~":"zzz"}', b"[" * 100_000 + b"]" * 100_000, b"1" * 5000,
])
def test_garbage_decodes_to_something_equal_to_nothing(payload: bytes) -> None:
    value = decode_value(payload)
    assert isinstance(value, Opaque)
    assert not outputs_match(value, 1, 1e-6, 1e-7)


def test_outputs_match_follows_evalplus() -> None:
    assert outputs_match(1, 1.0, 0, 1e-7)  # == says so
    assert outputs_match(True, 1, 0, 1e-7)
    assert not outputs_match([1, 2], (1, 2), 1e-6, 1e-7)  # tuple is not list, even with atol
    assert not outputs_match(0.1 + 0.2, 0.3, 0, 1e-7)  # atol 0: exact
    assert outputs_match(0.1 + 0.2, 0.3, 1e-6, 1e-7)
    assert not outputs_match(1.0000001, 1, 1e-6, 1e-7)  # close, but float is not int
    assert outputs_match([1.0, 2.0000001], [1.0, 2.0], 1e-6, 1e-7)
    assert not outputs_match([1.0, 2.1], [1.0, 2.0], 1e-6, 1e-7)
    assert not outputs_match([1.0], [1.0, 2.0], 1e-6, 1e-7)
    assert not outputs_match(["a"], ["b"], 1e-6, 1e-7)  # numpy refuses strings
    assert not outputs_match(float("nan"), float("nan"), 1e-6, 1e-7)
    assert outputs_match(float("inf"), float("inf"), 1e-6, 1e-7)
    assert allclose(1e9 + 50, 1e9, 1e-6, 1e-7)  # rtol scales with the expected value


@pytest.mark.parametrize("value", [
    1.5, float("nan"), [1.0] * 100, [1.0] * 99 + [float("nan")], [1.0, float("inf")] * 40,
    [float("inf"), float("-inf")] * 40, [1, 2.0] * 50, list(range(100)), "NaN", ["x", 1.0],
    (1.0, 2.0), {"k": float("nan")}, [[float("nan")]], 3, None, [], [1e308] * 100,
])
def test_payload_traits_agree_with_decoding(value: Any) -> None:
    payload = encode(value)
    assert payload_traits(payload, True) == (is_floats(value), has_nan(value), False)
    assert payload_traits(encode(Opaque("x")), True)[2]


def test_is_floats() -> None:
    assert is_floats(1.0) and is_floats([1.0, 2.0]) and is_floats((0.5,))
    assert not is_floats(1) and not is_floats([]) and not is_floats([1.0, 2])


def test_poly_root_is_checked_like_evalplus() -> None:
    # (x - 1)(x + 2)(x - 3) = x^3 - 2x^2 - 5x + 6: coefficients from x^0 up
    coefficients = [6, -5, -2, 1]
    assert poly_root_ok([coefficients], 1.0, 1e-4)
    assert poly_root_ok([coefficients], -2.0, 1e-4)  # any root will do
    assert not poly_root_ok([coefficients], 0.0, 1e-4)
    assert not poly_root_ok([coefficients], "1", 1e-4)
    assert not poly_root_ok([coefficients], 1e308, 1e-4)
