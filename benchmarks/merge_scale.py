"""Issue 16's measure "sharded vs unsharded": full MMLU (14,042 questions) once unsharded and once
in N shards (`rla bench mmlu --shard i/N`), each against the same instant local stub
llama-server whose answer is a function of the prompt (a deterministic backend over real HTTP),
then `rla merge` of the shards. Checks that the merged samples are the unsharded run's sample for
sample (id, prompt, response, answer, score) and its results.json the same, and measures the
merge, one child process: wall time and peak RSS (goals: under 10 s, ≤ 300 MB).

    .venv/bin/python benchmarks/merge_scale.py [--data-dir ../shared/data] [--shards 4]

Prints the load average beside each figure and writes benchmarks/results/merge_scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measure import measure, rla_argv  # noqa: E402
from runlocalai_bench.results import rundir  # noqa: E402
from tests.support.llama_stub import StubLlamaServer  # noqa: E402

GOAL_WALL_S, GOAL_RSS_MB = 10.0, 300
ANSWER = ("id", "subtask", "prompt", "response", "target", "extracted", "score", "status")
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def policy(prompt: str) -> str:
    return "ABCD"[len(prompt) % 4]


def bench(url: str, data: Path, out: Path, *extra: str) -> tuple[rundir.RunDir, float]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "runlocalai_bench", "bench", "mmlu", "--endpoint", url,
         "--model", "stub", "--data-dir", str(data), "--concurrency", "1", "--output-dir",
         str(out), *extra], capture_output=True, text=True, check=False, env=ENV)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"rla bench mmlu {' '.join(extra)} failed:\n{proc.stderr[-2000:]}")
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return rundir.RunDir(run), wall


def merge(shards: list[rundir.RunDir], out: Path) -> dict[str, Any]:
    load = os.getloadavg()
    ran = measure(rla_argv("merge", *(str(s.path) for s in shards), "-o", str(out), "--json"),
                  out.with_suffix(".log"), ENV)
    wall, rss_mb = ran.wall_s, ran.peak_rss_mb
    return {"exit_code": ran.exit_code, "wall_s": round(wall, 2),
            "peak_rss_mb": round(rss_mb, 1), "load_average_before": load,
            "load_average_after": os.getloadavg(),
            "within_goals": wall < GOAL_WALL_S and rss_mb <= GOAL_RSS_MB,
            "output_tail": ran.tail(1500)}


def answers(run: rundir.RunDir) -> dict[str, tuple[Any, ...]]:
    return {s["id"]: tuple(s.get(k) for k in ANSWER) for s in rundir.iter_samples(run.samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--shards", type=int, default=4)
    args = parser.parse_args()
    data: Path = (args.data_dir / "mmlu").resolve()
    figures: dict[str, Any] = {"shards": args.shards, "load_average_before": os.getloadavg()}
    server = StubLlamaServer(policy=policy).start()
    try:
        with tempfile.TemporaryDirectory(prefix="rla-merge-scale-") as scratch:
            base = Path(scratch)
            whole, wall = bench(server.url, data, base / "whole")
            figures["unsharded_bench_wall_s"] = round(wall, 1)
            print(f"unsharded: {wall:.1f} s; load average {os.getloadavg()}")
            shards = []
            for i in range(args.shards):
                shard, wall = bench(server.url, data, base / f"s{i}", "--shard",
                                    f"{i}/{args.shards}")
                shards.append(shard)
                figures[f"shard_{i}_bench_wall_s"] = round(wall, 1)
                figures[f"shard_{i}_n"] = sum(1 for _ in rundir.iter_samples(shard.samples))
                print(f"shard {i}/{args.shards}: {figures[f'shard_{i}_n']} questions,"
                      f" {wall:.1f} s; load average {os.getloadavg()}")
            merged = rundir.RunDir(base / "merged")
            figures["merge"] = m = merge(shards, merged.path)
            print(f"rla merge: exit {m['exit_code']}, {m['wall_s']} s, peak RSS"
                  f" {m['peak_rss_mb']} MB (goals < {GOAL_WALL_S:.0f} s, ≤ {GOAL_RSS_MB} MB);"
                  f" load average {m['load_average_before']} → {m['load_average_after']}")
            if m["exit_code"] == 0:
                same = answers(merged) == answers(whole)
                results = (json.loads(merged.results.read_text())
                           == json.loads(whole.results.read_text()))
                figures["identical_samples"], figures["identical_results"] = same, results
                figures["n"] = len(answers(merged))
                print(f"merged vs unsharded: {figures['n']} samples, identical samples {same},"
                      f" identical results {results}")
    finally:
        server.stop()
    figures["load_average_after"] = os.getloadavg()
    out = ROOT / "benchmarks" / "results" / "merge_scale.json"
    out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
