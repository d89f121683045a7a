"""What the multiple-choice loaders share: the [dataset] table of a task spec, canonical content
hashing, the pin check, and the bundled JSONL samples.

Content is hashed *after* loading, over the values a run actually uses, so the same questions
hash the same whether they came from the hub's Parquet/JSON, the original CSV/JSON files in
`--data-dir`, or a re-serialised copy (labels 0–4 and "A".."E" both load as letters).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runlocalai_bench.errors import ConfigError, DataError
from runlocalai_bench.types import Dataset, DatasetPin, DataSource, MCItem

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "bundled"


@dataclass(frozen=True)
class DatasetConfig:
    """The [dataset] table of a multiple-choice task spec."""

    loader: str  # mmlu | turkishmmlu
    hub: str  # e.g. cais/mmlu
    revision: str  # a full commit hash on the hub
    content_sha256: str  # canonical hash of the full test + few-shot content
    test_split: str = "test"
    fewshot_split: str = "dev"
    hub_config: str | None = None  # MMLU: "all"
    # TurkishMMLU: subtask id → the subject as named in file names ("Religion and Ethics").
    subjects: Mapping[str, str] = field(default_factory=dict)
    # A small sample bundled with rla (`--sample`), with its own canonical hash.
    sample_file: str | None = None
    sample_sha256: str | None = None
    # The bundled file *is* the data set (selfcheck): every source reads it.
    bundled_only: bool = False

    @classmethod
    def from_spec(cls, slug: str, table: Mapping[str, Any]) -> DatasetConfig:
        try:
            return cls(
                loader=str(table["loader"]),
                hub=str(table["hub"]),
                revision=str(table["revision"]),
                content_sha256=str(table["content_sha256"]),
                test_split=str(table.get("test_split", "test")),
                fewshot_split=str(table.get("fewshot_split", "dev")),
                hub_config=table.get("hub_config"),
                subjects=dict(table.get("subjects", {})),
                sample_file=table.get("sample_file"),
                sample_sha256=table.get("sample_sha256"),
                bundled_only=bool(table.get("bundled_only", False)),
            )
        except KeyError as exc:
            raise ConfigError(f"task spec {slug!r}: [dataset] lacks {exc.args[0]!r}",
                              hint="compare it with tasks/mmlu.toml's [dataset]") from exc


def item_id(subtask: str, split: str, index: int) -> str:
    """Stable across sources and samples: the subject, the split and the row's original index."""
    return f"{subtask}/{split}/{index}"


def canonical_sha256(items: Sequence[MCItem], fewshot: Mapping[str, Sequence[MCItem]]) -> str:
    """sha256 over one compact JSON line per item: test items in order, then each subtask's
    few-shot pool (subtasks sorted). Ids carry the split and original row index, so order and
    provenance are part of the content."""
    digest = hashlib.sha256()
    pools = (fewshot[name] for name in sorted(fewshot))
    for item in (*items, *(shot for pool in pools for shot in pool)):
        line = json.dumps([item.id, item.subtask, item.question, list(item.choices), item.answer],
                          ensure_ascii=False, separators=(",", ":"))
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def answer_letter(raw: object, letters: Sequence[str], where: str) -> str:
    """A gold answer as a letter, from a letter ("B", " b ") or a 0-based index (1, "1")."""
    text = str(raw).strip()
    if text.upper() in letters:
        return text.upper()
    if text.isdigit() and int(text) < len(letters):
        return letters[int(text)]
    raise DataError(f"{where}: answer {raw!r} is not one of {', '.join(letters)}",
                    hint="the file does not have the expected layout; re-download it")


def assemble(
    cfg: DatasetConfig,
    source: DataSource,
    items: Sequence[MCItem],
    fewshot: Mapping[str, Sequence[MCItem]],
    *,
    origin: str,
    location: str | None,
    expected_sha256: str | None,
) -> Dataset:
    """Hash what was loaded, check it against the pin, and wrap it as a Dataset."""
    pools = {name: tuple(pool) for name, pool in fewshot.items()}
    missing = sorted({item.subtask for item in items} - set(pools))
    if missing:
        raise DataError(f"no few-shot examples for {', '.join(missing[:3])} "
                        f"in {location or cfg.hub}",
                        hint=f"the {cfg.fewshot_split!r} split must sit beside the test split")
    digest = canonical_sha256(items, pools)
    pinned = digest == expected_sha256
    if not pinned and not source.allow_unpinned:
        raise DataError(
            f"{cfg.hub} content from {location or origin} does not match the pinned hash "
            f"(got {digest[:16]}…, expected {(expected_sha256 or 'none')[:16]}…)",
            hint="use the pinned data, or pass --allow-unpinned to run anyway (the record says so)",
        )
    pin = DatasetPin(source=origin, dataset=cfg.hub, revision=cfg.revision, content_sha256=digest,
                     expected_sha256=expected_sha256, pinned=pinned, location=location)
    return Dataset(items=tuple(items), fewshot=pools, pin=pin)


# ---------------------------------------------------------------------------------------------
# Bundled samples: JSONL, one item a line, {"id", "subtask", "question", "choices", "answer"};
# the split is the middle part of the id.


def read_bundled(name: str) -> tuple[list[MCItem], dict[str, list[MCItem]], Path]:
    path = BUNDLED_DIR / name
    if not path.is_file():
        raise DataError(f"bundled data {name!r} is missing from this installation",
                        hint="reinstall rla: pip install --force-reinstall runlocalai-bench")
    items: list[MCItem] = []
    fewshot: dict[str, list[MCItem]] = {}
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            item = MCItem(id=row["id"], subtask=row["subtask"], question=row["question"],
                          choices=tuple(row["choices"]), answer=row["answer"])
            split = item.id.split("/")[1]
            if split == "test":
                items.append(item)
            elif split == "dev":
                fewshot.setdefault(item.subtask, []).append(item)
            else:
                raise DataError(f"{path}:{number}: unknown split {split!r} in id {item.id!r}",
                                hint="reinstall rla: pip install --force-reinstall "
                                     "runlocalai-bench")
    return items, fewshot, path


def write_bundled(path: Path, rows: Iterable[MCItem]) -> None:
    """Write items in the bundled JSONL layout (used by scripts/make_bundled_samples.py)."""
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for item in rows:
            record = {"id": item.id, "subtask": item.subtask, "question": item.question,
                      "choices": list(item.choices), "answer": item.answer}
            fh.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")


def load_bundled(cfg: DatasetConfig, source: DataSource) -> Dataset:
    name = cfg.sample_file
    if not name:
        raise DataError(f"{cfg.hub} has no bundled sample in rla",
                        hint="use the hub (default) or --data-dir")
    items, fewshot, path = read_bundled(name)
    expected = cfg.content_sha256 if cfg.bundled_only else cfg.sample_sha256
    return assemble(cfg, source, items, fewshot, origin="bundled", location=str(path),
                    expected_sha256=expected)


def hub_error(cfg: DatasetConfig, exc: BaseException) -> DataError:
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DataError(
        f"could not load {cfg.hub} at revision {cfg.revision[:12]} from the Hugging Face hub: "
        f"{first_line}",
        hint="download the original files and pass --data-dir, or try --sample for a quick run",
    )


def import_datasets() -> Any:
    try:
        import datasets
    except ImportError as exc:
        raise DataError("loading from the hub needs the `datasets` package",
                        hint="pip install datasets, or pass --data-dir") from exc
    return datasets
