"""Read a GGUF model file's header and metadata without loading it.

GGUF (llama.cpp's model format, versions 2 and 3) starts with

    magic "GGUF" · u32 version · u64 tensor count · u64 key/value count
    key/values:   string key · u32 value type · value (arrays: u32 item type, u64 count, items)
    tensor infos: string name · u32 n_dims · u64 dims[n_dims] · u32 ggml type · u64 offset
    padding to `general.alignment` (default 32), then tensor data

Strings are a uint64 length and UTF-8 bytes. Files are little-endian unless written big-endian,
which the version field reveals. This reader stops at the tensor data; large arrays (the
tokenizer's 100k+ tokens, scores and merges) are skipped and kept only as their type and length.
It checks that the file is long enough to hold every tensor it declares, which is how a
truncated download shows.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runlocalai_bench.errors import ModelFileError

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
# Arrays longer than this are skipped, not read: only their element type and length are kept.
MAX_ARRAY_ITEMS = 64
_MAX_COUNT = 1 << 24

# llama.cpp's `enum llama_ftype` (include/llama.h): the `general.file_type` of a GGUF, named
# the way quantized files and the leaderboard name them.
FILE_TYPES: Mapping[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
    10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
    16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S",
    22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M",
    28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0",
    37: "TQ2_0", 38: "MXFP4_MOE", 39: "NVFP4", 40: "Q1_0", 41: "Q2_0",
}  # fmt: skip
_FTYPE_GUESSED = 1024

# ggml tensor types (ggml/include/ggml.h): (elements per block, bytes per block).
_TENSOR_BLOCKS: Mapping[int, tuple[int, int]] = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176),
    14: (256, 210), 15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98),
    19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82), 23: (256, 136), 24: (1, 1),
    25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2), 34: (256, 54),
    35: (256, 66), 39: (32, 17), 40: (64, 36), 41: (128, 18), 42: (64, 18),
}  # fmt: skip

# GGUF value types: struct format of the fixed-size ones; 8 is a string, 9 an array.
_SCALARS: Mapping[int, str] = {
    0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d",
}  # fmt: skip
_STRING, _ARRAY = 8, 9
_TRUNCATED_HINT = "the download or copy was cut short; fetch the file again and check its sha256"
_TYPE_NAMES: Mapping[int, str] = {
    0: "uint8", 1: "int8", 2: "uint16", 3: "int16", 4: "uint32", 5: "int32", 6: "float32",
    7: "bool", 8: "string", 9: "array", 10: "uint64", 11: "int64", 12: "float64",
}  # fmt: skip


@dataclass(frozen=True)
class SkippedArray:
    """A metadata array too long to keep (token lists, scores, merges): its type and length."""

    item_type: str
    length: int


@dataclass(frozen=True)
class GGUFInfo:
    """What a GGUF file says about itself. `metadata` holds every key; long arrays are
    `SkippedArray`s. `parameters` is the sum of the tensors' element counts (what llama.cpp
    reports as n_params)."""

    path: str
    size_bytes: int
    version: int
    big_endian: bool
    tensor_count: int
    architecture: str | None
    name: str | None
    size_label: str | None
    file_type: int | None
    quantization: str | None
    parameters: int
    context_length: int | None
    chat_template_sha256: str | None
    alignment: int
    data_offset: int
    split_count: int = 1  # a model split across files (name-00001-of-00003.gguf)
    metadata: Mapping[str, Any] = field(repr=False, default_factory=dict)


def quantization_name(file_type: int | None) -> str | None:
    """`general.file_type` → the quantization's usual name (15 → "Q4_K_M")."""
    if file_type is None:
        return None
    return FILE_TYPES.get(file_type & ~_FTYPE_GUESSED)


_SIZE_WORDS = {"Small": "S", "Medium": "M", "Large": "L"}
_KNOWN_QUANTS = frozenset(FILE_TYPES.values()) | {"MXFP4", "FP16", "FP32"}


def normalise_quantization(text: str) -> str:
    """A quantization name as servers print it → the usual short form.

    llama-server reports llama.cpp's descriptive names ("Q4_K - Medium" → "Q4_K_M",
    "all F32" → "F32", "IQ2_XXS - 2.0625 bpw" → "IQ2_XXS"); Ollama the short form in any case
    ("q4_K_M" → "Q4_K_M"). Names rla does not know (MLX "4bit", AWQ) are returned as given."""
    name = text.strip().removeprefix("(guessed) ").strip()
    if name.lower() == "all f32":
        return "F32"
    if name == "MXFP4 MoE":
        return "MXFP4_MOE"
    if name.startswith("IQ3_S mix"):
        return "IQ3_M"
    head, sep, tail = name.partition(" - ")
    if sep:
        size = _SIZE_WORDS.get(tail.strip())
        if head == "Q2_K" and size == "M":  # llama.cpp's plain Q2_K is printed "Medium"
            return head
        return f"{head}_{size}" if size else head
    upper = name.upper()
    return upper if upper in _KNOWN_QUANTS else name


def parse_size_label(label: str | None) -> int | None:
    """An approximate parameter count from a label such as "270M", "1.5B", "8x7B" or "7.2B"."""
    if not label:
        return None
    text = label.strip().upper()
    experts = 1
    if "X" in text:
        head, _, text = text.partition("X")
        if not head.isdigit():
            return None
        experts = int(head)
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}.get(text[-1:])
    if scale is None:
        return None
    try:
        return round(experts * float(text[:-1]) * scale)
    except ValueError:
        return None


def template_sha256(template: str | None) -> str | None:
    """The fingerprint of a chat template's exact text; None when there is none."""
    if not template:
        return None
    return hashlib.sha256(template.encode("utf-8")).hexdigest()


class _Truncated(Exception):
    pass


class _Corrupt(Exception):
    pass


class _Reader:
    """Typed reads at a moving position in the mapped file, failing past its end."""

    def __init__(self, buf: mmap.mmap, endian: str, pos: int = 0) -> None:
        self._buf = buf
        self._size = len(buf)
        self._e = endian
        self._u32 = struct.Struct(endian + "I")
        self._u64 = struct.Struct(endian + "Q")
        self.pos = pos

    def remaining(self) -> int:
        return self._size - self.pos

    def skip(self, n: int) -> None:
        if n > self.remaining():
            raise _Truncated
        self.pos += n

    def _unpack(self, s: struct.Struct) -> Any:
        if s.size > self.remaining():
            raise _Truncated
        value = s.unpack_from(self._buf, self.pos)[0]
        self.pos += s.size
        return value

    def u32(self) -> int:
        return int(self._unpack(self._u32))

    def u64(self) -> int:
        return int(self._unpack(self._u64))

    def string_length(self) -> int:
        n = self.u64()
        if n > self.remaining():
            raise _Truncated if n < self._size else _Corrupt(f"a string claims {n} bytes")
        return n

    def string(self) -> str:
        n = self.string_length()
        raw = self._buf[self.pos : self.pos + n]
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def value(self, vtype: int) -> Any:
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            return self.array()
        fmt = _SCALARS.get(vtype)
        if fmt is None:
            raise _Corrupt(f"unknown value type {vtype}")
        return self._unpack(struct.Struct(self._e + fmt))

    def array(self) -> tuple[Any, ...] | SkippedArray:
        item_type = self.u32()
        count = self.u64()
        if item_type not in _TYPE_NAMES:
            raise _Corrupt(f"unknown array item type {item_type}")
        if count > self.remaining():  # every item takes at least one byte
            raise _Truncated if count < self._size else _Corrupt(f"an array claims {count} items")
        if count <= MAX_ARRAY_ITEMS:
            return tuple(self.value(item_type) for _ in range(count))
        if item_type == _STRING:
            self._skip_strings(count)
        elif item_type == _ARRAY:
            for _ in range(count):
                self.array()
        else:
            self.skip(count * struct.calcsize(self._e + _SCALARS[item_type]))
        return SkippedArray(_TYPE_NAMES[item_type], count)

    def _skip_strings(self, count: int) -> None:
        # The hot loop of a tokenizer's 100k-260k tokens: kept to one unpack and one add each.
        unpack_from, buf, size, pos = self._u64.unpack_from, self._buf, self._size, self.pos
        for _ in range(count):
            if pos + 8 > size:
                raise _Truncated
            pos += 8 + unpack_from(buf, pos)[0]
        if pos > size:
            raise _Truncated
        self.pos = pos


def read_gguf(path: str | Path) -> GGUFInfo:
    """Read a GGUF file's header, metadata and tensor infos. Raises ModelFileError when the file
    is missing, unreadable, not GGUF, of an unsupported version, truncated or corrupt."""
    p = Path(path).expanduser()
    try:
        fh = p.open("rb")
    except FileNotFoundError:
        raise ModelFileError(
            f"model file not found: {p}", hint="check the path given to --model-path"
        ) from None
    except IsADirectoryError:
        raise ModelFileError(
            f"{p} is a directory, not a model file", hint="pass the path of the .gguf file itself"
        ) from None
    except OSError as exc:
        raise ModelFileError(
            f"cannot read {p}: {exc.strerror or exc}", hint="check the file's permissions"
        ) from None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise ModelFileError(f"{p} is empty", hint="fetch the model file again")
        try:
            buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"cannot map {p}: {exc}", hint="check the file") from None
        with buf:
            try:
                return _parse(buf, p)
            except _Truncated:
                raise ModelFileError(
                    f"{p} is truncated: the file ends inside its GGUF header ({size} bytes)",
                    hint=_TRUNCATED_HINT,
                ) from None
            except _Corrupt as exc:
                raise ModelFileError(
                    f"{p} is a corrupt GGUF file: {exc}",
                    hint="fetch the file again and check its sha256",
                ) from None


def _parse(buf: mmap.mmap, path: Path) -> GGUFInfo:
    size = len(buf)
    magic = buf[:4]
    if magic != MAGIC:
        raise _not_gguf(path, buf[:64])
    if size < 8:
        raise _Truncated
    endian = "<"
    version = struct.unpack_from("<I", buf, 4)[0]
    if version & 0xFFFF == 0 and version != 0:  # written big-endian
        endian = ">"
        version = struct.unpack_from(">I", buf, 4)[0]
    if version not in SUPPORTED_VERSIONS:
        hint = (
            "GGUF v1 files predate llama.cpp's current loader; re-convert the model"
            if version == 1
            else "this looks newer than rla understands; upgrade rla"
        )
        raise ModelFileError(f"{path} is GGUF version {version}; rla reads versions 2 and 3", hint)
    r = _Reader(buf, endian, pos=8)
    n_tensors = r.u64()
    n_kv = r.u64()
    # Real files have hundreds of keys and at most tens of thousands of tensors.
    if n_kv > _MAX_COUNT or n_tensors > _MAX_COUNT:
        raise _Corrupt(f"header claims {n_kv} keys and {n_tensors} tensors")

    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        key = r.string()
        metadata[key] = r.value(r.u32())

    parameters = 0
    data_end = 0  # bytes of tensor data the infos require, relative to the data section
    for _ in range(n_tensors):
        r.skip(r.string_length())  # tensor name
        n_dims = r.u32()
        if n_dims > 8:
            raise _Corrupt(f"a tensor claims {n_dims} dimensions")
        elements = 1
        for _ in range(n_dims):
            elements *= r.u64()
        ggml_type = r.u32()
        offset = r.u64()
        parameters += elements
        block = _TENSOR_BLOCKS.get(ggml_type)
        nbytes = elements // block[0] * block[1] if block else 0
        data_end = max(data_end, offset + nbytes)

    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise _Corrupt(f"general.alignment is {alignment!r}, not a power of two")
    data_offset = -(-r.pos // alignment) * alignment
    if n_tensors and data_offset + data_end > size:
        raise ModelFileError(
            f"{path} is truncated: its tensors need {data_offset + data_end} bytes, "
            f"the file has {size}",
            hint=_TRUNCATED_HINT,
        )

    split_count = metadata.get("split.count")
    arch = _str(metadata.get("general.architecture"))
    file_type = metadata.get("general.file_type")
    file_type = file_type if isinstance(file_type, int) else None
    context = metadata.get(f"{arch}.context_length") if arch else None
    return GGUFInfo(
        path=str(path),
        size_bytes=size,
        version=version,
        big_endian=endian == ">",
        tensor_count=n_tensors,
        architecture=arch,
        name=_str(metadata.get("general.name")),
        size_label=_str(metadata.get("general.size_label")),
        file_type=file_type,
        quantization=quantization_name(file_type),
        parameters=parameters,
        context_length=context if isinstance(context, int) else None,
        chat_template_sha256=template_sha256(_str(metadata.get("tokenizer.chat_template"))),
        alignment=alignment,
        data_offset=data_offset,
        split_count=split_count if isinstance(split_count, int) and split_count > 1 else 1,
        metadata=metadata,
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _not_gguf(path: Path, head: bytes) -> ModelFileError:
    if head.startswith(b"version https://git-lfs"):
        return ModelFileError(
            f"{path} is a Git LFS pointer, not the model itself",
            hint="fetch the real file: git lfs pull (or download it from the model page)",
        )
    if head[:1] == b"{" or head[8:10] == b'{"':
        kind = "JSON or safetensors"
    elif head.lstrip()[:1] == b"<":
        kind = "an HTML page"
    else:
        kind = f"bytes {head[:4]!r}"
    return ModelFileError(
        f"{path} is not a GGUF file (it starts with {kind})",
        hint="rla reads llama.cpp GGUF models (.gguf); convert others with llama.cpp's "
        "convert_hf_to_gguf.py",
    )
