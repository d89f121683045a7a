"""Issue 16's measures for several endpoints in one run and for batching servers.

(a) Several endpoints. Two, then four replica stubs (tests/support/replica_stub.py: processes
    that answer one request at a time after a fixed --delay, since 2 CPU cores cannot show an
    engine's speed-up), and `rla bench mmlu --limit Q` over all of them, one request in flight
    per endpoint (--concurrency). Per endpoint its busy share: the seconds it spent answering ÷
    the run's wall_s (record timings: the request loop; goal ≥ 0.95 each); the run against the
    ideal, Q × delay ÷ endpoints (goal ≤ 1.05×). Then the same with one endpoint dying a third
    of the way through its share (the process exits with a request in flight): every question
    exactly once in samples.jsonl, none an error row, and the run's time beside the ideal for
    the ones left.
(b) A batching server. llama-server --parallel 4 with gemma-3-270m, Q five-shot MMLU questions:
    rla at --concurrency 4 and at 1, and a plain async client (one httpx.AsyncClient, nothing
    built, scored or written) sending the very bodies rla sent (the record's sampling.sent with
    each sample's prompt) at --plain-concurrency each, its best rate being its peak. rla at 4 ÷
    the plain peak: goal ≥ 0.9; rla at 4 ÷ rla at 1: what the slots give on this machine. Rates
    are of the request loop alone (record wall_s; the plain client's gather), so rla's start-up
    is not counted against it.

Each figure is printed and stored with the machine's 1-minute load average when it was taken.

    .venv/bin/python benchmarks/endpoints_scale.py [--questions 400] [--delay 0.1]
        [--endpoints 2 4] [--concurrency 1] [--server-questions 40]
        [--plain-concurrency 2 4 8] [--no-server] [--data-dir DIR]
        [--out benchmarks/results/endpoints_scale.json]

Needs the shared data (../shared/data/mmlu beside the checkout, or --data-dir) and, for (b), a
llama-server build (scripts/setup.sh --server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runlocalai_bench import paths  # noqa: E402
from runlocalai_bench.models import embedded_model_path  # noqa: E402
from runlocalai_bench.results import rundir  # noqa: E402
from tests.support.llama_server import LlamaServer  # noqa: E402
from tests.support.replica_stub import ReplicaStub  # noqa: E402

SHARED_MMLU = ROOT.parent / "shared" / "data" / "mmlu"
GOAL_BUSY_SHARE = 0.95
GOAL_OVER_IDEAL = 1.05
GOAL_PLAIN_RATIO = 0.9
SLOTS = 4


def load() -> float:
    return round(os.getloadavg()[0], 2)


def run_rla(urls: list[str], data_dir: Path, out: Path, *flags: str) -> dict:
    """`rla bench mmlu` over `urls` in a process of its own: its record, samples and walls."""
    args = [sys.executable, "-m", "runlocalai_bench", "bench", "mmlu",
            *(arg for url in urls for arg in ("--endpoint", url)),
            "--data-dir", str(data_dir), "--output-dir", str(out), "--json", *flags]
    env = {**os.environ, "RLA_HOME": str(out / "home"), "NO_COLOR": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get(
               "PYTHONPATH")])])}
    out.mkdir(parents=True)
    at_start = load()
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    process_wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"rla failed ({done.returncode}):\n{done.stderr[-3000:]}")
    (run_path,) = [p for p in out.iterdir() if p.is_dir() and p.name != "home"]
    run = rundir.RunDir(run_path)
    record = json.loads(run.record.read_text())
    return {"record": record, "samples": rundir.read_samples(run.samples),
            "run_log": run.run_log.read_text(errors="replace"),
            "process_wall_s": round(process_wall, 3),
            "wall_s": float(record["timings"]["wall_s"]), "load_average": at_start}


# -- (a) several endpoints -----------------------------------------------------------------


def several_endpoints(n: int, questions: int, delay: float, data_dir: Path, tmp: Path, *,
                      kill: bool, concurrency: int = 1) -> dict:
    share = questions // n
    dying = max(1, share // 3) if kill else None
    stubs = [ReplicaStub(delay=delay, die_after=dying if kill and i == n - 1 else None).start()
             for i in range(n)]
    try:
        ran = run_rla([s.url for s in stubs], data_dir,
                      tmp / f"endpoints-{n}{'-kill' if kill else ''}",
                      "--limit", str(questions), "--concurrency", str(concurrency),
                      "--retries", "1")
        stats = [s.stats() if s.alive else None for s in stubs]
    finally:
        for stub in stubs:
            stub.stop()
    wall = ran["wall_s"]
    answered = [st["completions"] if st else dying for st in stats]
    busy = [round(st["busy_s"] / wall, 4) if st else None for st in stats]
    ids = Counter(s["id"] for s in ran["samples"])
    live = n - 1 if kill else n
    # The ideal: every question's delay spread evenly over the endpoints that could answer it.
    ideal = (questions - (dying or 0)) * delay / live if kill else questions * delay / n
    result = {
        "endpoints": n, "concurrency_per_endpoint": concurrency, "questions": questions,
        "delay_s": delay, "killed": kill,
        "wall_s": round(wall, 3), "process_wall_s": ran["process_wall_s"],
        "ideal_s": round(ideal, 3), "over_ideal": round(wall / ideal, 4),
        "answered_per_endpoint": answered, "busy_share_per_endpoint": busy,
        "samples": sum(ids.values()), "distinct_items": len(ids),
        "items_twice": sum(1 for c in ids.values() if c > 1),
        "error_rows": sum(s["status"] == "error" for s in ran["samples"]),
        "retired_line": any(" retired (" in line for line in ran["run_log"].splitlines()),
        "load_average": ran["load_average"],
    }
    if kill:
        result["nothing_lost"] = (result["samples"] == result["distinct_items"] == questions
                                  and result["error_rows"] == 0)
    else:
        result["min_busy_share"] = min(b for b in busy if b is not None)
    show_endpoints(result)
    return result


def show_endpoints(r: dict) -> None:
    what = f"{r['endpoints']} endpoints" + (", one killed" if r["killed"] else "")
    shares = " ".join(f"{b:.3f}" if b is not None else "dead" for b in r["busy_share_per_endpoint"])
    tail = (f"nothing lost: {r['nothing_lost']} ({r['samples']} samples, {r['items_twice']} twice,"
            f" {r['error_rows']} errors)" if r["killed"]
            else f"busy shares {shares} (goal ≥ {GOAL_BUSY_SHARE})")
    print(f"{what:<26} {r['questions']} q  wall {r['wall_s']:.2f} s  ideal {r['ideal_s']:.2f} s"
          f"  ×{r['over_ideal']:.3f} (goal ≤ {GOAL_OVER_IDEAL})  {tail}  load {r['load_average']}")


# -- (b) a batching server -----------------------------------------------------------------


def bodies_of(ran: dict) -> list[dict]:
    """The request bodies rla sent: its first request's sampling fields with each prompt (the
    MMLU prompts carry nothing the redaction of samples.jsonl would change)."""
    record = ran["record"]
    sent, model = record["sampling"]["sent"], record["model"]["id"]
    return [{"model": model, **sent, "prompt": s["prompt"]} for s in ran["samples"]]


async def plain_client(url: str, bodies: list[dict], concurrency: int) -> float:
    """Seconds for one AsyncClient to send every body, `concurrency` in flight."""
    pending = iter(bodies)
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        async def worker() -> None:
            for body in pending:
                response = await client.post("/v1/completions", json=body)
                response.raise_for_status()
                response.json()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


def batching_server(questions: int, plain_levels: list[int], data_dir: Path, tmp: Path) -> dict:
    log = tmp / "llama-server.log"
    # Each slot gets 8,192 tokens: the longest 5-shot MMLU prompts exceed 2,048.
    server = LlamaServer(embedded_model_path(paths.cache_home(os.environ)), log,
                         n_ctx=8192 * SLOTS, extra=("--parallel", str(SLOTS))).start()
    try:
        rla_runs = {}
        for concurrency in (SLOTS, 1):
            ran = run_rla([server.url], data_dir, tmp / f"llama-c{concurrency}",
                          "--limit", str(questions), "--concurrency", str(concurrency))
            n = len(ran["samples"])
            rla_runs[concurrency] = {
                "concurrency": concurrency, "questions": n, "wall_s": ran["wall_s"],
                "questions_per_s": round(n / ran["wall_s"], 3),
                "slots_recorded": ran["record"]["runtime"]["slots"],
                "error_rows": sum(s["status"] == "error" for s in ran["samples"]),
                "load_average": ran["load_average"]}
            print(f"rla, concurrency {concurrency:<3}       {n} q  "
                  f"{rla_runs[concurrency]['questions_per_s']:.3f} q/s  "
                  f"(slots {rla_runs[concurrency]['slots_recorded']})  load {ran['load_average']}")
            if concurrency == SLOTS:
                bodies = bodies_of(ran)
        plain = []
        for concurrency in plain_levels:
            at_start = load()
            wall = asyncio.run(plain_client(server.url, bodies, concurrency))
            plain.append({"concurrency": concurrency, "requests": len(bodies),
                          "wall_s": round(wall, 3),
                          "requests_per_s": round(len(bodies) / wall, 3),
                          "load_average": at_start})
            print(f"plain client, concurrency {concurrency:<3} {len(bodies)} r  "
                  f"{plain[-1]['requests_per_s']:.3f} r/s  load {at_start}")
    finally:
        server.stop()
    peak = max(plain, key=lambda p: p["requests_per_s"])
    c4, c1 = rla_runs[SLOTS], rla_runs[1]
    result = {
        "server": f"llama-server --parallel {SLOTS}, gemma-3-270m Q4_K_M",
        "rla": list(rla_runs.values()), "plain_async_client": plain,
        "plain_peak_requests_per_s": peak["requests_per_s"],
        "plain_peak_concurrency": peak["concurrency"],
        "rla_c4_over_plain_peak": round(c4["questions_per_s"] / peak["requests_per_s"], 3),
        "rla_c4_over_rla_c1": round(c4["questions_per_s"] / c1["questions_per_s"], 3),
    }
    print(f"rla at {SLOTS} ÷ plain peak {result['rla_c4_over_plain_peak']:.3f} (goal ≥"
          f" {GOAL_PLAIN_RATIO});  rla at {SLOTS} ÷ rla at 1 {result['rla_c4_over_rla_c1']:.3f}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=SHARED_MMLU)
    parser.add_argument("--questions", type=int, default=400,
                        help="MMLU questions for the replica stubs")
    parser.add_argument("--delay", type=float, default=0.1,
                        help="seconds each stub takes per request")
    parser.add_argument("--endpoints", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--concurrency", type=int, default=1,
                        help="requests in flight per endpoint in (a); a stub answers one at a"
                        " time, so above 1 they queue at it")
    parser.add_argument("--server-questions", type=int, default=40,
                        help="MMLU questions for llama-server (about 3 s each on 2 CPU cores)")
    parser.add_argument("--plain-concurrency", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--no-server", action="store_true", help="skip (b), llama-server")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "endpoints_scale.json")
    args = parser.parse_args()

    result: dict = {
        "benchmark": "rla bench over several endpoints, and against a batching server",
        "machine": platform.machine(), "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "date": time.strftime("%Y-%m-%d"),
        "goals": {"busy_share_each": GOAL_BUSY_SHARE, "over_ideal": GOAL_OVER_IDEAL,
                  "rla_c4_over_plain_peak": GOAL_PLAIN_RATIO},
    }
    with tempfile.TemporaryDirectory(prefix="rla-endpoints-bench-") as name:
        tmp = Path(name)
        result["several_endpoints"] = [
            several_endpoints(n, args.questions, args.delay, args.data_dir, tmp, kill=kill,
                              concurrency=args.concurrency)
            for n in args.endpoints for kill in (False, True)]
        if not args.no_server:
            result["batching_server"] = batching_server(args.server_questions,
                                                        args.plain_concurrency, args.data_dir,
                                                        tmp)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
