"""samples.jsonl in the compact form a Gist holds when the file is over what a raw URL serves.

Each sample line keeps every field but its prompt, which becomes `prompt_sha256` (the sha256 of
the prompt's UTF-8 text): the answer text, the log-probabilities that decide the score, token
counts and timings stay. The lines go, in order, into parts `samples.compact-1.jsonl`,
`samples.compact-2.jsonl` …, each at most `max_bytes`. Every prompt is rebuilt from the pinned
spec and data (`rla verify --data-dir`), checked against its hash and put back, which gives
samples.jsonl byte for byte: each line is written as rundir.SampleLog writes it (JSON, keys
sorted, not ASCII-escaped), so the rebuilt file hashes to record.json's `files.samples.jsonl`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from runlocalai_bench import jsonio
from runlocalai_bench.errors import RecordError

_PART = re.compile(r"^samples\.compact-([1-9][0-9]{0,2})\.jsonl$")
MAX_PARTS = 100


def part_name(number: int) -> str:
    return f"samples.compact-{number}.jsonl"


def part_names(names: Iterable[str]) -> list[str]:
    """The compact parts among `names`, in order."""
    numbered = [(int(m.group(1)), name) for name in names if (m := _PART.match(name))]
    return [name for _, name in sorted(numbered)]


def _line(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def compact(samples: bytes, max_bytes: int) -> dict[str, bytes]:
    """samples.jsonl's complete lines as compact parts, name → bytes."""
    parts: list[bytearray] = [bytearray()]
    for number, raw in enumerate(samples.splitlines(keepends=True), 1):
        if not raw.endswith(b"\n"):
            break  # a torn tail is not a sample (rundir.read_samples)
        line = jsonio.loads(raw, f"samples.jsonl line {number}")
        prompt = line.pop("prompt", "")
        line["prompt_sha256"] = hashlib.sha256(str(prompt).encode("utf-8")).hexdigest()
        data = _line(line)
        if len(data) > max_bytes:
            raise RecordError(f"samples.jsonl line {number} is {len(data):,} bytes without its"
                              f" prompt, over the {max_bytes:,} a Gist file may hold",
                              hint="the run's answers are too long to publish")
        if len(parts[-1]) + len(data) > max_bytes:
            parts.append(bytearray())
        parts[-1] += data
    if len(parts) > MAX_PARTS:
        raise RecordError(f"samples.jsonl needs {len(parts)} compact parts, over {MAX_PARTS}",
                          hint="the run is too large to publish in a Gist")
    return {part_name(i): bytes(p) for i, p in enumerate(parts, 1) if p}


def lines_of(parts: Sequence[bytes]) -> list[dict[str, Any]]:
    """The compact lines of `parts`, in order, as parsed JSON."""
    return [jsonio.loads(raw, f"{part_name(i)} line {n}")
            for i, part in enumerate(parts, 1)
            for n, raw in enumerate(part.splitlines(), 1) if raw.strip()]


def expand(parts: Sequence[bytes], prompt_of: Callable[[str], str | None]
           ) -> tuple[bytes, list[str]]:
    """samples.jsonl rebuilt from its compact parts, each prompt from `prompt_of(sample id)`,
    and every line whose prompt could not be rebuilt or does not hash as stated (its prompt is
    then left empty, so the file will not hash as recorded)."""
    out = bytearray()
    problems: list[str] = []
    for line in lines_of(parts):
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
