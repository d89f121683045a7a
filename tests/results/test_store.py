from __future__ import annotations

import pytest

from runlocalai_bench.errors import ConfigError
from runlocalai_bench.results.store import RunIndex, RunRow


def _row(i: str, slug: str = "mmlu", status: str = "running", t: str = "2026-01-01") -> RunRow:
    return RunRow(id=i, slug=slug, path=f"/runs/{i}", status=status, fingerprint="f",
                  started_at=t)


def test_index_roundtrip_and_lookup(tmp_path):
    index = RunIndex(tmp_path / "runs.sqlite")
    index.upsert(_row("20260101-mmlu-aaaaaa", t="2026-01-01"))
    index.upsert(_row("20260102-mmlu-bbbbbb", t="2026-01-02"))
    index.upsert(_row("20260103-he-cccccc", slug="humaneval-plus", t="2026-01-03"))
    index.update("20260101-mmlu-aaaaaa", status="complete", score=0.5, n=10, partial=True)
    assert [r.id for r in index.list()] == ["20260103-he-cccccc", "20260102-mmlu-bbbbbb",
                                            "20260101-mmlu-aaaaaa"]
    done = index.get("20260101")
    assert done.status == "complete" and done.score == 0.5 and done.partial is True
    assert index.latest_unfinished("mmlu").id == "20260102-mmlu-bbbbbb"
    with pytest.raises(ConfigError, match="matches 3 runs"):
        index.get("2026")
    with pytest.raises(ConfigError, match="no run"):
        index.get("nope")
