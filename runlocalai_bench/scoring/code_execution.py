"""HumanEval+-style benchmarks: prompts, extraction, sandboxed execution and pass@1.

For each sample: extract the program (code_extraction.py); run it in the sandbox on the base
inputs and, if all pass, on the plus inputs; compare every return value here, in the harness,
with the canonical solution's (EvalPlus's rules, in `outputs_match`); pass means base and plus.
Expected values come from running the canonical solution in the same sandbox once per machine;
they are cached (with each input's time, from which the time limits derive) under
`<cache>/humanevalplus/`. The comparison functions are pure; the Eval holds the sandbox, the
cache and the per-task locks, and `score` is safe to call from many threads at once.
"""

from __future__ import annotations

import array
import base64
import binascii
import gzip
import hashlib
import json
import math
import os
import platform
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from runlocalai_bench import paths
from runlocalai_bench.datasets import humanevalplus
from runlocalai_bench.errors import ConfigError, DataError
from runlocalai_bench.evals import TaskSpec
from runlocalai_bench.scoring import metrics
from runlocalai_bench.scoring.code_extraction import extract_program
from runlocalai_bench.scoring.sandbox import (
    Frame,
    Isolation,
    Job,
    JobEnd,
    Sandbox,
    SandboxLimits,
)
from runlocalai_bench.types import (
    CodeItem,
    Dataset,
    DataSource,
    Generation,
    Item,
    Message,
    Prompt,
    PromptStyle,
    Results,
    SampleResult,
    SubtaskScore,
)

# Bumped whenever the wire encoding or the reference file layout changes.
REFERENCE_FORMAT = 3
SETS = ("base", "plus")


# ---------------------------------------------------------------------------------------------
# The methodology, as read from the spec


@dataclass(frozen=True)
class CodeSettings:
    completion_template: str
    chat_template: str
    chat_instruction: str
    stop: tuple[str, ...]
    max_tokens: int
    keep_prompt_imports: bool
    time_limit_floor_s: float
    time_limit_factor: float
    task_timeout_s: float
    task_timeout_grace_s: float
    float_atol: float
    rtol: float
    special_oracles: Mapping[str, str]
    reference_input_timeout_s: float
    reference_total_timeout_s: float
    limits: SandboxLimits = field(default_factory=SandboxLimits)

    @classmethod
    def from_spec(cls, spec: TaskSpec) -> CodeSettings:
        prompt, scoring = spec.data.get("prompt", {}), spec.data.get("scoring", {})
        try:
            oracles = dict(scoring.get("special_oracles", {}))
            unknown = sorted(set(oracles.values()) - set(ORACLES))
            if unknown:
                raise ConfigError(f"{spec.path}: unknown special oracle {unknown[0]!r}",
                                  hint=f"known: {', '.join(ORACLES)}")
            return cls(
                completion_template=str(prompt["completion"]),
                chat_template=str(prompt["chat"]),
                chat_instruction=str(prompt["chat_instruction"]),
                stop=tuple(prompt["stop"]),
                max_tokens=int(scoring["max_tokens"]),
                keep_prompt_imports=bool(scoring["chat_keep_prompt_imports"]),
                time_limit_floor_s=float(scoring["time_limit_floor_s"]),
                time_limit_factor=float(scoring["time_limit_factor"]),
                task_timeout_s=float(scoring["task_timeout_s"]),
                task_timeout_grace_s=float(scoring["task_timeout_grace_s"]),
                float_atol=float(scoring["float_atol"]),
                rtol=float(scoring["rtol"]),
                special_oracles=oracles,
                reference_input_timeout_s=float(scoring["reference_input_timeout_s"]),
                reference_total_timeout_s=float(scoring["reference_total_timeout_s"]),
                limits=SandboxLimits(**{key: int(value)
                                        for key, value in spec.data.get("sandbox", {}).items()}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{spec.path}: bad or missing setting ({exc})",
                              hint="compare it with tasks/humaneval-plus.toml") from exc

    def time_limits(self, reference_times: Sequence[float]) -> tuple[float, ...]:
        return tuple(max(self.time_limit_floor_s, self.time_limit_factor * t)
                     for t in reference_times)

    def total_timeout(self, limits: Sequence[float]) -> float:
        return min(self.task_timeout_s, math.fsum(limits)) + self.task_timeout_grace_s


# ---------------------------------------------------------------------------------------------
# Comparing values (pure): EvalPlus's rules, applied to decoded values


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


def decode_value(payload: bytes) -> Any:
    """A value from its wire form (see sandbox.encode_value); garbage decodes to Opaque."""
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


# ---------------------------------------------------------------------------------------------
# Expected outputs: computed once per machine by running the canonical solution


@dataclass(frozen=True)
class Reference:
    """The canonical solution's results on one input set, as cached."""

    path: Path
    times: tuple[float, ...]
    first_float: int | None  # the first input whose expected output is_floats
    isolation: str
    nan: frozenset[int] = frozenset()  # inputs whose expected output holds a NaN

    @property
    def n(self) -> int:
        return len(self.times)


def inputs_of(item: CodeItem, which: str) -> tuple[Any, ...]:
    return item.base_input if which == "base" else item.plus_input


def reference_key(item: CodeItem, which: str) -> str:
    blob = json.dumps([item.id, item.prompt, item.canonical_solution, item.entry_point,
                       list(inputs_of(item, which))], separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def reference_dir(root: Path) -> Path:
    version = f"v{REFERENCE_FORMAT}-py{sys.version_info.major}{sys.version_info.minor}"
    return root / "humanevalplus" / f"expected-{version}-{platform.machine()}"


def payload_traits(payload: bytes, want_floats: bool) -> tuple[bool, bool, bool]:
    """(is_floats, has_nan, opaque) of an encoded value, decoding it only when the bytes leave
    the answer open: packed number lists are checked as doubles, and text without "NaN" or an
    opaque tag holds neither (a string can be neither floats nor NaN)."""
    if payload.startswith(b'{"~":"n"'):
        flags, data = json.loads(payload)["v"]
        doubles = array.array("d")
        doubles.frombytes(base64.b64decode(data))
        try:
            nan = math.isnan(math.fsum(doubles))  # a cheap first look, confirmed below
        except (OverflowError, ValueError):  # inf - inf
            nan = True
        return not flags and len(doubles) > 0, nan and any(v != v for v in doubles), False
    if b"NaN" not in payload and b'"~":"o"' not in payload and (
            not want_floats or payload.startswith(b'"')):
        return False, False, False
    value = decode_value(payload)
    return is_floats(value), has_nan(value), isinstance(value, Opaque)


class _ReferenceWriter:
    """Consumes the canonical run's frames into a reference file."""

    def __init__(self, fh: IO[bytes], n: int) -> None:
        self.fh = fh
        self.n = n
        self.times: list[float] = []
        self.first_float: int | None = None
        self.nan: list[int] = []
        self.failure: str | None = None
        self.done = False

    def on_frame(self, frame: Frame) -> bool:
        if frame.kind == "output":
            floats, nan, opaque = payload_traits(frame.payload, self.first_float is None)
            if opaque:
                self.failure = f"input {frame.index}: the canonical output cannot be compared"
                return False
            if self.first_float is None and floats:
                self.first_float = frame.index
            if nan:
                self.nan.append(frame.index)
            self.fh.write(frame.payload + b"\n")
            self.times.append(frame.seconds)
        elif frame.kind in ("load_error", "raised"):
            where = "loading" if frame.kind == "load_error" else f"input {frame.index}"
            self.failure = f"{where}: {frame.payload.decode('utf-8', 'replace')}"
        elif frame.kind == "done":
            self.done = len(self.times) == self.n
        return True


# ---------------------------------------------------------------------------------------------
# One input set of one sample


@dataclass(frozen=True)
class SetVerdict:
    name: str  # base | plus
    status: str  # pass | fail | timeout
    n: int
    passed: int  # inputs that matched, in order, before the first failure
    first_failure: int | None = None
    reason: str | None = None
    seconds: float = 0.0


class _Checker:
    """Compares a job's frames with the reference, input by input, as they arrive."""

    def __init__(self, item: CodeItem, reference: Reference, lines: Iterator[bytes],
                 settings: CodeSettings) -> None:
        self.item = item
        self.reference = reference
        self.lines = lines
        self.settings = settings
        self.oracle = settings.special_oracles.get(item.id)
        self.passed = 0
        self.failure: tuple[int | None, str] | None = None
        self.done = False
        self._pending: bytes = b""

    def _atol(self, index: int) -> float:
        if self.item.atol:
            return self.item.atol
        first = self.reference.first_float
        return self.settings.float_atol if first is not None and index >= first else 0.0

    def _fail(self, index: int | None, reason: str) -> bool:
        self.failure = (index, reason)
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
            expected = next(self.lines).rstrip(b"\n")
            if self.oracle is not None:
                self._pending = frame.payload
                return True
            if frame.payload == expected and frame.index not in self.reference.nan:
                self.passed += 1
                return True
            if outputs_match(decode_value(frame.payload), decode_value(expected),
                             self._atol(frame.index), self.settings.rtol):
                self.passed += 1
                return True
            return self._fail(frame.index, "wrong output")
        # kind == "args": the special oracle's turn
        if poly_root_ok(decode_value(frame.payload), decode_value(self._pending),
                        self.item.atol):
            self.passed += 1
            return True
        return self._fail(frame.index, "not a root within atol")

    def verdict(self, name: str, end: JobEnd) -> SetVerdict:
        n = self.reference.n
        if self.done and self.passed == n and self.failure is None:
            return SetVerdict(name, "pass", n, n, seconds=end.elapsed)
        if self.failure is not None:
            index, reason = self.failure
            return SetVerdict(name, "fail", n, self.passed, index, reason, end.elapsed)
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


def _short_repr(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


# ---------------------------------------------------------------------------------------------
# The Eval


class CodeExecutionEval:
    """The `code_execution` kind (see runlocalai_bench/evals.py for the protocol)."""

    def __init__(self, spec: TaskSpec, *, sandbox: Sandbox | None = None,
                 cache_dir: Path | None = None, workers: int | None = None) -> None:
        self.spec = spec
        self.settings = CodeSettings.from_spec(spec)
        self.release = humanevalplus.Release.from_spec(spec.slug, spec.data.get("dataset", {}))
        self._cache_root = cache_dir
        self._sandbox = sandbox
        self._own_sandbox = sandbox is None
        self._workers = workers
        self._lock = threading.Lock()
        self._reference_locks: dict[str, threading.Lock] = {}
        self._references: dict[str, Reference] = {}
        self._reference_seconds: dict[str, float] = {}
        # Per item object and input set: (the item, its inputs as JSON, its reference key).
        self._item_cache: dict[tuple[int, str], tuple[CodeItem, str, str]] = {}

    # -- protocol ----------------------------------------------------------------------------

    def load(self, source: DataSource) -> Dataset:
        return humanevalplus.load(self.release, source, self.cache_root / "datasets")

    def build_prompt(self, item: Item, dataset: Dataset, style: PromptStyle) -> Prompt:
        item = _code_item(item)
        s = self.settings
        if style == "chat":
            text = s.chat_template.format(instruction=s.chat_instruction,
                                          prompt=item.prompt.strip())
            return Prompt(messages=(Message("user", text),), max_tokens=s.max_tokens)
        return Prompt(text=s.completion_template.format(prompt=item.prompt), stop=s.stop,
                      max_tokens=s.max_tokens)

    def reference_generation(self, item: Item, prompt: Prompt) -> Generation:
        item = _code_item(item)
        if prompt.style == "chat":
            text = f"```python\n{item.prompt}{item.canonical_solution}\n```\n"
        else:
            text = item.canonical_solution
        return Generation(text=text, finish_reason="stop")

    def score(self, item: Item, prompt: Prompt, generation: Generation) -> SampleResult:
        item = _code_item(item)
        extraction = extract_program(
            generation.text, prompt=item.prompt, entry_point=item.entry_point,
            style=prompt.style, stops=self.settings.stop,
            keep_prompt_imports=self.settings.keep_prompt_imports)

        def sample(extracted: str | None, status: str, details: dict[str, Any]) -> SampleResult:
            return SampleResult(
                id=item.id, subtask=item.subtask, prompt=prompt.rendered(),
                response=generation.text, target=item.entry_point, extracted=extracted,
                score=1.0 if status == "pass" else 0.0, status=status, details=details,
                latency_ms=generation.latency_ms, server_timings=generation.server_timings)

        if extraction.code is None:
            return sample(None, "unparsed", {"base": None, "plus": None,
                                             "extraction": extraction.method,
                                             "reason": extraction.reason})
        verdicts = self.check(item, extraction.code)
        passed = len(verdicts) == 2 and all(v.status == "pass" for v in verdicts)
        details: dict[str, Any] = {
            "base": verdicts[0].status,
            "plus": verdicts[1].status if len(verdicts) == 2 else None,
            "extraction": extraction.method,
            "trimmed": extraction.trimmed,
            "isolation": self.isolation().level,
            "seconds": round(sum(v.seconds for v in verdicts), 4),
        }
        failed = next((v for v in verdicts if v.status != "pass"), None)
        if failed is not None:
            inputs = inputs_of(item, failed.name)
            index = failed.first_failure
            shown = index is not None and 0 <= index < len(inputs)
            details["first_failure"] = {
                "set": failed.name, "index": index, "reason": failed.reason,
                "input": _short_repr(inputs[index]) if shown and index is not None else None,
            }
        return sample(extraction.code, "pass" if passed else "fail", details)

    def aggregate(self, samples: Sequence[SampleResult], expected_n: int) -> Results:
        return aggregate_pass_at_1(samples, expected_n, slug=self.spec.slug,
                                   metric=str(self.spec.data.get("metric", "pass@1")))

    def describe(self) -> list[str]:
        """The sandbox the model's code runs in, and its time limit: the public log says how
        every verdict was reached (each sample also records its isolation level)."""
        return [f"scoring    execution, sandbox {self.isolation().summary()}; time limit"
                f" max({self.settings.time_limit_floor_s:g} s,"
                f" {self.settings.time_limit_factor:g} × the reference solution's time)"]

    def close(self) -> None:
        with self._lock:
            sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None and self._own_sandbox:
            sandbox.close()

    # -- beyond the protocol -----------------------------------------------------------------

    @property
    def cache_root(self) -> Path:
        return self._cache_root or paths.cache_home()

    def sandbox(self) -> Sandbox:
        with self._lock:
            if self._sandbox is None:
                self._sandbox = Sandbox(workers=self._workers, limits=self.settings.limits)
            return self._sandbox

    def isolation(self) -> Isolation:
        return self.sandbox().isolation()

    def provenance(self) -> dict[str, Any]:
        """What a record should carry about how code was run on this machine."""
        isolation = self.isolation()
        with self._lock:
            seconds = dict(self._reference_seconds)
        return {
            "isolation": {"level": isolation.level, "mechanisms": list(isolation.mechanisms),
                          "notes": list(isolation.notes)},
            "reference_seconds": {key: round(value, 4) for key, value in sorted(seconds.items())},
            "time_limit_floor_s": self.settings.time_limit_floor_s,
            "time_limit_factor": self.settings.time_limit_factor,
        }

    def check(self, item: CodeItem, code: str) -> list[SetVerdict]:
        """Run `code` on the base inputs and, if they all pass, on the plus inputs."""
        verdicts = [self._check_set(item, code, "base")]
        if verdicts[0].status == "pass":
            verdicts.append(self._check_set(item, code, "plus"))
        return verdicts

    def reference(self, item: CodeItem, which: str) -> Reference:
        """The cached canonical results for one input set, computing them when missing."""
        key = self._prepared(item, which)[1]
        with self._lock:
            if key in self._references:
                return self._references[key]
            lock = self._reference_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._references:
                    return self._references[key]
            path = reference_dir(self.cache_root) / f"{key}.jsonl.gz"
            reference = _read_reference(path) if path.is_file() else None
            if reference is None:
                reference = self._compute_reference(item, which, path)
            with self._lock:
                self._references[key] = reference
                self._reference_seconds[f"{item.id}/{which}"] = math.fsum(reference.times)
            return reference

    # -- internals ---------------------------------------------------------------------------

    def _prepared(self, item: CodeItem, which: str) -> tuple[str, str]:
        """The inputs as JSON and the reference key, computed once per item object."""
        cached = self._item_cache.get((id(item), which))
        if cached is None or cached[0] is not item:
            cached = (item, json.dumps(list(inputs_of(item, which))),
                      f"{reference_key(item, which)}-{which}")
            self._item_cache[(id(item), which)] = cached
        return cached[1], cached[2]

    def _check_set(self, item: CodeItem, code: str, which: str) -> SetVerdict:
        reference = self.reference(item, which)
        limits = self.settings.time_limits(reference.times)
        job = Job(code=code, entry_point=item.entry_point,
                  inputs_json=self._prepared(item, which)[0], n_inputs=reference.n,
                  time_limits=limits,
                  total_timeout=self.settings.total_timeout(limits),
                  send_args=item.id in self.settings.special_oracles)
        with gzip.open(reference.path, "rb") as fh:
            fh.readline()  # the header
            checker = _Checker(item, reference, iter(fh), self.settings)
            end = self.sandbox().run(job, checker.on_frame)
        return checker.verdict(which, end)

    def _compute_reference(self, item: CodeItem, which: str, path: Path) -> Reference:
        n = len(inputs_of(item, which))
        s = self.settings
        job = Job(code=item.prompt + item.canonical_solution, entry_point=item.entry_point,
                  inputs_json=self._prepared(item, which)[0], n_inputs=n,
                  time_limits=(s.reference_input_timeout_s,) * n,
                  total_timeout=s.reference_total_timeout_s)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".part", dir=path.parent)
        isolation = self.isolation().level
        try:
            with os.fdopen(fd, "wb") as raw, tempfile.TemporaryFile() as body:
                writer = _ReferenceWriter(body, n)
                end = self.sandbox().run(job, writer.on_frame)
                if not writer.done or writer.failure:
                    raise DataError(
                        f"the canonical solution of {item.id} did not run in the sandbox "
                        f"({writer.failure or end.reason})",
                        hint="the sandbox may be too restrictive here; "
                             f"isolation: {self.isolation().summary()}")
                header = {"format": REFERENCE_FORMAT, "task": item.id, "set": which,
                          "times": writer.times, "first_float": writer.first_float,
                          "nan": writer.nan, "isolation": isolation,
                          "python": platform.python_version()}
                with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as gz:
                    gz.write(json.dumps(header).encode() + b"\n")
                    body.seek(0)
                    while chunk := body.read(1 << 20):
                        gz.write(chunk)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return Reference(path, tuple(writer.times), writer.first_float, isolation,
                         frozenset(writer.nan))


def _read_reference(path: Path) -> Reference | None:
    try:
        with gzip.open(path, "rb") as fh:
            header = json.loads(fh.readline())
        if header.get("format") != REFERENCE_FORMAT:
            return None
        return Reference(path, tuple(float(t) for t in header["times"]), header["first_float"],
                         str(header["isolation"]), frozenset(header["nan"]))
    except (OSError, EOFError, ValueError, KeyError, TypeError):
        return None


def _code_item(item: Item) -> CodeItem:
    if not isinstance(item, CodeItem):
        raise ConfigError(f"{item.id} is not a code task", hint="check the task spec's kind")
    return item


# ---------------------------------------------------------------------------------------------
# Aggregation


def aggregate_pass_at_1(samples: Sequence[SampleResult], expected_n: int, *, slug: str,
                        metric: str = "pass@1") -> Results:
    """pass@1 on plus (the headline: base and plus pass) and on base alone, as two subtask
    rows; counts of each status; error rows count as failures."""
    n = len(samples)
    base = sum(1 for s in samples if s.details.get("base") == "pass")
    plus = sum(1 for s in samples if s.status == "pass")
    rows = []
    for name, correct in (("base", base), ("plus", plus)):
        p = correct / n if n else 0.0
        rows.append(SubtaskScore(name=name, n=n, correct=float(correct), score=p,
                                 stderr=metrics.binomial_stderr(p, n)))
    score = rows[1].score
    low, high = metrics.wilson_interval(float(plus), n)
    counts = Counter(s.status for s in samples)
    return Results(
        slug=slug, metric=metric, score=score, stderr=rows[1].stderr, n=n, macro=score,
        subtasks=tuple(rows),
        counts={status: counts.get(status, 0)
                for status in ("pass", "fail", "unparsed", "error", *sorted(counts))},
        extra={"pass@1_base": rows[0].score, "pass@1_plus": score, "wilson_low": low,
               "wilson_high": high},
        partial=n < expected_n, expected_n=expected_n,
    )
