"""One directory per run, and the rules that make `--resume` safe.

    <run dir>/
      config.json     the run's configuration and its fingerprint, written before any sample
      run.log         verbatim stdout + stderr of the run (redacted)
      samples.jsonl   append-only, one line per scored sample, flushed as it happens
      results.json    aggregated scores (written at the end, atomically)
      record.json     the reproduction record (written last, atomically)

A resumed run trusts only complete lines of samples.jsonl: a torn last line from a crash is cut
off before appending, and error rows (requests that failed) are dropped, so their items are
asked again; a run with error rows is never complete. results.json and record.json are written
via a temporary file and rename, so a reader never sees half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runlocalai_bench import jsonio
from runlocalai_bench.errors import ConfigError, RecordError, RunDirError

CONFIG = "config.json"
RUN_LOG = "run.log"
SAMPLES = "samples.jsonl"
RESULTS = "results.json"
RECORD = "record.json"


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def run_log(self) -> Path:
        return self.path / RUN_LOG

    @property
    def samples(self) -> Path:
        return self.path / SAMPLES

    @property
    def results(self) -> Path:
        return self.path / RESULTS

    @property
    def record(self) -> Path:
        return self.path / RECORD


def new_run_id(slug: str, fingerprint: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{slug}-{fingerprint[:6]}"


def fingerprint(config: Mapping[str, Any]) -> str:
    """Hash of the settings that decide what a run computes (see pipeline.result_settings)."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def create(output_dir: Path, run_id: str, settings: Mapping[str, Any], *,
           unique: bool = False) -> RunDir:
    """Make a fresh run directory and write config.json, or fail with a hint. `unique`: the id
    was generated, so a second run of the same settings within the same second gets `-2`, `-3`
    … rather than an error (a run id the user chose is never changed)."""
    names = [run_id, *(f"{run_id}-{n}" for n in range(2, 100))] if unique else [run_id]
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            path = output_dir / name
            try:
                path.mkdir()
                break
            except FileExistsError:
                if name == names[-1]:
                    raise
    except FileExistsError as exc:
        raise RunDirError(f"run directory {output_dir / run_id} already exists",
                          hint="wait a second and run again, or pass --resume") from exc
    except OSError as exc:
        raise RunDirError(f"cannot create a run directory in {output_dir}: {exc.strerror}",
                          hint="pass --output-dir with a folder you can write to") from exc
    run = RunDir(path)
    write_json_atomic(run.config, {"fingerprint": fingerprint(settings), "settings": settings})
    return run


def open_for_resume(path: Path, settings: Mapping[str, Any]) -> RunDir:
    """Reopen an interrupted run; refuse if the configuration differs from the original."""
    run = RunDir(path)
    if not run.config.is_file():
        raise RunDirError(f"{path} is not a resumable run (no {CONFIG})",
                          hint="start a new run without --resume")
    saved = read_json(run.config)
    old = saved.get("settings", {})
    if saved.get("fingerprint") != fingerprint(settings):
        changed = diff_settings(old, settings)
        raise ConfigError(
            f"--resume: run {run.id} was made with a different configuration"
            f" ({'; '.join(changed) or 'settings differ'})",
            hint="rerun with the original flags, or start a new run without --resume",
        )
    if run.record.is_file():
        if not failed_lines(run.samples):
            raise ConfigError(f"--resume: run {run.id} is already complete",
                              hint="start a new run without --resume")
        # Written by an rla that counted error rows as complete: the record and results scored
        # failed requests as wrong answers. They go; the resumed run asks those items again.
        for stale in (run.record, run.results):
            stale.unlink(missing_ok=True)
    return run


def diff_settings(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            out.append(f"{key}: {old.get(key)!r} → {new.get(key)!r}")
    return out


def read_samples(path: Path, *, strict: bool = False) -> list[dict[str, Any]]:
    """Complete lines of samples.jsonl; a torn final line (crash mid-write) is ignored, and so
    is everything from the first line the bounded reader refuses, unless `strict`: then a
    refused line that more lines follow (not a torn tail, a damaged file) is a RecordError
    naming it."""
    return list(iter_samples(path, strict=strict))


def iter_samples(path: Path, *, strict: bool = False) -> Iterator[dict[str, Any]]:
    """`read_samples` one line at a time: a full MMLU run's 50 MB never sits in memory whole."""
    return _iter_complete(path, strict=strict)


def _iter_complete(path: Path, *, strict: bool = False) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            if not raw.endswith(b"\n"):
                break
            try:
                yield jsonio.loads(raw, f"{path.name} line {number}")
            except RecordError:
                if strict and fh.readline():
                    raise
                break


def failed_lines(path: Path) -> int:
    """How many complete lines of samples.jsonl are error rows (a request that failed)."""
    return sum(_is_error_row(line) for line in _iter_complete(path))


def drop_failed(path: Path) -> int:
    """Rewrite samples.jsonl without its error rows, atomically, so that --resume asks those
    items again and every line left is a scored answer; how many went. From a torn or refused
    line on, the file is kept as it is (truncate_torn_tail's and the reader's to judge)."""
    if not path.is_file():
        return 0
    kept: list[bytes] = []
    dropped = 0
    with path.open("rb") as fh:
        for raw in fh:
            try:
                line = jsonio.loads(raw, f"{path.name} line") if raw.endswith(b"\n") else None
            except RecordError:
                line = None
            if line is None:  # a torn or refused line: it and the rest stay as they are
                kept += [raw, fh.read()]
                break
            if _is_error_row(line):
                dropped += 1
            else:
                kept.append(raw)
    if dropped:
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            with tmp.open("wb") as fh:
                fh.writelines(kept)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise RunDirError(f"cannot rewrite {path}: {exc.strerror}",
                              hint="check free space and permissions of the output directory"
                              ) from exc
    return dropped


def _is_error_row(line: Any) -> bool:
    return isinstance(line, dict) and line.get("status") == "error"


def truncate_torn_tail(path: Path) -> None:
    """Cut samples.jsonl back to its last complete, parseable line before appending."""
    if not path.is_file():
        return
    good = 0
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            try:
                jsonio.loads(raw, f"{path.name} line")
            except RecordError:
                break
            good += len(raw)
    if good != path.stat().st_size:
        with path.open("r+b") as fh:
            fh.truncate(good)


# json.dumps(line, ensure_ascii=False, sort_keys=True), without a new encoder per line.
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


class SampleLog:
    """Append-only samples.jsonl writer: one JSON line per sample.

    Every line is flushed to the kernel at once, so a crash or SIGKILL of rla loses nothing;
    fsync (durability against a power cut) runs at most once a second and at close, since it
    costs more than an instant server's whole answer. A torn line is cut on resume.
    """

    def __init__(self, path: Path, *, sync_every: float = 1.0) -> None:
        truncate_torn_tail(path)
        self._fh = path.open("a", encoding="utf-8")
        self._sync_every = sync_every
        self._synced = time.monotonic()

    def append(self, line: Mapping[str, Any]) -> None:
        self._fh.write(_LINE_ENCODER.encode(line) + "\n")
        self._fh.flush()
        now = time.monotonic()
        if now - self._synced >= self._sync_every:
            os.fsync(self._fh.fileno())
            self._synced = now

    def close(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n",
                       encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise RunDirError(f"cannot write {path}: {exc.strerror}",
                          hint="check free space and permissions of the output directory") from exc


def read_json(path: Path) -> Any:
    return jsonio.read(path)


def sha256_file(path: Path) -> str:
    return sha256_files([path])


def sha256_files(paths: Sequence[Path]) -> str:
    """sha256 of the files' bytes concatenated in order (a speed run's counted logs)."""
    h = hashlib.sha256()
    for path in paths:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()
