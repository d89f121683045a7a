"""A local model file as rla records it: its ModelInfo from the GGUF header (gguf.py), its
sha256 (remembered per path, size and modification time), and every part of a split model."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import replace
from pathlib import Path

from runlocalai_bench.errors import ModelFileError
from runlocalai_bench.runtime.gguf import GGUFInfo, parse_size_label, read_gguf
from runlocalai_bench.types import ModelInfo


def sha256_file(path: str | Path, *, cache_dir: Path | None = None) -> str:
    """The sha256 of a file, read in 1 MiB blocks. With `cache_dir`, the digest is remembered
    under a key made of the absolute path, size and modification time, so an unchanged file
    is hashed once."""
    p = Path(path).expanduser().resolve()
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ModelFileError(f"model file not found: {p}", hint="check the path") from None
    entry = None
    if cache_dir is not None:
        key = hashlib.sha256(f"{p}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()
        entry = cache_dir / "sha256" / key
        try:
            cached = entry.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            cached = ""
        if len(cached) == 64 and all(c in "0123456789abcdef" for c in cached):
            return cached
    digest = hashlib.sha256()
    try:
        with p.open("rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    except OSError as exc:
        raise ModelFileError(
            f"cannot read {p}: {exc.strerror or exc}", hint="check the file's permissions"
        ) from None
    hexdigest = digest.hexdigest()
    if entry is not None:
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            tmp = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
            tmp.write_text(hexdigest + "\n", encoding="ascii")
            tmp.replace(entry)
        except OSError:
            pass  # a read-only cache only costs a re-hash next time
    return hexdigest


def split_paths(info: GGUFInfo) -> list[Path]:
    """Every file of a split model, in order, named as llama.cpp names them
    (`<prefix>-00001-of-00003.gguf`); just the file itself for an unsplit one."""
    path = Path(info.path)
    if info.split_count == 1:
        return [path]
    match = _SPLIT_NAME.fullmatch(path.name)
    if not match or int(match["count"]) != info.split_count:
        raise ModelFileError(
            f"{path} is part {info.metadata.get('split.no', 0) + 1} of a model split into "
            f"{info.split_count} files, but its name does not say which",
            hint="keep the split files' names as llama-gguf-split wrote them "
            "(name-00001-of-00003.gguf)",
        )
    return [
        path.with_name(f"{match['prefix']}-{i:05d}-of-{info.split_count:05d}.gguf")
        for i in range(1, info.split_count + 1)
    ]


_SPLIT_NAME = re.compile(r"(?P<prefix>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf")


def model_info_from_gguf(
    path: str | Path, *, cache_dir: Path | None = None, with_sha256: bool = True
) -> ModelInfo:
    """ModelInfo for a local GGUF file: metadata from its header, plus its sha256.

    For a split model, give any of its files: the parameters and size cover all of them, and
    the sha256 is that of the first file (which holds the metadata)."""
    info = read_gguf(path)
    parts = split_paths(info)
    shards = [info]
    if len(parts) > 1:
        shards = []
        for part in parts:
            if not part.is_file():
                raise ModelFileError(
                    f"{part.name} is missing: {Path(info.path).name} is one of "
                    f"{len(parts)} files of a split model",
                    hint="download every part of the model into the same folder",
                )
            shards.append(info if part == Path(info.path) else read_gguf(part))
        info = shards[0]
    digest = sha256_file(info.path, cache_dir=cache_dir) if with_sha256 else None
    model = model_info_from(info, sha256=digest)
    if len(shards) > 1:
        model = replace(
            model,
            parameters=sum(s.parameters for s in shards) or model.parameters,
            size_bytes=sum(s.size_bytes for s in shards),
        )
    return model


def model_info_from(info: GGUFInfo, *, sha256: str | None = None) -> ModelInfo:
    return ModelInfo(
        id=Path(info.path).name,
        path=info.path,
        sha256=sha256,
        size_bytes=info.size_bytes,
        architecture=info.architecture,
        name=info.name,
        parameters=info.parameters or parse_size_label(info.size_label),
        quantization=info.quantization,
        context_length=info.context_length,
        chat_template_sha256=info.chat_template_sha256,
    )
