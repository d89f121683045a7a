"""Expected outputs: the canonical solution's results, computed once per machine.

The canonical solution runs in the same sandbox as the model's code, on each input set (base,
plus) of a task; its return values, in their wire form, and each input's time (from which the
time limits derive) are cached under `<cache>/humanevalplus/expected-v<format>-py<ver>-<arch>/`,
one gzipped file per task and set, named by a hash of everything that determines it. A damaged
or older file is computed again. `ReferenceCache` is safe to use from many threads at once: each
reference is computed by one of them while the others wait for it.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from runlocalai_bench.errors import DataError
from runlocalai_bench.scoring.code_settings import CodeSettings
from runlocalai_bench.scoring.outputs import Opaque, decode_value, has_nan, is_floats
from runlocalai_bench.scoring.sandbox import Frame, Job, Sandbox
from runlocalai_bench.types import CodeItem

# Bumped whenever the wire encoding or the reference file layout changes.
REFERENCE_FORMAT = 3


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


def read_reference(path: Path) -> Reference | None:
    """A cached reference's header, or None when the file is damaged or of another format."""
    try:
        with gzip.open(path, "rb") as fh:
            header = json.loads(fh.readline())
        if header.get("format") != REFERENCE_FORMAT:
            return None
        return Reference(path, tuple(float(t) for t in header["times"]), header["first_float"],
                         str(header["isolation"]), frozenset(header["nan"]))
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
            cached = (item, json.dumps(list(inputs_of(item, which))),
                      f"{reference_key(item, which)}-{which}")
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
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".part", dir=path.parent)
        sandbox = self._sandbox()
        isolation = sandbox.isolation().level
        try:
            with os.fdopen(fd, "wb") as raw, tempfile.TemporaryFile() as body:
                writer = _ReferenceWriter(body, n)
                end = sandbox.run(job, writer.on_frame)
                if not writer.done or writer.failure:
                    raise DataError(
                        f"the canonical solution of {item.id} did not run in the sandbox "
                        f"({writer.failure or end.reason})",
                        hint="the sandbox may be too restrictive here; "
                             f"isolation: {sandbox.isolation().summary()}")
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
