"""TurkishMMLU (Yüksel et al., 2024): the public 900-question test set, 9 subjects of 100,
five options, gold letter A–E, and 5 dev questions per subject for few-shot prompts.

Sources:
- the original layout in `--data-dir`: `{test,dev}/TurkishMMLU_<Subject>.json`, each a JSON
  list of {question, choices[5], answer}; subject names contain spaces
  ("Religion and Ethics");
- `AYueksel/TurkishMMLU` on the hub at the spec's pinned revision, one config per subject
  (spaces as underscores: "Religion_and_Ethics") with splits dev and test;
- a small sample bundled with rla.
The spec's [dataset.subjects] maps each subtask id (snake case) to the subject's file name.
Labels are read as letters whether stored as "A".."E" or 0–4 (the hub copy has held both).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from runlocalai_bench import jsonio
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

LETTERS = ("A", "B", "C", "D", "E")
MAX_FILE_BYTES = 64 * 1024 * 1024  # a subject's file is under 100 KB


def load(cfg: DatasetConfig, source: DataSource) -> Dataset:
    if not cfg.subjects:
        raise DataError(f"{cfg.hub}: the task spec names no subjects",
                        hint="add a [dataset.subjects] table to the spec")
    if cfg.bundled_only or source.kind == "bundled":
        return load_bundled(cfg, source)
    if source.kind == "dir":
        root = find_root(Path(source.path or "."), cfg)
        items = [item for sub in sorted(cfg.subjects) for item in
                 read_file(root, cfg.test_split, sub, cfg.subjects[sub])]
        fewshot = {sub: read_file(root, cfg.fewshot_split, sub, cfg.subjects[sub])
                   for sub in sorted(cfg.subjects)}
        return assemble(cfg, source, items, fewshot, origin="dir", location=str(root),
                        expected_sha256=cfg.content_sha256)
    items, fewshot = read_hub(cfg)
    return assemble(cfg, source, items, fewshot, origin="hub",
                    location=f"hf://datasets/{cfg.hub}@{cfg.revision}",
                    expected_sha256=cfg.content_sha256)


def file_name(subject: str) -> str:
    return f"TurkishMMLU_{subject}.json"


def find_root(path: Path, cfg: DatasetConfig) -> Path:
    """The folder holding `test/` and `dev/`: the data root itself or its `turkishmmlu/`."""
    probe = file_name(next(iter(cfg.subjects.values())))
    for candidate in (path, path / "turkishmmlu", path / "TurkishMMLU"):
        if (candidate / cfg.test_split / probe).is_file():
            return candidate
    raise DataError(f"no TurkishMMLU files ({cfg.test_split}/{probe}) under {path}",
                    hint="point --data-dir at the folder holding test/ and dev/ with "
                         "TurkishMMLU_<Subject>.json files (the GitHub or hub layout)")


def read_file(root: Path, split: str, subtask: str, subject: str) -> list[MCItem]:
    path = root / split / file_name(subject)
    try:
        rows = jsonio.loads(path.read_bytes(), str(path), max_bytes=MAX_FILE_BYTES,
                            error=DataError, hint="re-download TurkishMMLU")
    except FileNotFoundError as exc:
        raise DataError(f"missing {path}",
                        hint="all 9 subjects' test and dev files are needed") from exc
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}", hint="re-download TurkishMMLU") from exc
    if not isinstance(rows, list):
        raise DataError(f"{path} is not a JSON list of questions", hint="re-download TurkishMMLU")
    return from_records(rows, subtask, split, str(path))


def from_records(rows: Iterable[Mapping[str, Any]], subtask: str, split: str,
                 where: str) -> list[MCItem]:
    items = []
    for index, row in enumerate(rows):
        try:
            question, choices, answer = row["question"], row["choices"], row["answer"]
        except (KeyError, TypeError) as exc:
            raise DataError(f"{where}, item {index}: expected question, choices and answer",
                            hint="re-download TurkishMMLU") from exc
        if len(choices) != len(LETTERS):
            raise DataError(f"{where}, item {index}: {len(choices)} options, expected 5",
                            hint="re-download TurkishMMLU")
        items.append(MCItem(id=item_id(subtask, split, index), subtask=subtask,
                            question=str(question), choices=tuple(str(c) for c in choices),
                            answer=answer_letter(answer, LETTERS, f"{where}, item {index}")))
    return items


def read_hub(cfg: DatasetConfig) -> tuple[list[MCItem], dict[str, list[MCItem]]]:
    datasets = import_datasets()
    items: list[MCItem] = []
    fewshot: dict[str, list[MCItem]] = {}
    for subtask in sorted(cfg.subjects):
        config = cfg.subjects[subtask].replace(" ", "_")
        for split in (cfg.test_split, cfg.fewshot_split):
            try:
                rows = datasets.load_dataset(cfg.hub, config, split=split, revision=cfg.revision)
            except Exception as exc:  # any hub failure (network, auth, format) is a DataError
                raise hub_error(cfg, exc) from exc
            loaded = from_records(rows, subtask, split, f"{cfg.hub}/{config}/{split}")
            if split == cfg.test_split:
                items.extend(loaded)
            else:
                fewshot[subtask] = loaded
    return items, fewshot
