"""Expected outputs: the canonical solution's results, computed once per machine.

The canonical solution runs in the same sandbox as the model's code, on each input set (base,
plus) of a task; its return values, in their wire form, and each input's time (from which the
time limits derive) are cached under `<cache>/humanevalplus/expected-v<format>-py<ver>-<arch>/`,
one gzipped file per task and set, named by a hash of everything that determines it. A damaged
or older file is computed again.

In that file an output longer than DIGEST_OVER bytes is a line `#<sha256 of it>`: a job's output
of the same bytes passes on its digest, without the 300 MB that a few tasks return (HumanEval/15
and /130 plus) being decompressed on every run. The outputs themselves, every one of them, go to
a second file beside it (`<key>.outputs.gz`), read only when a long output differs in its bytes
and must be compared by value (`ExpectedOutputs`).

`ReferenceCache` is safe to use from many threads at once: each reference is computed by one of
them while the others wait for it.
"""

from __future__ import annotations

import array
import base64
import gzip
import hashlib
import json
import math
import os
import platform
import sys
import tempfile
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from runlocalai_bench.errors import DataError
from runlocalai_bench.scoring.code_settings import CodeSettings
from runlocalai_bench.scoring.outputs import Opaque, decode_value, has_nan, is_floats
from runlocalai_bench.scoring.sandbox import Frame, Job, Sandbox
from runlocalai_bench.types import CodeItem

# Bumped whenever the wire encoding, the reference file layout or its key changes.
REFERENCE_FORMAT = 5
DIGEST_OVER = 256  # bytes: a longer expected output is cached inline by its sha256 alone
_DIGEST = b"#"  # no wire payload (JSON text) starts with it


@dataclass(frozen=True)
class Reference:
    """The canonical solution's results on one input set, as cached."""

    path: Path
    times: tuple[float, ...]
    first_float: int | None  # the first input whose expected output is_floats
    isolation: str
    nan: frozenset[int] = frozenset()  # inputs whose expected output holds a NaN
    outputs: Path | None = None  # every output in full, when some are inline by digest

    @property
    def n(self) -> int:
        return len(self.times)


def short_form(payload: bytes) -> bytes:
    """An expected output as its reference file's line holds it: itself, or its digest."""
    if len(payload) <= DIGEST_OVER:
        return payload
    return _DIGEST + hashlib.sha256(payload).hexdigest().encode()


class ExpectedOutputs:
    """One reference's expected outputs, for one check: the reference file's lines, read at
    once, and the full outputs, read forward from their file only when `payload` is asked for
    an output that its line holds by digest. Close it when done."""

    def __init__(self, reference: Reference) -> None:
        self.reference = reference
        try:
            lines = gzip.decompress(reference.path.read_bytes()).split(b"\n")
        except (OSError, EOFError, zlib.error) as exc:
            raise _damaged(reference.path, exc) from exc
        self.lines = lines[1:reference.n + 1]  # after the header
        if len(self.lines) != reference.n:
            raise _damaged(reference.path, "too few lines")
        self._full: gzip.GzipFile | None = None
        self._full_at = 0  # the index of the next line self._full reads

    def same(self, index: int, payload: bytes) -> bool:
        """Whether `payload` is byte for byte the expected output of input `index`."""
        line = self.lines[index]
        if not line.startswith(_DIGEST):
            return payload == line
        return len(payload) > DIGEST_OVER and short_form(payload) == line

    def payload(self, index: int) -> bytes:
        """The expected output of input `index` in full."""
        line = self.lines[index]
        if not line.startswith(_DIGEST):
            return line
        path = self.reference.outputs
        try:
            if path is None:
                raise ValueError("no outputs file")
            if self._full is None or self._full_at > index:
                self.close()
                self._full = gzip.GzipFile(path, "rb")
                self._full_at = 0
            full_file: gzip.GzipFile = self._full
            while self._full_at < index:
                full_file.readline()
                self._full_at += 1
            full = full_file.readline().rstrip(b"\n")
            self._full_at += 1
        except (OSError, EOFError, ValueError, zlib.error) as exc:
            raise _damaged(path or self.reference.path, exc) from exc
        if short_form(full) != line:
            raise _damaged(path, f"output {index} is not the one its digest names")
        return full

    def close(self) -> None:
        if self._full is not None:
            self._full.close()
            self._full = None

    def __enter__(self) -> ExpectedOutputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _damaged(path: Path, why: object) -> DataError:
    return DataError(f"the cached expected outputs {path} are damaged ({why})",
                     hint=f"delete {path.parent} and run again: rla computes them anew")


def inputs_of(item: CodeItem, which: str) -> tuple[Any, ...]:
    return item.base_input if which == "base" else item.plus_input


def reference_key(item: CodeItem, inputs_json: str) -> str:
    """A hash of everything that determines a reference: the task and its inputs (as JSON)."""
    head = json.dumps([item.id, item.prompt, item.canonical_solution, item.entry_point])
    return hashlib.sha256(f"{head}\n{inputs_json}".encode()).hexdigest()[:32]


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
        self.lines: list[bytes] = []  # short forms
        self.digests = False
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
            self.digests = self.digests or len(frame.payload) > DIGEST_OVER
            self.lines.append(short_form(frame.payload) + b"\n")
            self.times.append(frame.seconds)
        elif frame.kind in ("load_error", "raised"):
            where = "loading" if frame.kind == "load_error" else f"input {frame.index}"
            self.failure = f"{where}: {frame.payload.decode('utf-8', 'replace')}"
        elif frame.kind == "done":
            self.done = len(self.times) == self.n
        return True


def outputs_path(path: Path) -> Path:
    """The full outputs' file beside a reference file."""
    return path.with_name(path.name.removesuffix(".jsonl.gz") + ".outputs.gz")


def read_reference(path: Path) -> Reference | None:
    """A cached reference's header, or None when the file is damaged or of another format."""
    try:
        with gzip.open(path, "rb") as fh:
            header = json.loads(fh.readline())
        if header.get("format") != REFERENCE_FORMAT:
            return None
        outputs = None
        if header["outputs_size"] is not None:
            outputs = outputs_path(path)
            if outputs.stat().st_size != header["outputs_size"]:
                return None
        return Reference(path, tuple(float(t) for t in header["times"]), header["first_float"],
                         str(header["isolation"]), frozenset(header["nan"]), outputs)
    except (OSError, EOFError, ValueError, KeyError, TypeError):
        return None


class ReferenceCache:
    """The references of one machine's cache, read or computed on first use.

    `sandbox` is called for the sandbox to run canonical solutions in (the Eval's, started on
    first use)."""

    def __init__(self, root: Path, settings: CodeSettings,
                 sandbox: Callable[[], Sandbox]) -> None:
        self.root = root
        self.settings = settings
        self._sandbox = sandbox
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._references: dict[str, Reference] = {}
        self._seconds: dict[str, float] = {}
        # Per item object and input set: (the item, its inputs as JSON, its reference key).
        self._items: dict[tuple[int, str], tuple[CodeItem, str, str]] = {}

    def prepared(self, item: CodeItem, which: str) -> tuple[str, str]:
        """The inputs as JSON and the reference key, computed once per item object."""
        cached = self._items.get((id(item), which))
        if cached is None or cached[0] is not item:
            inputs_json = json.dumps(list(inputs_of(item, which)))
            cached = (item, inputs_json, f"{reference_key(item, inputs_json)}-{which}")
            self._items[(id(item), which)] = cached
        return cached[1], cached[2]

    def seconds(self) -> dict[str, float]:
        """The canonical solution's total time per `task/set` used so far."""
        with self._lock:
            return dict(self._seconds)

    def get(self, item: CodeItem, which: str) -> Reference:
        """The cached canonical results for one input set, computing them when missing."""
        key = self.prepared(item, which)[1]
        with self._lock:
            if key in self._references:
                return self._references[key]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._references:
                    return self._references[key]
            path = reference_dir(self.root) / f"{key}.jsonl.gz"
            reference = read_reference(path) if path.is_file() else None
            if reference is None:
                reference = self._compute(item, which, path)
            with self._lock:
                self._references[key] = reference
                self._seconds[f"{item.id}/{which}"] = math.fsum(reference.times)
            return reference

    def _compute(self, item: CodeItem, which: str, path: Path) -> Reference:
        n = len(inputs_of(item, which))
        s = self.settings
        job = Job(code=item.prompt + item.canonical_solution, entry_point=item.entry_point,
                  inputs_json=self.prepared(item, which)[0], n_inputs=n,
                  time_limits=(s.reference_input_timeout_s,) * n,
                  total_timeout=s.reference_total_timeout_s)
        path.parent.mkdir(parents=True, exist_ok=True)
        sandbox = self._sandbox()
        isolation = sandbox.isolation().level
        with tempfile.TemporaryFile() as body:
            writer = _ReferenceWriter(body, n)
            end = sandbox.run(job, writer.on_frame)
            if not writer.done or writer.failure:
                raise DataError(
                    f"the canonical solution of {item.id} did not run in the sandbox "
                    f"({writer.failure or end.reason})",
                    hint="the sandbox may be too restrictive here; "
                         f"isolation: {sandbox.isolation().summary()}")
            outputs = outputs_path(path) if writer.digests else None
            outputs_size = None
            if outputs is not None:
                body.seek(0)
                outputs_size = _write_gzip(outputs, body.read)
        header = {"format": REFERENCE_FORMAT, "task": item.id, "set": which,
                  "times": writer.times, "first_float": writer.first_float,
                  "nan": writer.nan, "isolation": isolation, "outputs_size": outputs_size,
                  "python": platform.python_version()}
        chunks = iter([json.dumps(header).encode() + b"\n", b"".join(writer.lines)])
        _write_gzip(path, lambda size: next(chunks, b""))
        return Reference(path, tuple(writer.times), writer.first_float, isolation,
                         frozenset(writer.nan), outputs)


def _write_gzip(path: Path, read: Callable[[int], bytes]) -> int:
    """Write what `read` returns, until it returns nothing, gzipped to `path` through a
    temporary file beside it; the file's size."""
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as gz:
                while chunk := read(1 << 20):
                    gz.write(chunk)
            size = raw.tell()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return size
