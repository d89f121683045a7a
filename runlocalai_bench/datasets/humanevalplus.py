"""HumanEval+ (EvalPlus): 164 Python tasks with the original HumanEval inputs (`base_input`) and
EvalPlus's extra inputs (`plus_input`), from the release file pinned by sha256.

Three sources, one item shape:
- the release file (`HumanEvalPlus-v0.1.10.jsonl.gz`) downloaded once into the cache and checked
  against its pinned hash;
- `--data-dir`: a folder holding that file, or its gunzipped `.jsonl` (as EvalPlus caches it);
- a few tasks bundled with rla (`--sample`, selftest), copied unchanged from the release.
The pin is the sha256 of the exact file read (the release has been re-published under the same
tag before, so the tag alone proves nothing).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runlocalai_bench.errors import ConfigError, DataError
from runlocalai_bench.types import CodeItem, Dataset, DatasetPin, DataSource

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "bundled"
SUBTASK = "humaneval"
_FIELDS = ("task_id", "prompt", "entry_point", "canonical_solution", "base_input",
           "plus_input", "atol")


@dataclass(frozen=True)
class Release:
    """The [dataset] table of the humaneval-plus spec."""

    name: str  # evalplus/humanevalplus_release
    revision: str  # v0.1.10
    file: str  # HumanEvalPlus-v0.1.10.jsonl.gz
    url: str
    sha256: str
    plain_file: str  # the same data gunzipped
    plain_sha256: str
    tasks: int
    sample_file: str
    sample_sha256: str

    @classmethod
    def from_spec(cls, slug: str, table: Mapping[str, Any]) -> Release:
        try:
            return cls(**{name: table[name] for name in cls.__dataclass_fields__})
        except KeyError as exc:
            raise ConfigError(f"task spec {slug!r}: [dataset] lacks {exc.args[0]!r}",
                              hint="compare it with tasks/humaneval-plus.toml") from exc


def load(release: Release, source: DataSource, cache_dir: Path | None) -> Dataset:
    """The tasks from `source`; raises DataError when the file is missing or not the pinned one
    (unless `source.allow_unpinned`). The hub's file is downloaded once into `cache_dir`."""
    if source.kind == "bundled":
        path = BUNDLED_DIR / release.sample_file
        if not path.is_file():
            raise DataError(f"bundled data {release.sample_file!r} is missing from this "
                            "installation",
                            hint="reinstall rla: pip install --force-reinstall runlocalai-bench")
        return _read(path, release.sample_sha256, "bundled", source, release, full=False)
    if source.kind == "dir":
        folder = Path(source.path or ".")
        for name, expected in ((release.file, release.sha256),
                               (release.plain_file, release.plain_sha256)):
            if (folder / name).is_file():
                return _read(folder / name, expected, "dir", source, release, full=True)
        raise DataError(f"neither {release.file} nor {release.plain_file} is in {folder}",
                        hint=f"download {release.url} into that folder, or drop --data-dir "
                             "to let rla download it")
    if cache_dir is None:
        raise ConfigError("no cache directory to download the HumanEval+ release into",
                          hint="pass --data-dir with a local copy, or run it through rla's "
                          "commands (they use $RLA_CACHE_DIR)")
    path = cache_dir / release.file
    if not path.is_file():
        download(release.url, path, release.sha256)
    return _read(path, release.sha256, "hub", source, release, full=True)


def download(url: str, path: Path, sha256: str) -> None:
    """Fetch `url` to `path` through a temporary file; keep it only if its sha256 matches."""
    import httpx

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=path.name, suffix=".part", dir=path.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as fh, httpx.stream("GET", url, follow_redirects=True,
                                                     timeout=60.0) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                digest.update(chunk)
                fh.write(chunk)
        if digest.hexdigest() != sha256:
            raise DataError(f"{url} has sha256 {digest.hexdigest()[:16]}…, not the pinned "
                            f"{sha256[:16]}…",
                            hint="the release was re-published; rla only scores the pinned file")
        os.replace(tmp_name, path)
    except httpx.HTTPError as exc:
        raise DataError(f"could not download {url}: {exc}",
                        hint="download it by hand and pass its folder as --data-dir") from exc
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def _read(path: Path, expected_sha256: str, origin: str, source: DataSource, release: Release,
          *, full: bool) -> Dataset:
    try:
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        text = gzip.decompress(raw).decode("utf-8") if path.suffix == ".gz" else raw.decode()
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}",
                        hint="re-download the HumanEval+ release file") from exc
    pinned = digest == expected_sha256
    if not pinned and not source.allow_unpinned:
        raise DataError(f"{path} is not the pinned {release.name} {release.revision} file "
                        f"(sha256 {digest[:16]}…, expected {expected_sha256[:16]}…)",
                        hint="use the pinned release file, or pass --allow-unpinned to run "
                             "anyway (the record says so)")
    items = parse(text, str(path))
    if full and pinned and len(items) != release.tasks:
        raise DataError(f"{path} holds {len(items)} tasks, not {release.tasks}",
                        hint="re-download the HumanEval+ release file")
    pin = DatasetPin(source=origin, dataset=release.name, revision=release.revision,
                     content_sha256=digest, expected_sha256=expected_sha256, pinned=pinned,
                     location=str(path))
    return Dataset(items=tuple(items), fewshot={}, pin=pin)


def parse(text: str, where: str) -> list[CodeItem]:
    """One CodeItem per JSON line, in file order."""
    items: list[CodeItem] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            missing = [name for name in _FIELDS if name not in row]
            if missing:
                raise DataError(f"{where}:{number}: missing {', '.join(missing)}",
                                hint="this is not a HumanEval+ release file")
            items.append(CodeItem(
                id=str(row["task_id"]), subtask=SUBTASK, prompt=row["prompt"],
                entry_point=row["entry_point"], canonical_solution=row["canonical_solution"],
                base_input=tuple(row["base_input"]), plus_input=tuple(row["plus_input"]),
                atol=float(row["atol"] or 0.0), contract=row.get("contract", ""),
            ))
        except (ValueError, TypeError) as exc:
            raise DataError(f"{where}:{number}: not a HumanEval+ task ({exc})",
                            hint="re-download the HumanEval+ release file") from exc
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise DataError(f"{where}: repeated task ids", hint="re-download the release file")
    return items
