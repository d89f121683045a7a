"""Copy a GGUF file with string metadata keys added or replaced, for tests.

The layout is the one runlocalai_bench/runtime/gguf.py reads (little-endian GGUF v2/v3):

    magic "GGUF" · u32 version · u64 tensor count · u64 key/value count
    key/values · tensor infos · zero padding to `general.alignment` (default 32) · tensor data

Every key/value this does not touch, and every tensor info, is copied byte for byte (tensor
offsets are relative to the start of the data section, so they stay valid); only the header's
key count, the edited keys and the padding before the data change. The tensor data is copied
unchanged to the new, re-aligned data offset. The parser here is deliberately separate from the
reader under test, so the reader checks the writer and not itself.
"""

from __future__ import annotations

import mmap
import os
import shutil
import struct
from collections.abc import Mapping
from pathlib import Path

STRING, ARRAY = 8, 9
# Byte sizes of GGUF's fixed-size value types (uint8 … float64; 8 string, 9 array).
_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_ALIGNMENT_TYPES = {4: "<I", 10: "<Q", 5: "<i", 11: "<q"}

# Gemma 3's chat template as Google ships it with the instruction-tuned models (the
# "chat_template" of google/gemma-3-*-it tokenizer_config.json, gemma-3-270m-it included),
# copied from its quotation in ShishirPatil/gorilla,
# berkeley-function-call-leaderboard/bfcl_eval/model_handler/local_inference/gemma.py.
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set first_user_prefix = \"\" -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "        {{ raise_exception(\"Conversation roles must alternate"
    " user/assistant/user/assistant/...\") }}\n"
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    "        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n"
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\\n'}}\n"
    "{%- endif -%}\n"
)


class Layout:
    """Where the parts of a GGUF file lie: each key/value's byte span, the tensor infos' span,
    the alignment and the data section's offset."""

    def __init__(self, buf: mmap.mmap) -> None:
        if buf[:4] != b"GGUF":
            raise ValueError("not a GGUF file")
        self.version, self.n_tensors, n_kv = struct.unpack_from("<IQQ", buf, 4)
        if self.version not in (2, 3):
            raise ValueError(f"GGUF version {self.version} (big-endian?) is not supported")
        self._buf = buf
        pos = 24
        self.kv_spans: list[tuple[str, int, int]] = []  # key, start, end
        self.alignment = 32
        for _ in range(n_kv):
            start = pos
            key, pos = self._string(pos)
            (vtype,) = struct.unpack_from("<I", buf, pos)
            value_at = pos + 4
            pos = self._skip_value(vtype, value_at)
            if key == "general.alignment":
                self.alignment = struct.unpack_from(_ALIGNMENT_TYPES[vtype], buf, value_at)[0]
            self.kv_spans.append((key, start, pos))
        self.infos_start = pos
        for _ in range(self.n_tensors):
            _, pos = self._string(pos)
            (n_dims,) = struct.unpack_from("<I", buf, pos)
            pos += 4 + 8 * n_dims + 4 + 8  # dims, ggml type, offset
        self.infos_end = pos
        self.data_offset = -(-pos // self.alignment) * self.alignment
        del self._buf

    def _string(self, pos: int) -> tuple[str, int]:
        (n,) = struct.unpack_from("<Q", self._buf, pos)
        end = pos + 8 + n
        return self._buf[pos + 8 : end].decode("utf-8"), end

    def _skip_value(self, vtype: int, pos: int) -> int:
        if vtype == STRING:
            (n,) = struct.unpack_from("<Q", self._buf, pos)
            return pos + 8 + n
        if vtype == ARRAY:
            item_type, count = struct.unpack_from("<IQ", self._buf, pos)
            pos += 12
            if item_type in _FIXED:
                return pos + count * _FIXED[item_type]
            for _ in range(count):
                pos = self._skip_value(item_type, pos)
            return pos
        return pos + _FIXED[vtype]


def _string_kv(key: str, value: str) -> bytes:
    k, v = key.encode("utf-8"), value.encode("utf-8")
    return (struct.pack("<Q", len(k)) + k + struct.pack("<I", STRING)
            + struct.pack("<Q", len(v)) + v)


def copy_with_strings(src: Path, dst: Path, values: Mapping[str, str]) -> Path:
    """Copy the GGUF at `src` to `dst` with each key of `values` set to its string: replaced in
    place where the key exists, appended after the last key otherwise."""
    if "general.alignment" in values:
        raise ValueError("general.alignment is not a string; this copier keeps it as it is")
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.part")
    try:
        _write(src, tmp, values)
        tmp.replace(dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst


def _write(src: Path, tmp: Path, values: Mapping[str, str]) -> None:
    with src.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        layout = Layout(buf)
        existing = {key for key, _, _ in layout.kv_spans}
        added = [key for key in values if key not in existing]
        with tmp.open("wb") as out:
            out.write(buf[:8])  # magic, version
            out.write(struct.pack("<QQ", layout.n_tensors, len(layout.kv_spans) + len(added)))
            for key, start, end in layout.kv_spans:
                out.write(_string_kv(key, values[key]) if key in values else buf[start:end])
            for key in added:
                out.write(_string_kv(key, values[key]))
            out.write(buf[layout.infos_start : layout.infos_end])
            out.write(b"\0" * (-out.tell() % layout.alignment))
            fh.seek(layout.data_offset)
            shutil.copyfileobj(fh, out, 1 << 20)


def layout_of(path: Path) -> Layout:
    """The Layout of a GGUF file (its spans and data offset), for checks."""
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        return Layout(buf)
