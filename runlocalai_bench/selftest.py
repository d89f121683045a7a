"""Run each benchmark through the real pipeline on its bundled sample with the oracle backend."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runlocalai_bench.backends.oracle import OracleBackend
from runlocalai_bench.config import RunConfig
from runlocalai_bench.errors import RlaError
from runlocalai_bench.evals import load_eval, task_slugs
from runlocalai_bench.pipeline import run_benchmark, select_items
from runlocalai_bench.results.capture import RunLog
from runlocalai_bench.types import DataSource, Results, SampleResult


@dataclass(frozen=True)
class SelftestResult:
    slug: str
    n: int
    score: float
    expected: float
    seconds: float
    ok: bool
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _QuietUI:
    def begin(self, log: RunLog, header: Sequence[str], total: int, done: int) -> None:
        for line in header:
            log.note(line)

    def advance(self, result: SampleResult) -> None:
        return None

    def end(self, results: Results | None, flags: Sequence[str] = ()) -> None:
        return None


def run_selftest(slugs: Sequence[str] | None, *, limit: int, output_dir: Path,
                 cache_dir: Path) -> list[SelftestResult]:
    from runlocalai_bench.rig import detect_rig

    rig = detect_rig()
    out = []
    for slug in slugs or task_slugs():
        started = time.perf_counter()
        config = RunConfig(slug=slug, endpoint="oracle://", data=DataSource(kind="bundled"),
                           limit=limit, output_dir=output_dir / "runs",
                           index_path=output_dir / "runs.sqlite", cache_dir=cache_dir)

        def oracle(cfg: RunConfig) -> OracleBackend:
            eval_ = load_eval(cfg.slug, cache_dir=cfg.cache_dir)
            dataset = eval_.load(cfg.data)
            style = cfg.prompt_style or eval_.spec.default_style
            items = select_items(dataset.items, cfg.limit, cfg.limit_per_subtask)
            return OracleBackend(eval_, [(i, eval_.build_prompt(i, dataset, style))
                                         for i in items])

        try:
            outcome = run_benchmark(config, _QuietUI(), open_backend=oracle,
                                    detect_rig=lambda: rig)
        except RlaError as exc:
            out.append(SelftestResult(slug, 0, 0.0, 1.0, time.perf_counter() - started, False,
                                      str(exc)))
            continue
        r = outcome.results
        ok = r.n > 0 and r.n == r.expected_n and abs(r.score - 1.0) < 1e-12
        reason = "" if ok else f"score {r.score:.4f} on {r.n}/{r.expected_n} samples"
        out.append(SelftestResult(slug, r.n, r.score, 1.0, time.perf_counter() - started, ok,
                                  reason))
    return out
