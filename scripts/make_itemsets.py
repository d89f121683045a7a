"""Write runlocalai_bench/datasets/itemsets.json: the item set (count, items per subtask, sha256
of the sorted ids) of every publishable benchmark's full pinned data, keyed by the content hash
the spec pins (runlocalai_bench/datasets/coverage.py), selfcheck's bundled set included.

    python scripts/make_itemsets.py DATA   # DATA holds mmlu/, turkishmmlu/ and humanevalplus/

Deterministic: rerunning on the pinned data rewrites the same file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from runlocalai_bench import specs
from runlocalai_bench.datasets.coverage import ITEMSETS, Sampled, item_set, spec_pins
from runlocalai_bench.evals import load_eval, task_slugs
from runlocalai_bench.types import DataSource

FOLDERS = {"mmlu": "mmlu", "turkishmmlu": "turkishmmlu", "humanevalplus": "humanevalplus"}


def main(data: Path) -> None:
    out = {}
    for slug in task_slugs():
        spec = specs.load_spec("tasks", slug)
        table = spec["dataset"]
        # selfcheck's data is the file bundled with rla: every source reads it
        folder = data / FOLDERS.get(table["loader"], table["loader"])
        dataset = load_eval(slug).load(DataSource(kind="dir", path=str(folder)))
        found = item_set(dataset.pin.dataset,
                         [Sampled(item.id, item.subtask) for item in dataset.items])
        for sha in spec_pins(spec):
            out[sha] = found.to_json()
        print(f"{slug}: {found.n} items, {len(found.subtasks)} subtasks")
    ITEMSETS.write_text(json.dumps(dict(sorted(out.items())), indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
