"""Duplicate rows in a set of records (REFERENCE §1): the same five-tuple (model, benchmark,
quantization, runtime, hardware) measured again within a few weeks is a Duplicate of the row it
repeats. Pure functions over typed records.

Within one five-tuple, records are taken in the order they started; the first starts a row, and
every later record that started within the window of that row's first record is its duplicate;
the first record past the window starts the next row (a re-run months later replaces the row,
it does not duplicate it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from runlocalai_bench.results.recordtypes import Record

DEFAULT_WEEKS = 4
FIVE_TUPLE = ("model", "benchmark", "quantization", "runtime", "hardware")


@dataclass(frozen=True)
class Entry:
    label: str  # where the record came from
    key: tuple[str, str, str, str, str]  # FIVE_TUPLE
    started: datetime


@dataclass(frozen=True)
class Duplicate:
    entry: Entry
    row: Entry  # the first record of the row it repeats

    @property
    def apart(self) -> timedelta:
        return self.entry.started - self.row.started


def five_tuple(record: Record) -> tuple[str, str, str, str, str]:
    model = record.model.slug or record.model.file_sha256 or record.model.name or "?"
    return (model.lower(), record.benchmark.slug, (record.model.quantization or "?").upper(),
            record.runtime.slug, record.hardware.hardware_slug)


def entry_of(label: str, record: Record) -> Entry:
    started = datetime.fromisoformat(record.body.timings.started_at)
    return Entry(label, five_tuple(record), started)


def find_duplicates(entries: Iterable[Entry], *, weeks: float = DEFAULT_WEEKS
                    ) -> tuple[Duplicate, ...]:
    window = timedelta(weeks=weeks)
    groups: dict[tuple[str, ...], list[Entry]] = {}
    for entry in entries:
        groups.setdefault(entry.key, []).append(entry)
    found: list[Duplicate] = []
    for group in groups.values():
        row: Entry | None = None
        for entry in sorted(group, key=lambda e: e.started):
            if row is None or entry.started - row.started > window:
                row = entry
            else:
                found.append(Duplicate(entry, row))
    return tuple(sorted(found, key=lambda d: (d.row.started, d.entry.started)))


def to_json(duplicates: Iterable[Duplicate], weeks: float) -> dict[str, Any]:
    return {"weeks": weeks, "five_tuple": list(FIVE_TUPLE), "duplicates": [
        {"record": d.entry.label, "of": d.row.label, "days_apart": d.apart.total_seconds()
         / 86400, "key": dict(zip(FIVE_TUPLE, d.entry.key, strict=True))}
        for d in duplicates]}
