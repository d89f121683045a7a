"""The run index: one SQLite row per run, so `rla runs list | show` and `--resume` find runs."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runlocalai_bench.errors import ConfigError, RunDirError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id            TEXT PRIMARY KEY,
    slug          TEXT NOT NULL,
    path          TEXT NOT NULL,
    status        TEXT NOT NULL,          -- running | complete | failed | interrupted
    fingerprint   TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    model         TEXT,
    runtime       TEXT,
    hardware      TEXT,
    score         REAL,
    n             INTEGER,
    expected_n    INTEGER,
    partial       INTEGER,
    gist_url      TEXT,                   -- set by `rla publish`
    submission_id TEXT,                   -- set by `rla submit`
    submission_status TEXT
);
CREATE INDEX IF NOT EXISTS runs_slug ON runs (slug, started_at);
"""
# Columns added after the first release: an older index gains them on open.
_ADDED = {"gist_url": "TEXT", "submission_id": "TEXT", "submission_status": "TEXT"}

COLUMNS = ("id", "slug", "path", "status", "fingerprint", "started_at", "finished_at", "model",
           "runtime", "hardware", "score", "n", "expected_n", "partial", "gist_url",
           "submission_id", "submission_status")


@dataclass(frozen=True)
class RunRow:
    id: str
    slug: str
    path: str
    status: str
    fingerprint: str
    started_at: str
    finished_at: str | None = None
    model: str | None = None
    runtime: str | None = None
    hardware: str | None = None
    score: float | None = None
    n: int | None = None
    expected_n: int | None = None
    partial: bool | None = None
    gist_url: str | None = None
    submission_id: str | None = None
    submission_status: str | None = None


class RunIndex:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10)
        except (OSError, sqlite3.Error) as exc:
            raise RunDirError(f"cannot open the run index {self.path}: {exc}",
                              hint="set RLA_HOME to a folder you can write to") from exc
        try:
            conn.executescript(_SCHEMA)
            have = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
            for column, kind in _ADDED.items():
                if column not in have:
                    conn.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
            with conn:
                yield conn
        finally:
            conn.close()

    def upsert(self, row: RunRow) -> None:
        values = [getattr(row, c) for c in COLUMNS]
        placeholders = ",".join("?" for _ in COLUMNS)
        updates = ",".join(f"{c}=excluded.{c}" for c in COLUMNS if c != "id")
        with self._connect() as conn:
            conn.execute(
                f"INSERT INTO runs ({','.join(COLUMNS)}) VALUES ({placeholders})"
                f" ON CONFLICT(id) DO UPDATE SET {updates}",
                values,
            )

    def update(self, run_id: str, **fields: Any) -> None:
        unknown = set(fields) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown run columns: {sorted(unknown)}")
        sets = ",".join(f"{k}=?" for k in fields)
        with self._connect() as conn:
            conn.execute(f"UPDATE runs SET {sets} WHERE id=?", [*fields.values(), run_id])

    def list(self, slug: str | None = None, limit: int = 50) -> list[RunRow]:
        query = f"SELECT {','.join(COLUMNS)} FROM runs"
        args: list[Any] = []
        if slug:
            query += " WHERE slug=?"
            args.append(slug)
        query += " ORDER BY started_at DESC, id DESC LIMIT ?"
        args.append(limit)
        with self._connect() as conn:
            return [_row(r) for r in conn.execute(query, args)]

    def get(self, ref: str) -> RunRow:
        """A run by id, unique id prefix, or path."""
        with self._connect() as conn:
            rows = [_row(r) for r in conn.execute(
                f"SELECT {','.join(COLUMNS)} FROM runs WHERE id=? OR path=? OR id LIKE ?",
                (ref, str(Path(ref).expanduser().resolve()), f"{ref}%"),
            )]
        exact = [r for r in rows if r.id == ref or r.path == ref]
        if exact:
            return exact[0]
        if len(rows) == 1:
            return rows[0]
        if not rows:
            raise ConfigError(f"no run {ref!r} in the index", hint="see `rla runs list`")
        raise ConfigError(f"{ref!r} matches {len(rows)} runs", hint="give more of the run id")

    def latest_unfinished(self, slug: str, fingerprint: str | None = None) -> RunRow | None:
        """The slug's latest run not complete; with `fingerprint`, of those settings only."""
        same = " AND fingerprint=?" if fingerprint else ""
        with self._connect() as conn:
            found = conn.execute(
                f"SELECT {','.join(COLUMNS)} FROM runs WHERE slug=? AND status != 'complete'"
                f"{same} ORDER BY started_at DESC LIMIT 1",
                (slug, *([fingerprint] if fingerprint else [])),
            ).fetchone()
        return _row(found) if found else None


def _row(values: tuple[Any, ...]) -> RunRow:
    data = dict(zip(COLUMNS, values, strict=True))
    if data["partial"] is not None:
        data["partial"] = bool(data["partial"])
    return RunRow(**data)
