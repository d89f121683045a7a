"""One input set of one sample: the job's frames checked against the reference as they arrive.

The first output that differs from the expected one (by the rules in outputs.py, or the task's
special oracle) stops the job; the verdict says how far it got and why it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runlocalai_bench.scoring.code_settings import CodeSettings
from runlocalai_bench.scoring.outputs import (
    decode_value,
    outputs_match,
    poly_root_ok,
    short_repr,
)
from runlocalai_bench.scoring.reference import ExpectedOutputs, Reference
from runlocalai_bench.scoring.sandbox import Frame, JobEnd
from runlocalai_bench.types import CodeItem


@dataclass(frozen=True)
class SetVerdict:
    name: str  # base | plus
    status: str  # pass | fail | timeout
    n: int
    passed: int  # inputs that matched, in order, before the first failure
    first_failure: int | None = None
    reason: str | None = None
    seconds: float = 0.0
    expected: str | None = None  # a wrong output: the reference's value and the program's,
    got: str | None = None  # each as a short repr (outputs.short_repr)


_NONE = object()  # no value to show (None is a value a program returns)


class Checker:
    """Compares a job's frames with the reference, input by input, as they arrive."""

    def __init__(self, item: CodeItem, reference: Reference, expected: ExpectedOutputs,
                 settings: CodeSettings) -> None:
        self.item = item
        self.reference = reference
        self.expected = expected
        self.settings = settings
        self.oracle = settings.special_oracles.get(item.id)
        self.passed = 0
        self.failure: tuple[int | None, str] | None = None
        self.shown: tuple[str | None, str | None] = (None, None)  # expected, got
        self.done = False
        self._pending: bytes = b""

    def _atol(self, index: int) -> float:
        if self.item.atol:
            return self.item.atol
        first = self.reference.first_float
        return self.settings.float_atol if first is not None and index >= first else 0.0

    def _fail(self, index: int | None, reason: str, *, expected: Any = _NONE,
              got: Any = _NONE) -> bool:
        self.failure = (index, reason)
        self.shown = (None if expected is _NONE else short_repr(expected),
                      None if got is _NONE else short_repr(got))
        return False

    def on_frame(self, frame: Frame) -> bool:
        kind = frame.kind
        if kind == "loaded":
            return True
        if kind == "load_error":
            return self._fail(None, f"did not load: {_text(frame.payload)}")
        if kind == "raised":
            return self._fail(frame.index, f"raised {_text(frame.payload)}")
        if kind == "done":
            self.done = True
            return True
        if kind == "output":
            if self.oracle is not None:
                self._pending = frame.payload
                return True
            if (self.expected.same(frame.index, frame.payload)
                    and frame.index not in self.reference.nan):
                self.passed += 1
                return True
            got, want = decode_value(frame.payload), \
                decode_value(self.expected.payload(frame.index))
            if outputs_match(got, want, self._atol(frame.index), self.settings.rtol):
                self.passed += 1
                return True
            return self._fail(frame.index, "wrong output", expected=want, got=got)
        # kind == "args": the special oracle's turn
        root = decode_value(self._pending)
        if poly_root_ok(decode_value(frame.payload), root, self.item.atol):
            self.passed += 1
            return True
        return self._fail(frame.index, "not a root within atol", got=root)

    def verdict(self, name: str, end: JobEnd) -> SetVerdict:
        n = self.reference.n
        if self.done and self.passed == n and self.failure is None:
            return SetVerdict(name, "pass", n, n, seconds=end.elapsed)
        if self.failure is not None:
            index, reason = self.failure
            expected, got = self.shown
            return SetVerdict(name, "fail", n, self.passed, index, reason, end.elapsed,
                              expected=expected, got=got)
        if end.reason == "timeout":
            index = end.timed_out_index
            reason = "timed out" if index is not None else "timed out before its first input"
            return SetVerdict(name, "timeout", n, self.passed, index, reason, end.elapsed)
        reason = {
            "exited": "ended before returning all outputs",
            "output-limit": "wrote more than the output limit",
            "protocol": "garbled its output channel",
            "host-died": "the sandbox host died",
        }.get(end.reason, end.reason)
        if end.signal is not None:
            reason += f" (killed by signal {end.signal})"
        elif end.exit_code:
            reason += f" (exit code {end.exit_code})"
        return SetVerdict(name, "fail", n, self.passed, self.passed, reason, end.elapsed)


def _text(payload: bytes) -> str:
    return payload.decode("utf-8", "replace")[:300]
