"""samples.jsonl in the compact form a Gist holds when the file is over what a raw URL serves.

Each sample line keeps every field but its prompt, which becomes `prompt_sha256` (the sha256 of
the prompt's UTF-8 text): the answer text, every log-probability the run recorded (the top
alternatives and the letter candidates that decide the score), token counts and timings stay.
Every prompt is rebuilt from the pinned spec and data (`rla verify --data-dir`), checked against
its hash and put back, which gives samples.jsonl byte for byte: each line is written as
rundir.SampleLog writes it (JSON, keys sorted, not ASCII-escaped), so the rebuilt file hashes to
record.json's `files.samples.jsonl`.

Two forms, told apart by their names; rla publishes the second and reads both:

    samples.compact-1.jsonl …          (version 1) the compact lines, in order, each part at
                                       most `max_bytes`
    samples.compact-1.jsonl.gz.b64 …   (version 2) the compact lines, in order, as one gzip
                                       stream in base64 (a Gist holds text), cut into parts of
                                       at most `max_bytes`: `cat` the parts in order, then
                                       `base64 -d | gunzip`. Full MMLU's 20 top log-probabilities
                                       per answer made version 1 16 MB; gzip keeps them all.

A version 2 stream that expands beyond MAX_EXPANDED_BYTES is refused before it is read further.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from runlocalai_bench import jsonio
from runlocalai_bench.errors import RecordError

_PART = re.compile(r"^samples\.compact-([1-9][0-9]{0,2})\.jsonl(\.gz\.b64)?$")
MAX_PARTS = 100
MAX_EXPANDED_BYTES = 64 * 1024 * 1024  # full MMLU's compact lines are ~16 MB
GZIP_SUFFIX = ".gz.b64"


def part_name(number: int, *, gzipped: bool = True) -> str:
    return f"samples.compact-{number}.jsonl" + (GZIP_SUFFIX if gzipped else "")


def part_names(names: Iterable[str]) -> list[str]:
    """The compact parts among `names`, in order."""
    numbered = [(int(m.group(1)), name) for name in names if (m := _PART.match(name))]
    return [name for _, name in sorted(numbered)]


def _line(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def compact_lines(samples: bytes) -> bytes:
    """samples.jsonl's complete lines, each with its prompt as `prompt_sha256`."""
    out = bytearray()
    for number, raw in enumerate(samples.splitlines(keepends=True), 1):
        if not raw.endswith(b"\n"):
            break  # a torn tail is not a sample (rundir.read_samples)
        line = jsonio.loads(raw, f"samples.jsonl line {number}")
        prompt = line.pop("prompt", "")
        line["prompt_sha256"] = hashlib.sha256(str(prompt).encode("utf-8")).hexdigest()
        out += _line(line)
    return bytes(out)


def compact(samples: bytes, max_bytes: int) -> dict[str, bytes]:
    """samples.jsonl's complete lines in compact form (version 2), part name → bytes."""
    stream = base64.b64encode(gzip.compress(compact_lines(samples), compresslevel=9, mtime=0))
    size = max(4, max_bytes - max_bytes % 4)  # whole base64 quanta in each part
    chunks = [stream[i:i + size] for i in range(0, len(stream), size)] or [b""]
    if len(chunks) > MAX_PARTS:
        raise RecordError(f"samples.jsonl needs {len(chunks)} compact parts, over {MAX_PARTS}",
                          hint="the run is too large to publish in a Gist")
    return {part_name(i): chunk for i, chunk in enumerate(chunks, 1)}


def compact_text(parts: Mapping[str, bytes]) -> bytes:
    """The compact lines the parts hold (either form), as one text: the parts must be one
    form, numbered 1, 2 … without a gap. RecordError naming the part otherwise."""
    names = part_names(parts)
    forms = {name.endswith(GZIP_SUFFIX) for name in names}
    if len(forms) > 1:
        raise RecordError("the Gist holds compact samples in both forms (.jsonl and"
                          " .jsonl.gz.b64)", hint="publish the run again: one form only")
    gzipped = forms == {True}
    for number, name in enumerate(names, 1):
        if name != part_name(number, gzipped=gzipped):
            raise RecordError(f"compact part {part_name(number, gzipped=gzipped)} is missing"
                              f" (found {name})", hint="the Gist must hold every part")
    if not gzipped:
        return b"".join(parts[name] for name in names)
    try:
        packed = base64.b64decode(b"".join(parts[name].strip() for name in names),
                                  validate=True)
    except binascii.Error as exc:
        raise RecordError(f"{names[0]} …: not base64 ({exc})",
                          hint="the compact parts were changed after publishing") from None
    return _gunzip(packed, names[0])


def _gunzip(packed: bytes, name: str) -> bytes:
    inflate = zlib.decompressobj(wbits=31)  # gzip framing
    try:
        data = inflate.decompress(packed, MAX_EXPANDED_BYTES + 1)
    except zlib.error as exc:
        raise RecordError(f"{name} …: not a gzip stream ({exc})",
                          hint="the compact parts were changed after publishing") from None
    if len(data) > MAX_EXPANDED_BYTES or inflate.unconsumed_tail:
        raise RecordError(f"{name} …: the compact samples expand beyond"
                          f" {MAX_EXPANDED_BYTES:,} bytes",
                          hint="not a run rla published; refused unread")
    if not inflate.eof or inflate.unused_data:
        raise RecordError(f"{name} …: the gzip stream is cut short or followed by other data",
                          hint="the Gist must hold every part, as published")
    return data


def lines_of(parts: Mapping[str, bytes]) -> list[dict[str, Any]]:
    """The compact lines of `parts` (name → bytes, either form), in order, as parsed JSON."""
    return list(iter_lines(parts))


def iter_lines(parts: Mapping[str, bytes]) -> Iterator[dict[str, Any]]:
    """`lines_of` one line at a time: only the text is held whole, not every parsed line."""
    text = compact_text(parts)
    start, number = 0, 0
    while start < len(text):
        end = text.find(b"\n", start)
        end = len(text) if end < 0 else end + 1
        raw, start = text[start:end], end
        if raw.strip():
            number += 1
            yield jsonio.loads(raw, f"compact sample {number}")


def expand(parts: Mapping[str, bytes], prompt_of: Callable[[str], str | None]
           ) -> tuple[bytes, list[str]]:
    """samples.jsonl rebuilt from its compact parts, each prompt from `prompt_of(sample id)`,
    and every line whose prompt could not be rebuilt or does not hash as stated (its prompt is
    then left empty, so the file will not hash as recorded)."""
    out = bytearray()
    problems: list[str] = []
    for line in iter_lines(parts):
        stated = line.pop("prompt_sha256", None)
        sample_id = str(line.get("id"))
        prompt = prompt_of(sample_id)
        if prompt is None:
            problems.append(f"sample {sample_id}: no such item in the pinned data")
            prompt = ""
        elif hashlib.sha256(prompt.encode("utf-8")).hexdigest() != stated:
            problems.append(f"sample {sample_id}: the prompt rebuilt from the data does not"
                            " hash to its prompt_sha256")
            prompt = ""
        line["prompt"] = prompt
        out += _line(line)
    return bytes(out), problems
