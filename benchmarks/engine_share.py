"""Issue 2's measure: how much of a run's wall time is spent inside the engine, and the
harness's peak RSS, against a real llama-server with gemma-3-270m at concurrency 1.

    .venv/bin/python benchmarks/engine_share.py [--slug mmlu] [--limit 100] [--rounds 3]
                                                [--data-dir DIR]

engine share = Σ (prompt_ms + predicted_ms) from llama-server's `timings` ÷ the run's wall time
(goal ≥ 0.99). For comparison, a plain sequential httpx client sends the very same prompts with
the same request body and its share is computed the same way (issue 18: rla's within 0.3% of
it). Beside each share, the time outside the engine per request, and rla's start-up and close
(the process's wall time outside the record's wall_s: imports, probe, rig, data load, record)
apart, so a short run's start-up does not stand in for per-request overhead. Before either
client is measured, a plain pass over the same prompts (taken from rla against the instant
stub) warms the server, whose first pass is slower outside its timings; the default is
100 MMLU questions (5-shot, about 3 s each on 2 CPU cores), and fewer than MIN_REQUESTS is
flagged. The two clients alternate, --rounds times (rla first in odd rounds, the plain client
first in even ones), each figure printed with the machine's load: one round's difference is
within the round-to-round spread (±2-3 ms a request on 2 cores, where the client competes with
the server's own threads), so the goal is judged on the mean over the rounds. Beside rla's
share, where its time outside the engine goes, from its own samples: inside the HTTP exchange
(latency − the server's timings) and the rest (between one answer and the next request, and the
run's own start and end inside wall_s). Peak RSS of the `rla` process is read from the kernel
(getrusage of the finished child). Writes benchmarks/results/engine_share.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runlocalai_bench import paths  # noqa: E402
from runlocalai_bench.models import embedded_model_path  # noqa: E402
from runlocalai_bench.results import rundir  # noqa: E402
from tests.support.llama_server import LlamaServer  # noqa: E402
from tests.support.llama_stub import StubLlamaServer  # noqa: E402

SHARED_DATA = ROOT.parent / "shared" / "data"
MIN_REQUESTS = 100  # fewer, and a request's overhead is hard to tell from start-up


def engine_ms(timings: dict | None) -> float:
    t = timings or {}
    return float(t.get("prompt_ms", 0.0)) + float(t.get("predicted_ms", 0.0))


def run_rla(url: str, slug: str, limit: int | None, data_dir: Path | None, out: Path,
            *flags: str) -> dict:
    args = [sys.executable, "-m", "runlocalai_bench", "bench", slug, "--endpoint", url,
            "--concurrency", "1", "--output-dir", str(out), "--json", *flags]
    if limit:
        args += ["--limit", str(limit)]
    if data_dir is not None:
        args += ["--data-dir", str(data_dir)]
    env = {**os.environ, "RLA_HOME": str(out / "home")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    process_wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    (run_path,) = [p for p in out.iterdir() if p.is_dir() and p.name != "home"]
    run = rundir.RunDir(run_path)
    record = json.loads(run.record.read_text())
    samples = rundir.read_samples(run.samples)
    engine_s = sum(engine_ms(s.get("server_timings")) for s in samples) / 1000.0
    wall = float(record["timings"]["wall_s"])
    inside = [float(s["latency_ms"]) - engine_ms(s.get("server_timings")) for s in samples]
    return {
        "samples": len(samples),
        "wall_s": wall,
        "engine_s": round(engine_s, 3),
        "engine_share": round(engine_s / wall, 4),
        "outside_engine_ms_per_request": round(1000 * (wall - engine_s) / len(samples), 2),
        "in_exchange_ms_per_request": round(statistics.mean(inside), 2),
        "in_exchange_median_ms": round(statistics.median(inside), 2),
        "startup_and_close_s": round(process_wall - wall, 3),
        "peak_rss_mb": round(max(peak_kb, before) / 1024.0, 1),
        "prompts": [s["prompt"] for s in samples],
        "sent": record["sampling"]["sent"],
    }


def run_plain(url: str, prompts: list[str], sent: dict) -> dict:
    body = {k: v for k, v in sent.items() if k != "stream"}
    started = time.perf_counter()
    engine = 0.0
    with httpx.Client(base_url=url, timeout=600) as client:
        for prompt in prompts:
            reply = client.post("/v1/completions", json={**body, "model": "m", "prompt": prompt})
            reply.raise_for_status()
            engine += engine_ms(reply.json().get("timings")) / 1000.0
    wall = time.perf_counter() - started
    return {"samples": len(prompts), "wall_s": round(wall, 3), "engine_s": round(engine, 3),
            "engine_share": round(engine / wall, 4),
            "outside_engine_ms_per_request": round(1000 * (wall - engine) / len(prompts), 2)}


def warm_up_prompts(slug: str, limit: int | None, data_dir: Path | None,
                    out: Path) -> tuple[list[str], dict]:
    """The prompts and request body of the run, from rla against the instant stub: a plain
    pass over them warms the server before either client is measured. A fresh llama-server
    answers its first pass over a set of prompts a few ms later outside its timings than a
    second one (12.0 vs 7.4 ms a request on selfcheck, 2 cores), which fell on rla alone when
    it went first."""
    stub = StubLlamaServer(policy=lambda p: "A").start()
    try:
        ours = run_rla(stub.url, slug, limit, data_dir, out, "--model", "stub")
    finally:
        stub.stop()
    return ours["prompts"], ours["sent"]


def show_round(r: dict) -> None:
    ours, plain = r["rla"], r["plain_sequential_client"]
    print(f"round {r['round']} ({r['first']} first), load {r['load_average']}:")
    print(f"  rla:   {ours['samples']} samples, wall {ours['wall_s']:.2f}s, engine "
          f"{ours['engine_s']:.2f}s, share {ours['engine_share']:.4f}, "
          f"{ours['outside_engine_ms_per_request']} ms/request outside the engine "
          f"({ours['in_exchange_ms_per_request']} inside the HTTP exchange, median "
          f"{ours['in_exchange_median_ms']}), start-up and close {ours['startup_and_close_s']:.2f}s"
          f" apart, peak RSS {ours['peak_rss_mb']} MB")
    print(f"  plain: {plain['samples']} samples, wall {plain['wall_s']:.2f}s, engine "
          f"{plain['engine_s']:.2f}s, share {plain['engine_share']:.4f}, "
          f"{plain['outside_engine_ms_per_request']} ms/request outside the engine")
    print(f"  share difference {r['share_difference']:.4f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slug", default="mmlu")
    parser.add_argument("--limit", type=int, default=MIN_REQUESTS)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rla and the plain client, alternating, this many times each")
    parser.add_argument("--data-dir", type=Path, default=SHARED_DATA,
                        help="the benchmark's data (not passed for selfcheck, which is bundled)")
    args = parser.parse_args()
    data_dir = None if args.slug == "selfcheck" else args.data_dir
    model = embedded_model_path(paths.cache_home(os.environ))
    rounds: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="rla-bench-") as tmp:
        # 5-shot MMLU prompts reach ~2,700 tokens (high_school_european_history): a context that
        # holds every one, so no request is refused for its length.
        prompts, sent = warm_up_prompts(args.slug, args.limit, data_dir, Path(tmp) / "stub")
        server = LlamaServer(model, Path(tmp) / "server.log", n_ctx=8192).start()
        try:
            run_plain(server.url, prompts, sent)  # discarded: the server's first pass is slower
            for number in range(1, args.rounds + 1):
                out = Path(tmp) / f"out-{number}"
                if number % 2 == 0:
                    plain = run_plain(server.url, prompts, sent)
                ours = run_rla(server.url, args.slug, args.limit, data_dir, out)
                ours.pop("prompts"), ours.pop("sent")
                if number % 2 == 1:
                    plain = run_plain(server.url, prompts, sent)
                load = round(os.getloadavg()[0], 2)
                rounds.append({"round": number, "first": "plain" if number % 2 == 0 else "rla",
                               "rla": ours, "plain_sequential_client": plain,
                               "share_difference": round(plain["engine_share"]
                                                         - ours["engine_share"], 4),
                               "load_average": load})
                show_round(rounds[-1])
        finally:
            server.stop()
    mean = {who: round(statistics.mean(r[who]["engine_share"] for r in rounds), 4)
            for who in ("rla", "plain_sequential_client")}
    difference = round(mean["plain_sequential_client"] - mean["rla"], 4)
    result = {
        "benchmark": "engine share of wall time, concurrency 1",
        "slug": args.slug, "model": model.name, "machine": platform.machine(),
        "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
        "requests_per_round": rounds[0]["rla"]["samples"], "rounds": rounds,
        "mean_engine_share": mean, "mean_share_difference": difference,
        "goal_engine_share": 0.99, "goal_share_difference": 0.003,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    print(f"mean over {len(rounds)} rounds: rla {mean['rla']:.4f}, plain "
          f"{mean['plain_sequential_client']:.4f}, difference {difference:.4f} (goal ≤ 0.003)")
    if rounds[0]["rla"]["samples"] < MIN_REQUESTS:
        print(f"note: {rounds[0]['rla']['samples']} requests a round, under the {MIN_REQUESTS}"
              " the goal is measured over")
    out = ROOT / "benchmarks" / "results" / "engine_share.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
