"""MMLU (Hendrycks et al., 2021): 57 subjects, four options, gold letter A–D.

Three sources, one result:
- the original `data.tar` layout in `--data-dir` (`data/{dev,test}/<subject>_<split>.csv`,
  headerless: question, A, B, C, D, answer; some files CRLF, fields may span lines);
- `cais/mmlu` on the hub at the spec's pinned revision (config "all", answers as 0–3);
- a small sample bundled with rla.
Items are grouped by subject (sorted) in file order; ids are `<subject>/<split>/<row>`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from runlocalai_bench.datasets._common import (
    DatasetConfig,
    answer_letter,
    assemble,
    hub_error,
    import_datasets,
    item_id,
    load_bundled,
)
from runlocalai_bench.errors import DataError
from runlocalai_bench.types import Dataset, DataSource, MCItem

LETTERS = ("A", "B", "C", "D")


def load(cfg: DatasetConfig, source: DataSource) -> Dataset:
    if cfg.bundled_only or source.kind == "bundled":
        return load_bundled(cfg, source)
    if source.kind == "dir":
        root = find_root(Path(source.path or "."), cfg.test_split)
        items = read_split(root, cfg.test_split)
        fewshot = group(read_split(root, cfg.fewshot_split))
        return assemble(cfg, source, items, fewshot, origin="dir", location=str(root),
                        expected_sha256=cfg.content_sha256)
    items, shots = read_hub(cfg)
    return assemble(cfg, source, items, group(shots), origin="hub",
                    location=f"hf://datasets/{cfg.hub}@{cfg.revision}",
                    expected_sha256=cfg.content_sha256)


def find_root(path: Path, split: str) -> Path:
    """The folder holding `<split>/`: accepts the data root itself, `mmlu/`, or `mmlu/data/`."""
    for candidate in (path, path / "data", path / "mmlu", path / "mmlu" / "data"):
        if any((candidate / split).glob(f"*_{split}.csv")):
            return candidate
    raise DataError(f"no MMLU {split} files (*_{split}.csv) under {path}",
                    hint="point --data-dir at the unpacked data.tar, the folder holding "
                         f"data/{split}/<subject>_{split}.csv")


def read_split(root: Path, split: str) -> list[MCItem]:
    files = sorted((root / split).glob(f"*_{split}.csv"))
    if not files:
        raise DataError(f"no MMLU {split} files under {root / split}",
                        hint=f"the original layout has {split}/<subject>_{split}.csv")
    items: list[MCItem] = []
    for path in files:
        subject = path.name[: -len(f"_{split}.csv")]
        items.extend(parse_csv(path, subject, split))
    return items


def parse_csv(path: Path, subject: str, split: str) -> list[MCItem]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {path}: {exc}", hint="re-download the MMLU data") from exc
    items = []
    for index, row in enumerate(rows):
        if len(row) != 6:
            raise DataError(f"{path}, row {index + 1}: expected 6 fields, found {len(row)}",
                            hint="MMLU CSVs are headerless: question,A,B,C,D,answer")
        items.append(MCItem(id=item_id(subject, split, index), subtask=subject, question=row[0],
                            choices=tuple(row[1:5]),
                            answer=answer_letter(row[5], LETTERS, f"{path}, row {index + 1}")))
    return items


def read_hub(cfg: DatasetConfig) -> tuple[list[MCItem], list[MCItem]]:
    datasets = import_datasets()
    splits = []
    for split in (cfg.test_split, cfg.fewshot_split):
        try:
            rows = datasets.load_dataset(cfg.hub, cfg.hub_config or "all", split=split,
                                         revision=cfg.revision)
        except Exception as exc:  # any failure of the hub (network, auth, format) is a DataError
            raise hub_error(cfg, exc) from exc
        splits.append(from_records(rows, split))
    return splits[0], splits[1]


def from_records(rows: Iterable[Mapping[str, Any]], split: str) -> list[MCItem]:
    """Hub rows ({question, subject, choices, answer: 0-3}) as items grouped by subject."""
    by_subject: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_subject.setdefault(str(row["subject"]), []).append(row)
    items = []
    for subject in sorted(by_subject):
        for index, row in enumerate(by_subject[subject]):
            where = f"{subject}/{split}/{index}"
            choices = tuple(str(c) for c in row["choices"])
            items.append(MCItem(id=item_id(subject, split, index), subtask=subject,
                                question=str(row["question"]), choices=choices,
                                answer=answer_letter(row["answer"], LETTERS, where)))
    return items


def group(items: Sequence[MCItem]) -> dict[str, list[MCItem]]:
    pools: dict[str, list[MCItem]] = {}
    for item in items:
        pools.setdefault(item.subtask, []).append(item)
    return pools
